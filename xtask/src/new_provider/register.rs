//! Registering a provider crate: small insertions into the workspace's Cargo.toml and
//! the registry (its Cargo features and dependencies, `Registry::builtin()` and
//! `fakes()`), each placed beside the entries of the same kind and skipped when it is
//! there already, so running the tool twice changes nothing the second time.
//!
//! The files are edited as text, not re-serialized, so nothing but the inserted lines
//! changes (comments, order and layout stay as their authors wrote them). Where an
//! anchor is missing the edit fails naming the file and what to add by hand.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use syn::visit::Visit;

use super::names::Names;

/// What one edit did, for the tool to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    pub file: &'static str,
    pub what: String,
    /// False when it was there already.
    pub changed: bool,
}

/// A registration worked out and not written yet: every file's new text, and what
/// each edit did.
#[derive(Debug)]
pub struct Registration {
    files: Vec<(PathBuf, String)>,
    pub done: Vec<Done>,
}

impl Registration {
    /// Writes the files that changed.
    pub fn write(&self) -> Result<()> {
        for (path, text) in &self.files {
            std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }
}

/// Every edit registering `names`' crate in the workspace at `root`, in order, worked
/// out in memory: a file without an anchor fails before anything is written.
pub fn plan(root: &Path, names: &Names) -> Result<Registration> {
    let mut done = Vec::new();
    let mut files = Vec::new();
    edit(root, "Cargo.toml", &mut files, &mut done, |text, done| {
        let member = format!("\"{}\",", names.dir());
        push(
            done,
            "Cargo.toml",
            format!("workspace member {}", names.dir()),
            insert_in_array(text, "members = [", &member, "\"crates/providers/")?,
        );
        let dependency = format!("{} = {{ path = \"{}\" }}", names.package, names.dir());
        push(
            done,
            "Cargo.toml",
            format!("workspace dependency {}", names.package),
            insert_in_table(
                text,
                "[workspace.dependencies]",
                &dependency,
                "path = \"crates/providers/",
            )?,
        );
        Ok(())
    })?;
    edit(
        root,
        "crates/registry/Cargo.toml",
        &mut files,
        &mut done,
        |text, done| {
            const FILE: &str = "crates/registry/Cargo.toml";
            let quoted = format!("\"{}\"", names.id);
            push(
                done,
                FILE,
                format!("`{}` among the default features", names.id),
                append_to_array(text, "[features]", "default = [", &quoted)?,
            );
            let feature = format!("{} = [\"dep:{}\"]", names.id, names.package);
            push(
                done,
                FILE,
                format!("feature `{}`", names.id),
                insert_in_table(text, "[features]", &feature, "= [\"dep:junction-")?,
            );
            let sandbox = format!("\"{}?/sandbox\"", names.package);
            push(
                done,
                FILE,
                format!("{} in the `sandbox` feature", sandbox.trim_matches('"')),
                append_to_array(text, "[features]", "sandbox = [", &sandbox)?,
            );
            let dependency = format!(
                "{} = {{ workspace = true, optional = true }}",
                names.package
            );
            push(
                done,
                FILE,
                format!("optional dependency {}", names.package),
                insert_in_table(text, "[dependencies]", &dependency, "optional = true")?,
            );
            Ok(())
        },
    )?;
    edit(
        root,
        "crates/registry/src/lib.rs",
        &mut files,
        &mut done,
        |text, done| {
            const FILE: &str = "crates/registry/src/lib.rs";
            let adapter = format!("{}::{}", names.krate, names.ty);
            push(
                done,
                FILE,
                format!("Registry::builtin() entry {adapter}"),
                insert_in_vec(text, "builtin", &names.id, &adapter)?,
            );
            let fake = format!("{}::sandbox::{}Fake", names.krate, names.ty);
            push(
                done,
                FILE,
                format!("fakes() entry {fake}"),
                insert_in_vec(text, "fakes", &names.id, &fake)?,
            );
            Ok(())
        },
    )?;
    Ok(Registration { files, done })
}

/// Reads `file` and lets `change` edit its text; the new text goes into `files`
/// when it changed.
fn edit(
    root: &Path,
    file: &'static str,
    files: &mut Vec<(PathBuf, String)>,
    done: &mut Vec<Done>,
    change: impl FnOnce(&mut String, &mut Vec<Done>) -> Result<()>,
) -> Result<()> {
    let path = root.join(file);
    let before = std::fs::read_to_string(&path).with_context(|| format!("reading {file}"))?;
    let mut text = before.clone();
    change(&mut text, done).with_context(|| format!("editing {file}"))?;
    if text != before {
        files.push((path, text));
    }
    Ok(())
}

fn push(done: &mut Vec<Done>, file: &'static str, what: String, changed: bool) {
    done.push(Done {
        file,
        what,
        changed,
    });
}

/// A text as lines, each with its line ending, edited and joined back.
struct Lines(Vec<String>);

impl Lines {
    fn of(text: &str) -> Self {
        Self(text.split_inclusive('\n').map(str::to_owned).collect())
    }

