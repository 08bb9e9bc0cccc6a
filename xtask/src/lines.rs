//! `cargo xtask provider-lines`: how much code each provider crate costs, the figure
//! the provider toolkit is measured by (docs/adding-a-provider.md keeps the table).
//!
//! For every crate under `crates/providers/`, three counts of code lines — lines
//! that are neither blank nor only a comment (`//`, `///`, `//!`, or inside a
//! `/* */` block):
//! - **own**: `src/` without `src/sandbox/` and without `#[cfg(test)]` items (the
//!   adapter, its spec, its wire types: what a provider author writes and keeps);
//! - **fake**: `src/sandbox/` without `#[cfg(test)]` items (the sandbox fake);
//! - **tests**: `tests/` and the `#[cfg(test)]` items of `src/`;
//! - **data**: the non-blank lines of the other files under `src/` (JSON
//!   descriptions of streams and actions, fixtures), own and fake apart: a provider
//!   described as data is still read and kept by someone, so it is shown beside the
//!   code rather than left out.
//!
//! `#[cfg(test)]` items are found by parsing each file with syn, so the count does
//! not depend on where a test module sits in its file.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
};

use anyhow::{Context, Result};

use crate::workspace_root;

/// The three counts of one provider crate.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Lines {
    pub own: usize,
    pub own_data: usize,
    pub fake: usize,
    pub fake_data: usize,
    pub tests: usize,
}

pub fn provider_lines() -> Result<()> {
    let providers = workspace_root().join("crates/providers");
    let mut crates: Vec<PathBuf> = std::fs::read_dir(&providers)
        .with_context(|| format!("reading {}", providers.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.join("Cargo.toml").is_file())
        .collect();
    crates.sort();
    println!("| provider | own | own data | fake | fake data | tests |");
    println!("|---|---:|---:|---:|---:|---:|");
    let mut total = Lines::default();
    for dir in crates {
        let lines = count_crate(&dir)?;
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            name.unwrap_or_default(),
            lines.own,
            lines.own_data,
            lines.fake,
            lines.fake_data,
            lines.tests
        );
        total.own += lines.own;
        total.own_data += lines.own_data;
        total.fake += lines.fake;
        total.fake_data += lines.fake_data;
        total.tests += lines.tests;
    }
    println!(
        "| total | {} | {} | {} | {} | {} |",
        total.own, total.own_data, total.fake, total.fake_data, total.tests
    );
    Ok(())
}

/// The counts of one provider crate's directory.
pub fn count_crate(dir: &Path) -> Result<Lines> {
    let mut lines = Lines::default();
    let sandbox = dir.join("src/sandbox");
    for file in files(&dir.join("src"), false)? {
        let text = std::fs::read_to_string(&file)?;
        let data = text.lines().filter(|line| !line.trim().is_empty()).count();
        if file.starts_with(&sandbox) {
            lines.fake_data += data;
        } else {
            lines.own_data += data;
        }
    }
    for file in rust_files(&dir.join("src"))? {
        let text = std::fs::read_to_string(&file)?;
        let (code, test) =
            split_file(&text).with_context(|| format!("parsing {}", file.display()))?;
        lines.tests += test;
        if file.starts_with(&sandbox) {
            lines.fake += code;
        } else {
            lines.own += code;
        }
    }
    for file in rust_files(&dir.join("tests"))? {
        let text = std::fs::read_to_string(&file)?;
        lines.tests += code_lines(&text, &BTreeSet::new());
    }
    Ok(lines)
}

/// Every `.rs` file under `dir` (none when it does not exist).
fn rust_files(dir: &Path) -> Result<Vec<PathBuf>> {
    files(dir, true)
}

/// Every file under `dir` that is (`rust`) or is not (`!rust`) a `.rs` file.
fn files(dir: &Path, rust: bool) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    if !dir.is_dir() {
        return Ok(found);
    }
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            found.extend(files(&path, rust)?);
        } else if path.extension().is_some_and(|ext| ext == "rs") == rust {
            found.push(path);
        }
    }
    found.sort();
    Ok(found)
}

/// (code lines outside `#[cfg(test)]` items, code lines inside them).
fn split_file(text: &str) -> Result<(usize, usize)> {
    let file = syn::parse_file(text)?;
    let mut test_lines = BTreeSet::new();
    for item in &file.items {
        if is_cfg_test(item) {
            let span = syn::spanned::Spanned::span(item);
            test_lines.extend(span.start().line..=span.end().line);
        }
    }
    let all = code_lines(text, &BTreeSet::new());
    let outside = code_lines(text, &test_lines);
    Ok((outside, all - outside))
}

/// Whether an item carries `#[cfg(test)]`.
fn is_cfg_test(item: &syn::Item) -> bool {
    let attrs = match item {
        syn::Item::Mod(item) => &item.attrs,
        syn::Item::Fn(item) => &item.attrs,
        syn::Item::Use(item) => &item.attrs,
        syn::Item::Impl(item) => &item.attrs,
        syn::Item::Struct(item) => &item.attrs,
        syn::Item::Enum(item) => &item.attrs,
        syn::Item::Const(item) => &item.attrs,
        syn::Item::Static(item) => &item.attrs,
        _ => return false,
    };
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<syn::Ident>()
                .is_ok_and(|ident| ident == "test")
    })
}

/// Lines (1-based) not in `skip` that hold code: neither blank nor only a comment.
fn code_lines(text: &str, skip: &BTreeSet<usize>) -> usize {
    let mut in_block = false;
    let mut count = 0;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        let mut code = false;
        if in_block {
            if let Some(end) = line.find("*/") {
                in_block = false;
                code = !line[end + 2..].trim().is_empty();
            }
        } else if let Some(rest) = line.strip_prefix("/*") {
            in_block = !rest.contains("*/");
        } else {
            code = !line.is_empty() && !line.starts_with("//");
        }
        if code && !skip.contains(&(index + 1)) {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_blanks_and_test_items_are_not_own_code() {
        let text = "//! docs\n\
            use a::b;\n\
            \n\
            /// doc\n\
            fn f() {\n\
                // why\n\
                g(); // trailing comments count as code\n\
            }\n\
            /* block\n\
               still block */\n\
            #[cfg(test)]\n\
            mod tests {\n\
                #[test]\n\
                fn t() {}\n\
            }\n";
        assert_eq!(split_file(text).unwrap(), (4, 5));
    }
}
