//! The crate graph stays what `docs/architecture.md` draws: layers below, domains side by side
//! above them (a domain depends on another only through the typed interfaces listed here), no
//! Lambda function links the embedded SQLite engine, and no two files of one crate import each
//! other in a circle. Read from `cargo metadata` and the sources, so a new dependency or `use`
//! that breaks a rule fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The domains: each owns its records; none may depend on another but through `ALLOWED`.
const DOMAINS: &[&str] = &[
    "rampart-auth",
    "rampart-billing",
    "rampart-orders",
    "rampart-webhooks",
    "rampart-gdpr",
];

/// What a domain crate may depend on among the workspace's crates: the layers below it
/// (platform, store, http), the Stripe adapter, the typed events between domains, and auth:
/// the identity every domain asks (who is calling, owner accounts, re-authentication). The
/// same list is in docs/architecture.md.
const ALLOWED: &[&str] = &[
    "rampart-platform",
    "rampart-store",
    "rampart-http",
    "rampart-stripe",
    "rampart-events",
    "rampart-auth",
];

/// Crates nothing deployed may carry: the embedded store and its engine.
const EMBEDDED: &[&str] = &["rampart-store-sqlite", "rusqlite", "libsqlite3-sys"];

struct Metadata {
    /// Package id -> name.
    names: BTreeMap<String, String>,
    /// Workspace package names.
    members: BTreeSet<String>,
    /// Package id -> the ids of its normal (not dev, not build) dependencies.
    normal: BTreeMap<String, Vec<String>>,
}

fn metadata() -> Metadata {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked"])
        .current_dir(repo())
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let mut names = BTreeMap::new();
    for p in v["packages"].as_array().expect("packages") {
        names.insert(
            p["id"].as_str().unwrap_or_default().to_string(),
            p["name"].as_str().unwrap_or_default().to_string(),
        );
    }
    let members = v["workspace_members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|id| names.get(id.as_str()?).cloned())
        .collect();
    let mut normal = BTreeMap::new();
    for node in v["resolve"]["nodes"].as_array().expect("resolve") {
        let id = node["id"].as_str().unwrap_or_default().to_string();
        let deps = node["deps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|k| k["kind"].is_null())
            })
            .filter_map(|d| d["pkg"].as_str().map(str::to_string))
            .collect();
        normal.insert(id, deps);
    }
    Metadata {
        names,
        members,
        normal,
    }
}

impl Metadata {
    fn id_of(&self, name: &str) -> String {
        self.names
            .iter()
            .find(|(_, n)| n.as_str() == name)
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| panic!("no package {name}"))
    }

    /// The workspace crates `name` depends on directly (normal dependencies).
    fn direct_members(&self, name: &str) -> BTreeSet<String> {
        self.normal[&self.id_of(name)]
            .iter()
            .map(|id| self.names[id].clone())
            .filter(|n| self.members.contains(n))
            .collect()
    }

    /// Every package `name` links (normal dependencies, transitively).
    fn linked(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![self.id_of(name)];
        while let Some(id) = stack.pop() {
            for d in &self.normal[&id] {
                if seen.insert(d.clone()) {
                    stack.push(d.clone());
                }
            }
        }
        seen.into_iter().map(|id| self.names[&id].clone()).collect()
    }
}

/// The domains a domain crate depends on outside `ALLOWED`.
fn forbidden_edges(deps: &BTreeSet<String>) -> Vec<String> {
    deps.iter()
        .filter(|d| DOMAINS.contains(&d.as_str()) && !ALLOWED.contains(&d.as_str()))
        .cloned()
        .collect()
}

#[test]
fn domains_depend_on_each_other_only_through_the_listed_interfaces() {
    let m = metadata();
    let mut broken = Vec::new();
    for domain in DOMAINS {
        let bad = forbidden_edges(&m.direct_members(domain));
        if !bad.is_empty() {
            broken.push(format!("{domain} -> {bad:?}"));
        }
    }
    assert!(
        broken.is_empty(),
        "domains side by side: {broken:?} (allowed: {ALLOWED:?})"
    );
}

