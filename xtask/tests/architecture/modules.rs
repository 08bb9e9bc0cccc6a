//! Rule 6: the module graph of one crate target and its cycles.
//!
//! Loading walks `mod` declarations from the target's root file with `syn` (outline
//! modules in `foo.rs` or `foo/mod.rs`, or where `#[path]` says; inline `mod foo { }`
//! too). Each module's references are every `syn::Path` and every `use` tree in it,
//! plus the paths found in macro arguments and attribute arguments (parsed as
//! expressions when they are, else read token by token). Items under `#[cfg(test)]`
//! are skipped, and so are visibility paths (`pub(super)` is no dependency).
//!
//! Resolving: a reference starting with `crate`, `self` or `super`, or with a name the
//! module brings into scope (a child module, a `use` of a module, a glob import's child
//! modules), becomes an absolute path, and its target is the longest known module
//! prefix of it. Anything else (other crates, std, locals, single names) is no edge, nor
//! is a target that is the crate root or the module itself.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap, hash_map::RandomState},
    path::{Path, PathBuf},
};

use petgraph::{
    algo::{all_simple_paths, tarjan_scc},
    graph::{DiGraph, NodeIndex},
};
use proc_macro2::{Spacing, TokenStream, TokenTree};
use syn::{
    Attribute, Expr, ImplItem, Item, ItemUse, Meta, Token, TraitItem, UseTree, Visibility,
    ext::IdentExt,
    punctuated::Punctuated,
    visit::{self, Visit},
};

/// A module's path below the crate root (`["routes", "connect"]`); the root is `[]`.
pub type ModPath = Vec<String>;

/// At most this many cycles are listed per strongly connected component.
const MAX_CYCLES_PER_COMPONENT: usize = 50;

/// Where module files are read from: the disk, or a map of made-up files in the self-checks.
pub trait Sources {
    fn read(&self, path: &Path) -> Option<String>;
}

/// The real files.
pub struct Disk;

impl Sources for Disk {
    fn read(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
}

impl Sources for BTreeMap<PathBuf, String> {
    fn read(&self, path: &Path) -> Option<String> {
        self.get(path).cloned()
    }
}

/// What a `use` binds.
#[derive(Debug, Clone)]
enum Binding {
    /// `use a::b;` or `use a::b as c;`: the local name.
    Name(String),
    /// `use a::b::*;`
    Glob,
    /// `use a::b as _;`
    Hidden,
}

/// One flattened import of a `use` tree: `use a::{b, c::*}` gives `a::b` and `a::c::*`.
#[derive(Debug, Clone)]
struct UseImport {
    segments: Vec<String>,
    binding: Binding,
}

/// One module's references, unresolved.
#[derive(Debug, Default)]
struct Module {
    uses: Vec<UseImport>,
    paths: Vec<Vec<String>>,
}

/// Every module of one crate target, with what they reference.
#[derive(Debug, Default)]
pub struct CrateModules {
    modules: BTreeMap<ModPath, Module>,
    /// Module files that could not be found or parsed.
    pub errors: Vec<String>,
}

/// Loads the module tree that starts at `root_file`.
pub fn load(root_file: &Path, sources: &dyn Sources) -> CrateModules {
    let mut crate_modules = CrateModules::default();
    let dir = root_file.parent().unwrap_or(Path::new("")).to_path_buf();
    crate_modules.load_file(Vec::new(), root_file, &dir, sources);
    crate_modules
}

impl CrateModules {
    /// Parses one module file. `child_dir` is where its `mod foo;` files are looked for.
    fn load_file(&mut self, path: ModPath, file: &Path, child_dir: &Path, sources: &dyn Sources) {
        let Some(text) = sources.read(file) else {
            self.errors.push(format!(
                "cannot read module `{}` ({})",
                display(&path),
                file.display()
            ));
            return;
        };
        match syn::parse_file(&text) {
            // A file that starts with `#![cfg(test)]` is test code.
            Ok(parsed) if is_cfg_test(&parsed.attrs) => {}
            Ok(parsed) => {
                // `#[path]` on a module declared in a file is relative to the file's folder.
                let file_dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
                self.load_items(path, &parsed.items, child_dir, &file_dir, sources);
            }
            Err(error) => self.errors.push(format!(
                "cannot parse module `{}` ({}): {error}",
                display(&path),
                file.display()
            )),
        }
    }

