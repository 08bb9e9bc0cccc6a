-- Every application connection switches to junction_app (SET ROLE), which a role
-- that is not a superuser may do only as its member. The foundation migration made
-- the role without granting it to the schema owner (a superuser needs no
-- membership), so an owner set up as docs/operations.md asks — a plain login role
-- with CREATEROLE — could migrate but not serve. junction_system was granted by the
-- tenancy migration.
GRANT junction_app TO CURRENT_USER;