#[test]
fn the_rule_catches_a_domain_importing_another() {
    let deps: BTreeSet<String> = ["rampart-http", "rampart-auth", "rampart-orders"]
        .into_iter()
        .map(String::from)
        .collect();
    assert_eq!(forbidden_edges(&deps), vec!["rampart-orders".to_string()]);
}

/// The Lambda functions: every package under `functions/`.
fn functions(m: &Metadata) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(repo().join("functions"))
        .expect("functions")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| m.members.contains(n))
        .collect();
    out.sort();
    out
}

#[test]
fn no_lambda_function_links_the_embedded_store() {
    let m = metadata();
    let fns = functions(&m);
    assert_eq!(
        fns.len(),
        8,
        "every function is a workspace member: {fns:?}"
    );
    let mut carrying = Vec::new();
    for f in &fns {
        let linked = m.linked(f);
        let bad: Vec<&&str> = EMBEDDED.iter().filter(|e| linked.contains(**e)).collect();
        if !bad.is_empty() {
            carrying.push(format!("{f}: {bad:?}"));
        }
    }
    assert!(carrying.is_empty(), "Lambdas carrying SQLite: {carrying:?}");
    // The check can see SQLite where it is: the local stack links it.
    assert!(m.linked("rampart-local").contains("rusqlite"));
}

/// The first segment of every `crate::a::...` path and of every name in `use crate::{a, b::c}`,
/// resolved to files, and every `super::x` likewise.
fn imported_files(file: &Path, src: &Path, code: &str) -> BTreeSet<PathBuf> {
    let module_dir = |f: &Path| -> PathBuf {
        // The directory a file's child modules live in.
        let stem = f.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if stem == "mod" || stem == "lib" || stem == "main" {
            f.parent().unwrap_or(src).to_path_buf()
        } else {
            f.with_extension("")
        }
    };
    let parent_dir = module_dir(file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| src.to_path_buf());
    // The deepest file a path of segments from `base` names.
    let resolve = |base: &Path, segs: &[&str]| -> Option<PathBuf> {
        for n in (1..=segs.len()).rev() {
            let mut p = base.to_path_buf();
            for s in &segs[..n] {
                p.push(s);
            }
            for cand in [p.with_extension("rs"), p.join("mod.rs")] {
                if cand.is_file() {
                    return Some(cand);
                }
            }
        }
        None
    };
    let mut out = BTreeSet::new();
    let code = code.split("#[cfg(test)]").next().unwrap_or_default();
    for (prefix, base) in [
        ("crate::", src.to_path_buf()),
        ("super::", parent_dir.clone()),
    ] {
        for (i, _) in code.match_indices(prefix) {
            // `a::b::c` or `{a::b, c}` after the prefix.
            let rest = &code[i + prefix.len()..];
            let paths: Vec<String> = if let Some(group) = rest.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                group.split(',').map(|p| p.trim().to_string()).collect()
            } else {
                vec![rest.to_string()]
            };
            for p in paths {
                let segs: Vec<&str> = p
                    .split("::")
                    .map(|s| {
                        let end = s
                            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                            .unwrap_or(s.len());
                        &s[..end]
                    })
                    .take_while(|s| !s.is_empty())
                    .collect();
                if let Some(target) = resolve(&base, &segs)
                    && target != file
                {
                    out.insert(target);
                }
            }
        }
    }
    out
}

