//! Rebuilds the crate when a migration is added: `embed_migrations!` includes the
//! files that existed at the last build, and cargo would not notice a new directory.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
