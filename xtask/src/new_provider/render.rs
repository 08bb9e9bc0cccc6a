//! The scaffold's files, rendered from the askama templates under
//! `xtask/templates/provider/` (compiled into xtask, so a template that does not
//! parse fails the build, not a run). A template sees the provider's [`Names`] as
//! `p`: `{{ p.ty }}`, `{% if p.oauth2() %}`.

use anyhow::Result;
use askama::Template;

use super::names::Names;

/// Declares one template: its type, its file under `templates/`.
macro_rules! template {
    ($ty:ident, $path:literal) => {
        #[derive(Template)]
        #[template(path = $path, escape = "none")]
        struct $ty<'a> {
            p: &'a Names,
        }
    };
}

template!(CargoToml, "provider/Cargo.toml.tmpl");
template!(LibRs, "provider/src/lib.rs.tmpl");
template!(SpecRs, "provider/src/spec.rs.tmpl");
template!(ApiRs, "provider/src/api.rs.tmpl");
template!(ItemsRs, "provider/src/items.rs.tmpl");
template!(StreamsJson, "provider/src/streams.json.tmpl");
template!(SandboxRs, "provider/src/sandbox/mod.rs.tmpl");
template!(SandboxDataRs, "provider/src/sandbox/data.rs.tmpl");
template!(TestsMainRs, "provider/tests/main.rs.tmpl");
template!(TestsSupportRs, "provider/tests/support.rs.tmpl");
template!(TestsConformanceRs, "provider/tests/conformance.rs.tmpl");
template!(TestsRequestsRs, "provider/tests/requests.rs.tmpl");
template!(DocsMd, "provider/docs.md.tmpl");

/// Every file of the scaffold of `p`: its path below the workspace root and text.
pub fn files(p: &Names) -> Result<Vec<(String, String)>> {
    let dir = p.dir();
    let tests = format!("{dir}/tests/{}", p.id);
    let files = [
        (format!("{dir}/Cargo.toml"), CargoToml { p }.render()?),
        (format!("{dir}/src/lib.rs"), LibRs { p }.render()?),
        (format!("{dir}/src/spec.rs"), SpecRs { p }.render()?),
        (format!("{dir}/src/api.rs"), ApiRs { p }.render()?),
        (format!("{dir}/src/items.rs"), ItemsRs { p }.render()?),
        (
            format!("{dir}/src/streams.json"),
            StreamsJson { p }.render()?,
        ),
        (
            format!("{dir}/src/sandbox/mod.rs"),
            SandboxRs { p }.render()?,
        ),
        (
            format!("{dir}/src/sandbox/data.rs"),
            SandboxDataRs { p }.render()?,
        ),
        (format!("{tests}/main.rs"), TestsMainRs { p }.render()?),
        (
            format!("{tests}/support.rs"),
            TestsSupportRs { p }.render()?,
        ),
        (
            format!("{tests}/conformance.rs"),
            TestsConformanceRs { p }.render()?,
        ),
        (
            format!("{tests}/requests.rs"),
            TestsRequestsRs { p }.render()?,
        ),
        (
            format!("docs/providers/{}.md", p.id),
            DocsMd { p }.render()?,
        ),
    ];
    Ok(files
        .into_iter()
        .map(|(path, text)| (path, one_final_newline(&text)))
        .collect())
}

/// The text ending in exactly one line ending (askama drops the template's last one;
/// a conditional block at the end may leave blank lines).
fn one_final_newline(text: &str) -> String {
    format!("{}\n", text.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::new_provider::names::Auth;

    #[test]
    fn every_mode_renders_every_file_without_placeholders_left() {
        for auth in Auth::ALL {
            let names = Names::new("acme-crm", auth).unwrap();
            let files = files(&names).unwrap();
            assert_eq!(files.len(), 13);
            for (path, text) in files {
                assert!(path.contains("acme-crm"), "{path}");
                if path.ends_with(".json") {
                    let parsed: Result<serde_json::Value, _> = serde_json::from_str(&text);
                    assert!(parsed.is_ok(), "{path} is JSON");
                }
                // Nothing of the template language, and no to-do left for the author.
                for left in ["{{", "{%", "{#", "TODO", "todo!("] {
                    assert!(!text.contains(left), "{path}: {left}");
                }
                assert!(text.ends_with('\n') && !text.ends_with("\n\n"), "{path}");
            }
        }
    }
}