    /// Inserts `new` (one or more lines, without the last line ending) before line
    /// `at`, 0-based.
    fn insert(&mut self, at: usize, new: &str) {
        let at = at.min(self.0.len());
        if at == self.0.len()
            && let Some(last) = self.0.last_mut()
            && !last.ends_with('\n')
        {
            last.push('\n');
        }
        self.0.insert(at, format!("{new}\n"));
    }

    /// Ends line `at` with a comma, when it holds an item without one (the last item
    /// of an array written without a trailing comma).
    fn comma_after(&mut self, at: usize) {
        let Some(line) = self.0.get_mut(at) else {
            return;
        };
        let body = line.trim_end();
        let code = !body.trim_start().starts_with("//") && !body.trim_start().starts_with('#');
        if code && !body.is_empty() && !body.ends_with(',') && !body.ends_with('[') {
            let ending = line[body.len()..].to_owned();
            *line = format!("{body},{ending}");
        }
    }

    fn join(self) -> String {
        self.0.concat()
    }
}

/// Inserts `line` into the multi-line array opened by the line starting with `opener`
/// (`members = [`), after its last item containing `sibling`, or last when none does;
/// indented as the items are. False when the array holds `line` already.
fn insert_in_array(text: &mut String, opener: &str, line: &str, sibling: &str) -> Result<bool> {
    let mut all = Lines::of(text);
    let start = all
        .0
        .iter()
        .position(|l| l.trim_start().starts_with(opener))
        .ok_or_else(|| anyhow!("no `{opener}` array; add {line} to it by hand"))?;
    let end = (start + 1..all.0.len())
        .find(|&i| all.0[i].trim() == "]")
        .ok_or_else(|| anyhow!("the `{opener}` array is not closed on a line of its own"))?;
    let bare = |item: &str| item.trim().trim_end_matches(',').to_owned();
    if all.0[start + 1..end]
        .iter()
        .any(|item| bare(item) == bare(line))
    {
        return Ok(false);
    }
    let after = (start + 1..end)
        .rev()
        .find(|&i| all.0[i].contains(sibling))
        .or((end > start + 1).then(|| end - 1));
    let (at, indent) = match after {
        Some(i) => (i + 1, indent_of(&all.0[i])),
        None => (end, "    ".to_owned()),
    };
    all.comma_after(at - 1);
    all.insert(at, &format!("{indent}{line}"));
    *text = all.join();
    Ok(true)
}

/// Inserts `line` into the table under `header` (`[dependencies]`), after its last
/// line containing `sibling`, or after its last key when none does. False when the
/// table has the key already.
fn insert_in_table(text: &mut String, header: &str, line: &str, sibling: &str) -> Result<bool> {
    let mut all = Lines::of(text);
    let start = all
        .0
        .iter()
        .position(|l| l.trim() == header)
        .ok_or_else(|| anyhow!("no {header} table; add `{line}` to it by hand"))?;
    let end = (start + 1..all.0.len())
        .find(|&i| all.0[i].trim_start().starts_with('['))
        .unwrap_or(all.0.len());
    let key = line.split('=').next().unwrap_or(line).trim();
    let has_key = |l: &String| l.split('=').next().is_some_and(|k| k.trim() == key);
    if all.0[start + 1..end].iter().any(has_key) {
        return Ok(false);
    }
    let is_key = |l: &String| l.contains('=') && !l.trim_start().starts_with('#');
    let last_key = (start + 1..end).rev().find(|&i| is_key(&all.0[i]));
    let after = (start + 1..end)
        .rev()
        .find(|&i| is_key(&all.0[i]) && all.0[i].contains(sibling))
        .or(last_key)
        .unwrap_or(start);
    all.insert(after + 1, line);
    *text = all.join();
    Ok(true)
}

/// Appends `item` to the array of the line starting with `opener` in the table under
/// `header` (`default = [...]` of `[features]`), written on one line or one item a
/// line. False when the array holds it already.
fn append_to_array(text: &mut String, header: &str, opener: &str, item: &str) -> Result<bool> {
    let mut all = Lines::of(text);
    let table = all
        .0
        .iter()
        .position(|l| l.trim() == header)
        .ok_or_else(|| anyhow!("no {header} table; add {item} by hand"))?;
    let start = (table + 1..all.0.len())
        .take_while(|&i| !all.0[i].trim_start().starts_with('['))
        .find(|&i| all.0[i].trim_start().starts_with(opener))
        .ok_or_else(|| anyhow!("no `{opener}` in {header}; add {item} to it by hand"))?;
    let end = (start..all.0.len())
        .find(|&i| all.0[i].trim_end().ends_with(']'))
        .ok_or_else(|| anyhow!("the `{opener}` array is not closed"))?;
    let listed = all.0[start..=end].concat();
    let inside = listed
        .split_once('[')
        .and_then(|(_, rest)| rest.rsplit_once(']'))
        .map_or("", |(inside, _)| inside);
    if inside.split(',').any(|entry| entry.trim() == item) {
        return Ok(false);
    }
    if start == end {
        let line = &mut all.0[start];
        let close = line.rfind(']').unwrap_or(line.len());
        let separator = if inside.trim().is_empty() { "" } else { ", " };
        line.insert_str(close, &format!("{separator}{item}"));
    } else if all.0[end].trim() == "]" {
        let indent = indent_of(&all.0[end - 1]);
        all.comma_after(end - 1);
        all.insert(end, &format!("{indent}{item},"));
    } else {
        bail!("the `{opener}` array's last line holds items; add {item} to it by hand");
    }
    *text = all.join();
    Ok(true)
}

/// Inserts `entry` (`Arc::new(path)`, gated by the feature `feature`) as the last
/// element of the `vec![...]` in the function `function`. False when that `vec!`
/// names `entry`'s crate already.
fn insert_in_vec(text: &mut String, function: &str, feature: &str, entry: &str) -> Result<bool> {
    let file = syn::parse_file(text).context("not Rust")?;
    let mut finder = VecIn {
        function,
        inside: false,
        found: None,
    };
    finder.visit_file(&file);
    let (close_line, tokens) = finder
        .found
        .ok_or_else(|| anyhow!("no `vec![...]` in fn {function}; add {entry} by hand"))?;
    let krate = entry.split("::").next().unwrap_or(entry);
    if tokens.contains(&format!("{krate} ::")) || tokens.contains(&format!("{krate}::")) {
        return Ok(false);
    }
    let mut all = Lines::of(text);
    let close = close_line.saturating_sub(1);
    let previous = (0..close).rev().find(|&i| !all.0[i].trim().is_empty());
    let indent = match previous {
        Some(i) if !all.0[i].trim_end().ends_with('[') => {
            all.comma_after(i);
            indent_of(&all.0[i])
        }
        _ => format!("{}    ", indent_of(&all.0[close])),
    };
    let lines = format!("{indent}#[cfg(feature = \"{feature}\")]\n{indent}Arc::new({entry}),");
    all.insert(close, &lines);
    *text = all.join();
    Ok(true)
}

/// Finds the first `vec![...]` in a function of a given name: the line of its closing
/// bracket (1-based) and its tokens as text.
struct VecIn<'f> {
    function: &'f str,
    inside: bool,
    found: Option<(usize, String)>,
}

