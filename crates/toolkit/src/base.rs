//! Where a provider's API lives: a root URL with `{name}` placeholders for regional
//! or per-account hosts, and the path prefix requests go under.
//!
//! The root is what the authenticated proxy targets (clients name the version
//! themselves); requests of the adapter go under `prefix` (`v25.0`, `3.0`). Whatever
//! the description says, `ctx.base_url` replaces the root when set (the sandbox,
//! tests), exactly as [`junction_core::Context::url`] does.

use junction_core::{AdapterError, Connection};
use secrecy::ExposeSecret;

/// A provider's API root.
#[derive(Debug, Clone, Copy)]
pub struct BaseUrl {
    /// The root, e.g. `https://graph.facebook.com` or `https://{dc}.api.mailchimp.com`.
    pub root: &'static str,
    /// What the adapter's request paths go under (no slashes at either end), e.g.
    /// `v25.0`; empty for none.
    pub prefix: &'static str,
    /// How each placeholder of `root` is filled.
    pub vars: &'static [Var],
}

/// One `{name}` placeholder of a [`BaseUrl`] root.
#[derive(Debug, Clone, Copy)]
pub struct Var {
    pub name: &'static str,
    pub source: VarSource,
}

/// Where a placeholder's value comes from. Values derived from a connection or given
/// in code must be DNS-label text (ASCII letters, digits, `-`): they become part of a
/// host name, and nothing a user types may move the host elsewhere.
#[derive(Debug, Clone, Copy)]
pub enum VarSource {
    /// A region picked by the enum config field `field`: each choice maps to the text
    /// put in the URL (`("eu", "api.eu.sendgrid.com")`); `default` when unset.
    Region {
        field: &'static str,
        choices: &'static [(&'static str, &'static str)],
        default: &'static str,
    },
    /// Derived from a credential or config field by `derive` (Mailchimp's data
    /// center: the key's suffix after its last `-`); `None` from `derive` is an
    /// invalid `field` with `message`.
    Derived {
        field: &'static str,
        derive: fn(&str) -> Option<String>,
        message: &'static str,
    },
    /// Given in code by the adapter ([`crate::Client::build`]), e.g. a data center
    /// looked up from an OAuth metadata endpoint.
    Given,
}

impl BaseUrl {
    /// A root without placeholders or prefix.
    pub const fn fixed(root: &'static str) -> Self {
        Self {
            root,
            prefix: "",
            vars: &[],
        }
    }

    /// The same root with request paths under `prefix`.
    pub const fn with_prefix(self, prefix: &'static str) -> Self {
        Self { prefix, ..self }
    }

    /// The same root with placeholders.
    pub const fn with_vars(self, vars: &'static [Var]) -> Self {
        Self { vars, ..self }
    }

    /// The root for `conn`, placeholders filled: from `given` first, else from the
    /// connection as each [`Var`] says.
    pub fn resolve(
        &self,
        conn: &Connection,
        given: &[(&str, String)],
    ) -> Result<String, AdapterError> {
        let mut root = self.root.to_owned();
        for var in self.vars {
            // Region texts are the provider's own data; anything else is checked.
            let value = match given.iter().find(|(name, _)| *name == var.name) {
                Some((_, value)) if is_host_label(value) => value.clone(),
                Some(_) => {
                    return Err(AdapterError::invalid(format!(
                        "the `{}` part of the API host is not a host name label",
                        var.name
                    )));
                }
                None => var.source.value(var.name, conn)?,
            };
            root = root.replace(&format!("{{{}}}", var.name), &value);
        }
        Ok(root)
    }

    /// `path` under the prefix.
    pub fn path(&self, path: &str) -> String {
        let path = path.trim_start_matches('/');
        if self.prefix.is_empty() {
            path.to_owned()
        } else {
            format!("{}/{path}", self.prefix)
        }
    }

    /// A problem with the description, for [`crate::HttpApi::validate`].
    pub fn problem(&self) -> Option<String> {
        let missing = self
            .vars
            .iter()
            .find(|var| !self.root.contains(&format!("{{{}}}", var.name)));
        if let Some(var) = missing {
            return Some(format!("the root has no {{{}}} placeholder", var.name));
        }
        let mut rest = self.root;
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else {
                return Some("the root has an unclosed `{`".into());
            };
            let name = &rest[start + 1..start + len];
            if !self.vars.iter().any(|var| var.name == name) {
                return Some(format!("nothing fills {{{name}}}"));
            }
            rest = &rest[start + len..];
        }
        let sample = self.vars.iter().fold(self.root.to_owned(), |root, var| {
            root.replace(&format!("{{{}}}", var.name), "x")
        });
        url::Url::parse(&sample)
            .err()
            .map(|_| format!("`{}` is not an absolute URL", self.root))
    }
}