/// A circle in a graph of files, if there is one.
fn find_cycle(graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>) -> Option<Vec<PathBuf>> {
    fn visit(
        node: &PathBuf,
        graph: &BTreeMap<PathBuf, BTreeSet<PathBuf>>,
        path: &mut Vec<PathBuf>,
        done: &mut BTreeSet<PathBuf>,
    ) -> Option<Vec<PathBuf>> {
        if let Some(at) = path.iter().position(|p| p == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.clone());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(node.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// File -> the files of the same crate it imports (`lib.rs`/`mod.rs` re-exports aside: a
/// parent naming its children is how modules are declared, not an import).
fn file_graph(src: &Path) -> BTreeMap<PathBuf, BTreeSet<PathBuf>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut graph = BTreeMap::new();
    for f in files {
        let code = std::fs::read_to_string(&f).expect("read");
        let mut targets = imported_files(&f, src, &code);
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name == "lib.rs" || name == "mod.rs" {
            // What a module root re-exports from below it is its own children.
            let own = f.parent().unwrap_or(src).to_path_buf();
            targets.retain(|t| !t.starts_with(&own));
        }
        graph.insert(f, targets);
    }
    graph
}

#[test]
fn no_two_files_of_a_crate_import_each_other_in_a_circle() {
    let root = repo();
    let mut circles = Vec::new();
    for dir in ["crates", "functions", "infra", "bench"] {
        for entry in std::fs::read_dir(root.join(dir))
            .into_iter()
            .flatten()
            .flatten()
        {
            let src = entry.path().join("src");
            if !src.is_dir() {
                continue;
            }
            if let Some(c) = find_cycle(&file_graph(&src)) {
                let names: Vec<String> = c
                    .iter()
                    .map(|p| p.strip_prefix(&root).unwrap_or(p).display().to_string())
                    .collect();
                circles.push(names.join(" -> "));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn the_circle_finder_finds_a_planted_circle() {
    let dir = std::env::temp_dir().join(format!("circle-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("a")).unwrap();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(src.join("a/mod.rs"), "mod x;\nuse crate::b::Thing;\n").unwrap();
    std::fs::write(src.join("a/x.rs"), "pub struct X;\n").unwrap();
    std::fs::write(src.join("b.rs"), "use crate::a::{x::X, Other};\n").unwrap();
    let cycle = find_cycle(&file_graph(&src)).expect("a circle");
    let names: Vec<String> = cycle
        .iter()
        .map(|p| p.strip_prefix(&src).unwrap().display().to_string())
        .collect();
    assert!(names.contains(&"b.rs".to_string()), "{names:?}");
    assert!(names.contains(&"a/mod.rs".to_string()), "{names:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// The account's attributes only auth writes or conditions on (sign-in, sessions, devices):
/// another domain reaches them through auth's typed calls (`rampart_auth::closing`, `reauth`).
const AUTH_ONLY: &[&str] = &[
    "EMAIL",
    "EMAIL_VERIFIED",
    "PASSWORD_HASH",
    "SESSION_GEN",
    "DEVICE_GEN",
    "CREATED_AT",
];

/// Each `User::NAME` constant (an attribute or a stored value of the account record) a file
/// names, but `KIND`, which every domain may use to recognise the record.
fn account_constants(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("User::") {
        let rest = &code[i + "User::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        let whole_word = code[..i]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric() && c != '_');
        if whole_word && name.len() > 1 && name != "KIND" {
            out.insert(name);
        }
    }
    out
}

/// Where a domain other than auth names an attribute of auth's account record: `crate/file:
/// NAME`. (Billing's part of the same item is `rampart_billing::account::BillingAccount`, whose
/// attribute names are private to billing, so the compiler keeps every other crate off them.)
fn foreign_account_writes(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for domain in DOMAINS.iter().filter(|d| **d != "rampart-auth") {
        let dir = root
            .join("crates")
            .join(domain.trim_start_matches("rampart-"));
        let mut files = Vec::new();
        rust_files(&dir.join("src"), &mut files);
        for file in files {
            let code = std::fs::read_to_string(&file).unwrap_or_default();
            for name in account_constants(&code) {
                let rel = file
                    .strip_prefix(root)
                    .unwrap_or(&file)
                    .display()
                    .to_string();
                found.push(format!("{rel}: User::{name}"));
            }
        }
    }
    found
}

#[test]
fn no_domain_but_auth_names_the_accounts_attributes() {
    let found = foreign_account_writes(&repo());
    assert!(
        found.is_empty(),
        "auth's account attributes named outside auth (ask auth through a typed call): {found:?}"
    );
}

#[test]
fn the_attribute_rule_catches_a_domain_writing_the_accounts_password() {
    let code = "let u = Update::new().set(User::PASSWORD_HASH, h).set(User::PLAN, p); User::KIND";
    let names = account_constants(code);
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["PASSWORD_HASH", "PLAN"]
    );
    assert!(AUTH_ONLY.contains(&"PASSWORD_HASH"));
}
