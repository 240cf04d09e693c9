//! Tests over the repository's own text: README sections generated from code stay in step with
//! it, and the crate's top-level modules depend on each other without a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_path_buf()
}

/// Fails unless README's text between `<!-- {name}:begin -->` and `<!-- {name}:end -->` equals
/// `generated`. With `RAMPART_BLESS=1` it rewrites that section instead.
pub fn check_readme_section(name: &str, generated: &str) {
    let path = repo_root().join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let begin = format!("<!-- {name}:begin -->\n");
    let end = format!("<!-- {name}:end -->");
    let start = readme
        .find(&begin)
        .unwrap_or_else(|| panic!("README.md lacks the marker {begin:?}"))
        + begin.len();
    let stop = start
        + readme[start..]
            .find(&end)
            .unwrap_or_else(|| panic!("README.md lacks the marker {end:?}"));
    if &readme[start..stop] == generated {
        return;
    }
    if std::env::var("RAMPART_BLESS").is_ok_and(|v| v == "1") {
        let updated = format!("{}{generated}{}", &readme[..start], &readme[stop..]);
        std::fs::write(&path, updated).expect("write README.md");
        return;
    }
    panic!(
        "README.md's {name} table differs from the declarations; regenerate it with \
         `RAMPART_BLESS=1 cargo test -p rampart readme_` and review the diff.\n\
         --- README\n{}\n--- generated\n{generated}",
        &readme[start..stop]
    );
}

/// Top-level module -> the top-level modules its non-test code names through `crate::`.
fn module_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut modules = BTreeSet::new();
    for entry in std::fs::read_dir(&src).expect("src") {
        let path = entry.expect("entry").path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if path.is_dir() || (path.extension().is_some_and(|e| e == "rs") && stem != "lib") {
            modules.insert(stem.to_string());
        }
    }
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(&src).expect("under src");
            let first = rel.components().next().expect("component");
            let owner = Path::new(first.as_os_str())
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("")
                .to_string();
            if !modules.contains(&owner) {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("source");
            // Unit tests may reach anywhere; only the shipped code counts.
            let code = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
            let deps = graph.entry(owner.clone()).or_default();
            for used in crate_paths(code) {
                if used != owner && modules.contains(&used) {
                    deps.insert(used);
                }
            }
        }
    }
    graph
}

/// The first segment of every `crate::a::...` path and of every name in `use crate::{a, b::c}`.
fn crate_paths(code: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            // Nested groups (`a::{b, c}`) only add names below their first segment.
            let mut depth = 0;
            let mut start = 0;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(ident(group[start..j].trim()));
                        start = j + 1;
                    }
                    _ => {}
                }
            }
            out.push(ident(group[start..].trim()));
        } else {
            out.push(ident(rest));
        }
    }
    out
}

/// A circle of top-level modules, if there is one.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn top_level_modules_import_each_other_without_a_circle() {
    let graph = module_graph();
    assert!(graph.contains_key("config") && graph.contains_key("http"));
    if let Some(cycle) = find_cycle(&graph) {
        panic!(
            "import circle between shared modules: {}",
            cycle.join(" -> ")
        );
    }
}

#[test]
fn settings_need_neither_the_rate_limiter_nor_the_http_layer() {
    let graph = module_graph();
    let config = &graph["config"];
    assert!(
        !config.contains("ratelimit") && !config.contains("http"),
        "{config:?}"
    );
}

#[test]
fn the_cycle_finder_finds_a_planted_circle() {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (a, b) in [
        ("config", "ratelimit"),
        ("ratelimit", "http"),
        ("http", "config"),
    ] {
        graph.entry(a.into()).or_default().insert(b.into());
    }
    assert_eq!(
        find_cycle(&graph),
        Some(
            vec!["config", "ratelimit", "http", "config"]
                .into_iter()
                .map(String::from)
                .collect()
        )
    );
    assert_eq!(
        crate_paths("use crate::{error::ApiError, store::{keys, Item}};\nlet x = crate::http::X;"),
        vec!["error", "store", "http"]
    );
}

#[test]
fn the_rate_limit_counter_does_not_import_the_http_layer() {
    let core =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ratelimit/mod.rs"))
            .expect("ratelimit/mod.rs");
    let code = core.split("#[cfg(test)]").next().unwrap_or("");
    assert!(
        !crate_paths(code).iter().any(|m| m == "http") && !code.contains("axum::"),
        "ratelimit/mod.rs counts; its HTTP half lives in ratelimit/http.rs"
    );
}