impl VarSource {
    fn value(&self, name: &str, conn: &Connection) -> Result<String, AdapterError> {
        match self {
            Self::Region {
                field,
                choices,
                default,
            } => {
                let picked = conn
                    .config
                    .get(*field)
                    .and_then(|v| v.as_str())
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .unwrap_or(default);
                choices
                    .iter()
                    .find(|(choice, _)| *choice == picked)
                    .map(|(_, text)| (*text).to_owned())
                    .ok_or_else(|| {
                        let names: Vec<&str> = choices.iter().map(|(c, _)| *c).collect();
                        AdapterError::invalid_field(
                            *field,
                            format!("must be one of: {}", names.join(", ")),
                        )
                    })
            }
            Self::Derived {
                field,
                derive,
                message,
            } => {
                let text = match conn.secrets.get(*field) {
                    Some(secret) => derive(secret.expose_secret().trim()),
                    None => derive(conn.config_str(field)?.trim()),
                };
                text.filter(|value| is_host_label(value))
                    .ok_or_else(|| AdapterError::invalid_field(*field, *message))
            }
            Self::Given => Err(AdapterError::invalid(format!(
                "the adapter gave no value for the `{name}` part of the API host"
            ))),
        }
    }
}

/// Whether `text` is one DNS label: 1 to 63 ASCII letters, digits or `-`.
fn is_host_label(text: &str) -> bool {
    (1..=63).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::connection;
    use serde_json::json;

    fn suffix(key: &str) -> Option<String> {
        key.rsplit_once('-').map(|(_, dc)| dc.to_owned())
    }

    const MAILCHIMP: BaseUrl = BaseUrl::fixed("https://{dc}.api.mailchimp.com")
        .with_prefix("3.0")
        .with_vars(&[Var {
            name: "dc",
            source: VarSource::Derived {
                field: "api_key",
                derive: suffix,
                message: "must end in the data center",
            },
        }]);

    const SENDGRID: BaseUrl = BaseUrl::fixed("https://{host}").with_vars(&[Var {
        name: "host",
        source: VarSource::Region {
            field: "region",
            choices: &[
                ("global", "api.sendgrid.com"),
                ("eu", "api.eu.sendgrid.com"),
            ],
            default: "global",
        },
    }]);

    #[test]
    fn derived_hosts_come_from_the_credential() {
        let conn = connection(&[("api_key", "abc-us21")]);
        assert_eq!(
            MAILCHIMP.resolve(&conn, &[]).unwrap(),
            "https://us21.api.mailchimp.com"
        );
        assert_eq!(MAILCHIMP.path("/lists"), "3.0/lists");
        assert_eq!(
            MAILCHIMP
                .resolve(&connection(&[]), &[("dc", "us3".into())])
                .unwrap(),
            "https://us3.api.mailchimp.com"
        );
        for bad in ["abc-us21.evil.example", "abc", "abc-"] {
            let err = MAILCHIMP
                .resolve(&connection(&[("api_key", bad)]), &[])
                .unwrap_err();
            assert_eq!(
                err,
                AdapterError::invalid_field("api_key", "must end in the data center")
            );
        }
        assert!(
            MAILCHIMP
                .resolve(&connection(&[]), &[("dc", "a.b".into())])
                .is_err()
        );
    }

    #[test]
    fn regions_pick_a_host() {
        let mut conn = connection(&[]);
        assert_eq!(
            SENDGRID.resolve(&conn, &[]).unwrap(),
            "https://api.sendgrid.com"
        );
        conn.config.insert("region".into(), json!("eu"));
        assert_eq!(
            SENDGRID.resolve(&conn, &[]).unwrap(),
            "https://api.eu.sendgrid.com"
        );
        conn.config.insert("region".into(), json!("mars"));
        assert!(matches!(
            SENDGRID.resolve(&conn, &[]),
            Err(AdapterError::Invalid { field: Some(f), .. }) if f == "region"
        ));
    }

    #[test]
    fn descriptions_are_checked() {
        assert_eq!(MAILCHIMP.problem(), None);
        assert_eq!(SENDGRID.problem(), None);
        assert!(BaseUrl::fixed("https://{dc}.x.test").problem().is_some());
        assert!(BaseUrl::fixed("not a url").problem().is_some());
        assert_eq!(BaseUrl::fixed("https://x.test").path("a/b"), "a/b");
    }
}