impl<'ast> Visit<'ast> for VecIn<'_> {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        let outer = self.inside;
        self.inside = item.sig.ident == self.function;
        syn::visit::visit_item_fn(self, item);
        self.inside = outer;
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        let outer = self.inside;
        self.inside = item.sig.ident == self.function;
        syn::visit::visit_impl_item_fn(self, item);
        self.inside = outer;
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        if self.inside && self.found.is_none() && mac.path.is_ident("vec") {
            let close = match &mac.delimiter {
                syn::MacroDelimiter::Bracket(b) => b.span.close(),
                syn::MacroDelimiter::Paren(p) => p.span.close(),
                syn::MacroDelimiter::Brace(b) => b.span.close(),
            };
            self.found = Some((close.start().line, mac.tokens.to_string()));
        }
    }
}

/// A line's leading whitespace.
fn indent_of(line: &str) -> String {
    line.chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect()
}

/// Fails unless the files a registration edits exist, before anything is written.
pub fn check_anchors(root: &Path) -> Result<()> {
    for file in [
        "Cargo.toml",
        "crates/registry/Cargo.toml",
        "crates/registry/src/lib.rs",
    ] {
        if !root.join(file).is_file() {
            bail!(
                "{file} is missing: is {} a Junction workspace?",
                root.display()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORKSPACE: &str = "[workspace]\nmembers = [\n    \"crates/core\",\n    \
        \"crates/providers/kit\",\n    \"bins/api\",\n]\n\n[workspace.dependencies]\n\
        junction-core = { path = \"crates/core\" }\n\
        junction-kit = { path = \"crates/providers/kit\" }\n\n# Async\ntokio = \"1\"\n";

    const FEATURES: &str = "[features]\ndefault = [\"kit\"]\nkit = [\"dep:junction-kit\"]\n\
        # Fakes.\nsandbox = [\"junction-kit?/sandbox\"]\n\n[dependencies]\n\
        junction-core.workspace = true\n\
        junction-kit = { workspace = true, optional = true }\n\n[dev-dependencies]\n\
        serde_json.workspace = true\n";

    const REGISTRY: &str = "impl Registry {\n    pub fn builtin() -> Self {\n        \
        let adapters: Vec<Arc<dyn Adapter>> = vec![\n            \
        #[cfg(feature = \"kit\")]\n            Arc::new(junction_kit::Kit::api_key()),\n        ];\n        \
        Self::from_adapters(adapters)\n    }\n}\n\n#[cfg(feature = \"sandbox\")]\n\
        pub fn fakes() -> Vec<Arc<dyn ProviderFake>> {\n    vec![\n        \
        #[cfg(feature = \"kit\")]\n        Arc::new(junction_kit::sandbox::KitFake::default()),\n    ]\n}\n";

    #[test]
    fn workspace_entries_go_beside_the_providers_once() {
        let mut text = WORKSPACE.to_owned();
        let member = "\"crates/providers/acme\",";
        assert!(insert_in_array(&mut text, "members = [", member, "\"crates/providers/").unwrap());
        let line = "junction-acme = { path = \"crates/providers/acme\" }";
        let sibling = "path = \"crates/providers/";
        assert!(insert_in_table(&mut text, "[workspace.dependencies]", line, sibling).unwrap());
        assert_eq!(
            text,
            WORKSPACE
                .replace("kit\",\n", "kit\",\n    \"crates/providers/acme\",\n")
                .replace(
                    "kit\" }\n",
                    "kit\" }\njunction-acme = { path = \"crates/providers/acme\" }\n"
                )
        );
        let once = text.clone();
        assert!(!insert_in_array(&mut text, "members = [", member, "\"crates/providers/").unwrap());
        assert!(!insert_in_table(&mut text, "[workspace.dependencies]", line, sibling).unwrap());
        assert_eq!(text, once);
    }

    #[test]
    fn features_and_dependencies_are_added_once() {
        let mut text = FEATURES.to_owned();
        assert!(append_to_array(&mut text, "[features]", "default = [", "\"acme\"").unwrap());
        let feature = "acme = [\"dep:junction-acme\"]";
        assert!(insert_in_table(&mut text, "[features]", feature, "= [\"dep:junction-").unwrap());
        let sandbox = "\"junction-acme?/sandbox\"";
        assert!(append_to_array(&mut text, "[features]", "sandbox = [", sandbox).unwrap());
        let dependency = "junction-acme = { workspace = true, optional = true }";
        assert!(
            insert_in_table(&mut text, "[dependencies]", dependency, "optional = true").unwrap()
        );
        assert_eq!(
            text,
            "[features]\ndefault = [\"kit\", \"acme\"]\nkit = [\"dep:junction-kit\"]\n\
             acme = [\"dep:junction-acme\"]\n# Fakes.\n\
             sandbox = [\"junction-kit?/sandbox\", \"junction-acme?/sandbox\"]\n\n\
             [dependencies]\njunction-core.workspace = true\n\
             junction-kit = { workspace = true, optional = true }\n\
             junction-acme = { workspace = true, optional = true }\n\n[dev-dependencies]\n\
             serde_json.workspace = true\n"
        );
        let once = text.clone();
        assert!(!append_to_array(&mut text, "[features]", "default = [", "\"acme\"").unwrap());
        assert!(!insert_in_table(&mut text, "[features]", feature, "= [\"dep:junction-").unwrap());
        assert!(!append_to_array(&mut text, "[features]", "sandbox = [", sandbox).unwrap());
        assert!(!insert_in_table(&mut text, "[dependencies]", dependency, "x").unwrap());
        assert_eq!(text, once);
        // A multi-line array takes the item on a line of its own.
        let mut multi = "[features]\ndefault = [\n    \"kit\",\n]\n".to_owned();
        assert!(append_to_array(&mut multi, "[features]", "default = [", "\"acme\"").unwrap());
        assert_eq!(
            multi,
            "[features]\ndefault = [\n    \"kit\",\n    \"acme\",\n]\n"
        );
    }

    #[test]
    fn registry_entries_close_each_vec_once() {
        let mut text = REGISTRY.to_owned();
        assert!(insert_in_vec(&mut text, "builtin", "acme", "junction_acme::Acme").unwrap());
        let fake = "junction_acme::sandbox::AcmeFake";
        assert!(insert_in_vec(&mut text, "fakes", "acme", fake).unwrap());
        assert_eq!(
            text,
            REGISTRY
                .replace(
                    "api_key()),\n",
                    "api_key()),\n            #[cfg(feature = \"acme\")]\n            \
                     Arc::new(junction_acme::Acme),\n"
                )
                .replace(
                    "default()),\n",
                    "default()),\n        #[cfg(feature = \"acme\")]\n        \
                     Arc::new(junction_acme::sandbox::AcmeFake),\n"
                )
        );
        let once = text.clone();
        assert!(!insert_in_vec(&mut text, "builtin", "acme", "junction_acme::Acme").unwrap());
        assert!(!insert_in_vec(&mut text, "fakes", "acme", fake).unwrap());
        assert_eq!(text, once);
        let error = insert_in_vec(&mut text, "nothing", "acme", "x::X").unwrap_err();
        assert!(error.to_string().contains("by hand"), "{error}");
    }

    #[test]
    fn missing_anchors_say_what_to_add_by_hand() {
        let mut text = "[package]\nname = \"x\"\n".to_owned();
        let error = insert_in_array(&mut text, "members = [", "\"a\",", "b").unwrap_err();
        assert!(error.to_string().contains("by hand"), "{error}");
        let error = insert_in_table(&mut text, "[features]", "a = []", "b").unwrap_err();
        assert!(error.to_string().contains("by hand"), "{error}");
    }
}
