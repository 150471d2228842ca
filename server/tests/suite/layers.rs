//! The server's modules stand in layers, and each imports only from layers
//! below its own: the bus knows nothing of sessions, the store nothing of the
//! configuration. The UI crate and the wire crate have no import circles.
//! Read from the sources, by `crate::` paths between top-level modules.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::Path,
};

/// `server/src`'s top-level modules, lowest layer first. `lib.rs` and
/// `main.rs` assemble them all and stand above.
const LAYERS: &[&[&str]] = &[
    &[
        "backoff", "budget", "client_addr", "clock", "error", "gate", "headers", "metrics", "private", "redis_conn", "secret",
        "telemetry", "text",
    ],
    &["blobs"],
    &["avatar", "lease", "ratelimit", "store"],
    &["auth", "files", "hub", "signup"],
    &["chat", "presence", "search"],
    &["calls", "sfu", "push"],
    &["config"],
    &["state"],
    &["api", "ops", "session"],
    &["serve"],
];

type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

#[test]
fn server_modules_import_only_from_layers_below() {
    let graph = imports(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let layer = |module: &str| LAYERS.iter().position(|l| l.contains(&module));
    let mut wrong = Vec::new();
    for (from, targets) in &graph {
        let Some(own) = layer(from) else {
            wrong.push(format!("{from} has no layer: add it to LAYERS"));
            continue;
        };
        for (to, files) in targets {
            match layer(to) {
                Some(theirs) if theirs < own => {}
                _ => wrong.push(format!("{from} -> {to} (in {})", files.iter().cloned().collect::<Vec<_>>().join(", "))),
            }
        }
    }
    assert!(wrong.is_empty(), "imports that do not go down a layer:\n{}", wrong.join("\n"));
}

#[test]
fn the_ui_and_wire_crates_have_no_import_circle() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for krate in ["app/src", "wire/src"] {
        let graph = imports(&root.join(krate));
        if let Some(circle) = circle(&graph) {
            panic!("{krate}: an import circle {}", circle.join(" -> "));
        }
    }
}

/// For each top-level module, the other top-level modules it names through
/// `crate::`, with the files that do. Tests inside a module are left out.
fn imports(src: &Path) -> Graph {
    let modules: BTreeSet<String> = fs::read_dir(src)
        .unwrap_or_else(|e| panic!("{}: {e}", src.display()))
        .map(|entry| entry.unwrap().path())
        .filter_map(|path| Some(path.file_stem()?.to_str()?.to_owned()))
        .filter(|name| name != "lib" && name != "main")
        .collect();
    let mut graph = Graph::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).unwrap();
        let first = relative.components().next().unwrap().as_os_str().to_str().unwrap();
        let from = first.trim_end_matches(".rs");
        if !modules.contains(from) {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]\nmod tests").next().unwrap();
        for to in crate_paths(code).into_iter().filter(|to| to != from && modules.contains(to)) {
            let files = graph.entry(from.to_owned()).or_default().entry(to).or_default();
            files.insert(relative.display().to_string());
        }
    }
    graph
}

fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The first names after each `crate::` of the code: `crate::a::b` gives `a`,
/// `crate::{a::b, c}` gives `a` and `c`. Line comments are skipped.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let code: String = code.lines().map(|line| line.split("//").next().unwrap()).collect::<Vec<_>>().join("\n");
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut names = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            names.insert(ident(rest));
            continue;
        };
        // The items of the group at its own depth, each up to a comma.
        let (mut depth, mut item_start) = (1, true);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 1 => break,
                '}' => depth -= 1,
                ',' if depth == 1 => item_start = true,
                c if c.is_whitespace() => {}
                _ if item_start && depth == 1 => {
                    names.insert(ident(&group[i..]));
                    item_start = false;
                }
                _ => {}
            }
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

/// An import circle of the graph, if it has one.
fn circle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(graph: &Graph, node: &str, path: &mut Vec<String>, done: &mut BTreeSet<String>) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut circle = path[start..].to_vec();
            circle.push(node.to_owned());
            return Some(circle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flat_map(|targets| targets.keys()) {
            if let Some(circle) = visit(graph, next, path, done) {
                return Some(circle);
            }
        }
        path.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(graph, node, &mut Vec::new(), &mut done))
}

#[test]
fn crate_paths_are_read_from_use_groups_and_paths() {
    let code = "use crate::{a::b, c, d::{e, f}};\nuse crate::g;\nlet x = crate::h::i(); // crate::j\n";
    let found: Vec<_> = crate_paths(code).into_iter().collect();
    assert_eq!(found, ["a", "c", "d", "g", "h"]);
}
