//! What a scaffold is named after: the provider id, checked, and every name derived
//! from it (crate, Rust type, display name), and the auth mode asked for.

use std::path::Path;

use anyhow::{Result, bail};
use junction_core::ProviderId;

/// The auth modes a scaffold can start from (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    ApiKey,
    OAuth2,
    Basic,
    ClientCredentials,
}

impl Auth {
    pub const ALL: [Self; 4] = [
        Self::ApiKey,
        Self::OAuth2,
        Self::Basic,
        Self::ClientCredentials,
    ];

    /// The `--auth` value.
    pub fn flag(self) -> &'static str {
        match self {
            Self::ApiKey => "api-key",
            Self::OAuth2 => "oauth2",
            Self::Basic => "basic",
            Self::ClientCredentials => "client-credentials",
        }
    }

    pub fn parse(value: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|auth| auth.flag() == value)
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "`--auth {value}` is not a mode: use api-key, oauth2, basic or \
                     client-credentials"
                )
            })
    }
}

/// Ids a provider may not take: the sandbox serves its own routes there, and a fake
/// mounted at `/{id}/` would hide them.
const RESERVED: [&str; 2] = ["oauth", "healthz"];

/// A provider's names, as the templates use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    /// The provider id and crate folder: `acme-crm`.
    pub id: String,
    /// The package: `junction-acme-crm`.
    pub package: String,
    /// The id in snake case: `acme_crm`.
    pub snake: String,
    /// The crate as Rust names it: `junction_acme_crm`.
    pub krate: String,
    /// The adapter's type: `AcmeCrm` (its fake is `AcmeCrmFake`).
    pub ty: String,
    /// The display name a scaffold starts with: `Acme Crm`.
    pub title: String,
    /// The id in upper snake case, for the OAuth client's settings:
    /// `JUNCTION_PROVIDERS__ACME_CRM__CLIENT_ID`.
    pub env: String,
    pub auth: Auth,
}

impl Names {
    /// The names of `id`, once it is a provider id and not reserved.
    pub fn new(id: &str, auth: Auth) -> Result<Self> {
        if ProviderId::parse(id).is_err() {
            bail!(
                "`{id}` is not a provider id: 2 to 64 lowercase letters, digits and single \
                 dashes, starting with a letter (e.g. `acme-crm`)"
            );
        }
        if RESERVED.contains(&id) {
            bail!("`{id}` is reserved: the sandbox serves its own /{id}/ routes");
        }
        let words: Vec<String> = id
            .split('-')
            .map(|word| {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                    .unwrap_or_default()
            })
            .collect();
        let snake = id.replace('-', "_");
        Ok(Self {
            id: id.to_owned(),
            package: format!("junction-{id}"),
            krate: format!("junction_{snake}"),
            ty: words.concat(),
            title: words.join(" "),
            env: snake.to_ascii_uppercase(),
            snake,
            auth,
        })
    }

    // What the templates ask about the auth mode.

    pub fn api_key(&self) -> bool {
        self.auth == Auth::ApiKey
    }

    pub fn oauth2(&self) -> bool {
        self.auth == Auth::OAuth2
    }

    pub fn basic(&self) -> bool {
        self.auth == Auth::Basic
    }

    pub fn client_credentials(&self) -> bool {
        self.auth == Auth::ClientCredentials
    }

    /// Whether connections hold an access token (OAuth 2.0, client credentials)
    /// rather than typed-in credentials.
    pub fn token(&self) -> bool {
        self.oauth2() || self.client_credentials()
    }

    /// The crate's folder below the workspace root.
    pub fn dir(&self) -> String {
        format!("crates/providers/{}", self.id)
    }

    /// Fails when the workspace at `root` already has a provider of this id: its
    /// folder, its registry feature, or an entry that names it (an OAuth entry such
    /// as `kit-oauth` lives in another provider's crate).
    pub fn check_free(&self, root: &Path) -> Result<()> {
        let dir = self.dir();
        if root.join(&dir).exists() {
            bail!("`{}` exists: {dir} is already there", self.id);
        }
        let features = std::fs::read_to_string(root.join("crates/registry/Cargo.toml"))?;
        if features
            .lines()
            .any(|line| line.trim_start().starts_with(&format!("{} = [", self.id)))
        {
            bail!(
                "`{}` exists: crates/registry/Cargo.toml has a feature of that name",
                self.id
            );
        }
        let declared = format!("ID: &str = \"{}\";", self.id);
        for entry in std::fs::read_dir(root.join("crates/providers"))? {
            let src = entry?.path().join("src");
            if let Some(file) = rust_files(&src)?.into_iter().find(|file| {
                std::fs::read_to_string(file).is_ok_and(|text| text.contains(&declared))
            }) {
                bail!(
                    "`{}` exists: {} declares a provider entry of that id",
                    self.id,
                    file.strip_prefix(root).unwrap_or(&file).display()
                );
            }
        }
        Ok(())
    }
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut found = Vec::new();
    if !dir.is_dir() {
        return Ok(found);
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(rust_files(&path)?);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            found.push(path);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_derive_from_the_id() {
        let names = Names::new("acme-crm2", Auth::OAuth2).unwrap();
        assert_eq!(names.package, "junction-acme-crm2");
        assert_eq!(names.snake, "acme_crm2");
        assert_eq!(names.krate, "junction_acme_crm2");
        assert_eq!(names.ty, "AcmeCrm2");
        assert_eq!(names.title, "Acme Crm2");
        assert_eq!(names.env, "ACME_CRM2");
        assert_eq!(names.dir(), "crates/providers/acme-crm2");
    }

    #[test]
    fn ids_are_checked_with_a_one_line_error() {
        for bad in [
            "Acme",
            "acme_crm",
            "acme--crm",
            "-acme",
            "acme-",
            "a",
            "9acme",
            "oauth",
        ] {
            let error = Names::new(bad, Auth::ApiKey).unwrap_err().to_string();
            assert!(!error.contains('\n'), "{error}");
            assert!(error.starts_with(&format!("`{bad}`")), "{error}");
        }
        assert_eq!(Auth::parse("oauth2").unwrap(), Auth::OAuth2);
        assert!(Auth::parse("oauth").is_err());
    }

    #[test]
    fn taken_ids_are_refused() {
        let root = crate::workspace_root();
        for taken in ["stripe", "kit-oauth", "meta-ads"] {
            let error = Names::new(taken, Auth::ApiKey)
                .unwrap()
                .check_free(&root)
                .unwrap_err()
                .to_string();
            assert!(error.starts_with(&format!("`{taken}` exists")), "{error}");
        }
        let free = Names::new("surely-not-a-provider-yet", Auth::ApiKey).unwrap();
        assert!(free.check_free(&root).is_ok());
    }
}