    /// Records a module's items: its references, and its child modules recursively.
    fn load_items(
        &mut self,
        path: ModPath,
        items: &[Item],
        child_dir: &Path,
        path_attr_dir: &Path,
        sources: &dyn Sources,
    ) {
        let mut collector = Collector::default();
        let mut children = Vec::new();
        for item in items {
            match item {
                _ if is_cfg_test(item_attrs(item)) => {}
                Item::Mod(module) => children.push(module),
                _ => collector.visit_item(item),
            }
        }
        self.modules.insert(
            path.clone(),
            Module {
                uses: collector.uses,
                paths: collector.paths,
            },
        );
        for module in children {
            let name = module.ident.unraw().to_string();
            let mut child = path.clone();
            child.push(name.clone());
            let path_attr = path_attribute(&module.attrs);
            match &module.content {
                Some((_, items)) => {
                    let dir = child_dir.join(&name);
                    let attr_dir = match &path_attr {
                        Some(folder) => path_attr_dir.join(folder),
                        None => dir.clone(),
                    };
                    self.load_items(child, items, &dir, &attr_dir, sources);
                }
                None => {
                    let candidates = match &path_attr {
                        // A file named by `#[path]` owns its folder, like a `mod.rs`.
                        Some(file) => {
                            let file = path_attr_dir.join(file);
                            let dir = file.parent().unwrap_or(Path::new("")).to_path_buf();
                            vec![(file, dir)]
                        }
                        None => vec![
                            (child_dir.join(format!("{name}.rs")), child_dir.join(&name)),
                            (child_dir.join(&name).join("mod.rs"), child_dir.join(&name)),
                        ],
                    };
                    match candidates
                        .iter()
                        .find(|(file, _)| sources.read(file).is_some())
                    {
                        Some((file, dir)) => self.load_file(child, file, dir, sources),
                        None => self.errors.push(format!(
                            "cannot find the file of module `{}` (tried {})",
                            display(&child),
                            candidates
                                .iter()
                                .map(|(file, _)| file.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                    }
                }
            }
        }
    }

    fn is_module(&self, path: &[String]) -> bool {
        self.modules.contains_key(path)
    }

    /// The names of `path`'s child modules.
    fn children<'a>(&'a self, path: &'a [String]) -> impl Iterator<Item = &'a String> + 'a {
        self.modules
            .keys()
            .filter(move |key| key.len() == path.len() + 1 && key.starts_with(path))
            .filter_map(|key| key.last())
    }

    /// The module-to-module dependencies, crate root left out.
    pub fn edges(&self) -> BTreeSet<(ModPath, ModPath)> {
        let scopes = self.scopes();
        let mut edges = BTreeSet::new();
        for (path, module) in &self.modules {
            if path.is_empty() {
                continue;
            }
            let scope = &scopes[path];
            let targets = module
                .uses
                .iter()
                .filter_map(|import| self.resolve(path, scope, &import.segments, true))
                .chain(
                    module
                        .paths
                        .iter()
                        .filter_map(|segments| self.resolve(path, scope, segments, false)),
                );
            for absolute in targets {
                let target = self.longest_module_prefix(&absolute);
                if !target.is_empty() && target != *path {
                    edges.insert((path.clone(), target));
                }
            }
        }
        edges
    }

    /// Module names each module brings into scope with `use` (explicit and glob), found by
    /// resolving the imports until nothing changes (an import may go through another).
    fn scopes(&self) -> BTreeMap<ModPath, Scope> {
        let mut scopes: BTreeMap<ModPath, Scope> = self
            .modules
            .keys()
            .map(|path| (path.clone(), Scope::default()))
            .collect();
        for _ in 0..16 {
            let mut changed = false;
            for (path, module) in &self.modules {
                let mut found = Vec::new();
                for import in &module.uses {
                    let Some(absolute) = self.resolve(path, &scopes[path], &import.segments, true)
                    else {
                        continue;
                    };
                    if !self.is_module(&absolute) {
                        continue;
                    }
                    match &import.binding {
                        Binding::Name(name) => found.push((true, name.clone(), absolute)),
                        Binding::Glob => {
                            for child in self.children(&absolute) {
                                let mut target = absolute.clone();
                                target.push(child.clone());
                                found.push((false, child.clone(), target));
                            }
                        }
                        Binding::Hidden => {}
                    }
                }
                if let Some(scope) = scopes.get_mut(path) {
                    for (explicit, name, target) in found {
                        let map = if explicit {
                            &mut scope.explicit
                        } else {
                            &mut scope.glob
                        };
                        if map.get(&name) != Some(&target) {
                            map.insert(name, target);
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                break;
            }
        }
        scopes
    }

    /// The absolute path a reference in module `from` names, when it names one in this crate.
    fn resolve(
        &self,
        from: &[String],
        scope: &Scope,
        segments: &[String],
        single_ok: bool,
    ) -> Option<ModPath> {
        let first = segments.first()?;
        let (mut base, mut rest) = match first.as_str() {
            "crate" => (Vec::new(), 1),
            "self" => (from.to_vec(), 1),
            "super" => (from.to_vec(), 0),
            _ if segments.len() < 2 && !single_ok => return None,
            name => {
                let mut child = from.to_vec();
                child.push(name.to_string());
                let base = if let Some(target) = scope.explicit.get(name) {
                    target.clone()
                } else if self.is_module(&child) {
                    child
                } else {
                    scope.glob.get(name)?.clone()
                };
                (base, 1)
            }
        };
        while segments.get(rest).is_some_and(|segment| segment == "super") {
            base.pop()?;
            rest += 1;
        }
        base.extend(segments[rest..].iter().cloned());
        Some(base)
    }

    fn longest_module_prefix(&self, absolute: &[String]) -> ModPath {
        (0..=absolute.len())
            .rev()
            .map(|len| &absolute[..len])
            .find(|prefix| self.is_module(prefix))
            .unwrap_or_default()
            .to_vec()
    }
}

/// Module names in scope in one module besides its children.
#[derive(Debug, Default, Clone)]
struct Scope {
    explicit: BTreeMap<String, ModPath>,
    glob: BTreeMap<String, ModPath>,
}

/// `routes::connect`; the crate root is `crate`.
pub fn display(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_string()
    } else {
        path.join("::")
    }
}

/// Every elementary cycle of the graph, each as its modules in order, starting from its
/// smallest name; found in the strongly connected components with more than one node or
/// a self-loop.
pub fn cycles(nodes: &[ModPath], edges: &BTreeSet<(ModPath, ModPath)>) -> Vec<Vec<ModPath>> {
    let mut graph: DiGraph<ModPath, ()> = DiGraph::new();
    let mut index: HashMap<ModPath, NodeIndex> = HashMap::new();
    let mut node = |graph: &mut DiGraph<ModPath, ()>, path: &ModPath| {
        *index
            .entry(path.clone())
            .or_insert_with(|| graph.add_node(path.clone()))
    };
    for path in nodes {
        node(&mut graph, path);
    }
    for (from, to) in edges {
        let (from, to) = (node(&mut graph, from), node(&mut graph, to));
        graph.update_edge(from, to, ());
    }

    let mut found = BTreeSet::new();
    for component in tarjan_scc(&graph) {
        let is_cyclic = component.len() > 1
            || component
                .first()
                .is_some_and(|&only| graph.contains_edge(only, only));
        if !is_cyclic {
            continue;
        }
        // The component on its own, so paths cannot leave it.
        let sub = graph.filter_map(
            |id, path| component.contains(&id).then(|| path.clone()),
            |_, ()| Some(()),
        );
        let mut in_component = BTreeSet::new();
        for edge in sub.edge_indices() {
            let Some((from, to)) = sub.edge_endpoints(edge) else {
                continue;
            };
            let cycles: Vec<Vec<NodeIndex>> = if from == to {
                vec![vec![from]]
            } else {
                all_simple_paths::<Vec<NodeIndex>, _, RandomState>(&sub, to, from, 0, None)
                    .map(|path| {
                        std::iter::once(from)
                            .chain(path.into_iter().take_while(|&id| id != from))
                            .collect()
                    })
                    .collect()
            };
            for cycle in cycles {
                let mut cycle: Vec<ModPath> = cycle.iter().map(|&id| sub[id].clone()).collect();
                let start = (0..cycle.len())
                    .min_by(|&a, &b| cycle[a].cmp(&cycle[b]))
                    .unwrap_or(0);
                cycle.rotate_left(start);
                in_component.insert(cycle);
            }
            if in_component.len() >= MAX_CYCLES_PER_COMPONENT {
                break;
            }
        }
        found.extend(in_component.into_iter().take(MAX_CYCLES_PER_COMPONENT));
    }
    found.into_iter().collect()
}

/// The cycles of one crate target's modules, each as `a -> b -> a`.
pub fn module_cycles(modules: &CrateModules) -> Vec<String> {
    let nodes: Vec<ModPath> = modules
        .modules
        .keys()
        .filter(|path| !path.is_empty())
        .cloned()
        .collect();
    cycles(&nodes, &modules.edges())
        .iter()
        .map(|cycle| {
            let mut names: Vec<String> = cycle.iter().map(|path| display(path)).collect();
            names.push(display(&cycle[0]));
            names.join(" -> ")
        })
        .collect()
}

/// Collects one module's references: paths and `use` trees, skipping `#[cfg(test)]`.
#[derive(Default)]
struct Collector {
    uses: Vec<UseImport>,
    paths: Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for Collector {
    fn visit_item(&mut self, item: &'ast Item) {
        if !is_cfg_test(item_attrs(item)) {
            visit::visit_item(self, item);
        }
    }

    fn visit_impl_item(&mut self, item: &'ast ImplItem) {
        let attrs = match item {
            ImplItem::Const(item) => &item.attrs,
            ImplItem::Fn(item) => &item.attrs,
            ImplItem::Type(item) => &item.attrs,
            ImplItem::Macro(item) => &item.attrs,
            _ => return visit::visit_impl_item(self, item),
        };
        if !is_cfg_test(attrs) {
            visit::visit_impl_item(self, item);
        }
    }

    fn visit_trait_item(&mut self, item: &'ast TraitItem) {
        let attrs = match item {
            TraitItem::Const(item) => &item.attrs,
            TraitItem::Fn(item) => &item.attrs,
            TraitItem::Type(item) => &item.attrs,
            TraitItem::Macro(item) => &item.attrs,
            _ => return visit::visit_trait_item(self, item),
        };
        if !is_cfg_test(attrs) {
            visit::visit_trait_item(self, item);
        }
    }

    fn visit_item_use(&mut self, item: &'ast ItemUse) {
        // `use ::other_crate::x` names no module of this crate.
        if item.leading_colon.is_none() {
            self.visit_use_tree(&item.tree);
        }
    }

    /// Called with a `use` item's whole tree: flattened here, not visited further.
    fn visit_use_tree(&mut self, tree: &'ast UseTree) {
        flatten_use(tree, &mut Vec::new(), &mut self.uses);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() {
            self.paths.push(
                path.segments
                    .iter()
                    .map(|segment| segment.ident.unraw().to_string())
                    .collect(),
            );
        }
        visit::visit_path(self, path);
    }

    fn visit_visibility(&mut self, _: &'ast Visibility) {
        // `pub(super)`, `pub(in crate::x)`: who may see an item, not what it uses.
    }

    fn visit_attribute(&mut self, attr: &'ast Attribute) {
        self.visit_path(attr.path());
        if let Meta::List(list) = &attr.meta {
            scan_tokens(list.tokens.clone(), &mut self.paths);
        }
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.visit_path(&mac.path);
        if let Ok(exprs) = mac.parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated) {
            for expr in &exprs {
                self.visit_expr(expr);
            }
        } else if let Ok(stmts) = mac.parse_body_with(syn::Block::parse_within) {
            for stmt in &stmts {
                self.visit_stmt(stmt);
            }
        } else {
            scan_tokens(mac.tokens.clone(), &mut self.paths);
        }
    }
}

/// Flattens a `use` tree into one import per leaf.
fn flatten_use(tree: &UseTree, prefix: &mut Vec<String>, out: &mut Vec<UseImport>) {
    match tree {
        UseTree::Path(path) => {
            prefix.push(path.ident.unraw().to_string());
            flatten_use(&path.tree, prefix, out);
            prefix.pop();
        }
        UseTree::Name(name) => {
            let name = name.ident.unraw().to_string();
            let segments = leaf(prefix, &name);
            let local = if name == "self" {
                prefix.last().cloned().unwrap_or(name)
            } else {
                name
            };
            out.push(UseImport {
                segments,
                binding: Binding::Name(local),
            });
        }
        UseTree::Rename(rename) => {
            let segments = leaf(prefix, &rename.ident.unraw().to_string());
            let local = rename.rename.unraw().to_string();
            out.push(UseImport {
                segments,
                binding: if local == "_" {
                    Binding::Hidden
                } else {
                    Binding::Name(local)
                },
            });
        }
        UseTree::Glob(_) => out.push(UseImport {
            segments: prefix.clone(),
            binding: Binding::Glob,
        }),
        UseTree::Group(group) => {
            for tree in &group.items {
                flatten_use(tree, prefix, out);
            }
        }
    }
}

/// `prefix::name`, where `prefix::self` is `prefix`.
fn leaf(prefix: &[String], name: &str) -> Vec<String> {
    let mut segments = prefix.to_vec();
    if name != "self" || prefix.is_empty() {
        segments.push(name.to_string());
    }
    segments
}

/// Paths (`a::b`, two segments or more, not `::a::b`) in tokens that are no Rust syntax
/// syn parses: arguments of attributes and of macros such as `tracing::info!`.
fn scan_tokens(tokens: TokenStream, out: &mut Vec<Vec<String>>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let is_colon = |index: usize, joint: bool| {
        matches!(tokens.get(index), Some(TokenTree::Punct(punct))
            if punct.as_char() == ':' && (!joint || punct.spacing() == Spacing::Joint))
    };
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Group(group) => {
                scan_tokens(group.stream(), out);
                i += 1;
            }
            TokenTree::Ident(ident) => {
                let global = i >= 2 && is_colon(i - 2, true) && is_colon(i - 1, false);
                let mut segments = vec![ident.unraw().to_string()];
                let mut next = i + 1;
                while is_colon(next, true) && is_colon(next + 1, false) {
                    let Some(TokenTree::Ident(ident)) = tokens.get(next + 2) else {
                        break;
                    };
                    segments.push(ident.unraw().to_string());
                    next += 3;
                }
                if segments.len() >= 2 && !global {
                    out.push(segments);
                }
                i = next;
            }
            _ => i += 1,
        }
    }
}

/// The value of `#[path = "..."]`, if any.
fn path_attribute(attrs: &[Attribute]) -> Option<String> {
    attrs.iter().find_map(|attr| match &attr.meta {
        Meta::NameValue(name_value) if name_value.path.is_ident("path") => {
            match &name_value.value {
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(value),
                    ..
                }) => Some(value.value()),
                _ => None,
            }
        }
        _ => None,
    })
}

/// Whether the attributes include `#[cfg(test)]` (or `#[cfg(all(test, ...))]`).
fn is_cfg_test(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg")
            && attr
                .parse_args::<Meta>()
                .is_ok_and(|meta| requires_test(&meta))
    })
}

/// Whether a cfg predicate holds only when `test` is set.
fn requires_test(meta: &Meta) -> bool {
    match meta {
        Meta::Path(path) => path.is_ident("test"),
        Meta::List(list) if list.path.is_ident("all") => list
            .parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)
            .is_ok_and(|items| items.iter().any(requires_test)),
        _ => false,
    }
}

fn item_attrs(item: &Item) -> &[Attribute] {
    match item {
        Item::Const(item) => &item.attrs,
        Item::Enum(item) => &item.attrs,
        Item::ExternCrate(item) => &item.attrs,
        Item::Fn(item) => &item.attrs,
        Item::ForeignMod(item) => &item.attrs,
        Item::Impl(item) => &item.attrs,
        Item::Macro(item) => &item.attrs,
        Item::Mod(item) => &item.attrs,
        Item::Static(item) => &item.attrs,
        Item::Struct(item) => &item.attrs,
        Item::Trait(item) => &item.attrs,
        Item::TraitAlias(item) => &item.attrs,
        Item::Type(item) => &item.attrs,
        Item::Union(item) => &item.attrs,
        Item::Use(item) => &item.attrs,
        _ => &[],
    }
}
