//! The codebase keeps its shape: stored attributes are read only by their record's mapping,
//! function crates stay a table of routes, and library modules stay small enough to hold.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// Code lines before the first `#[cfg(test)]`: not blank, not a comment.
fn code_lines(src: &str) -> usize {
    src.lines()
        .take_while(|l| !l.trim_start().starts_with("#[cfg(test)]"))
        .filter(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with("//")
        })
        .count()
}

/// `.s("name")`, `.n("name")`, `.bool("name")` or `.b("name")`: an attribute spelled in a flow.
fn raw_attribute_reads(src: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for (no, line) in src.lines().enumerate() {
        for reader in [".s(\"", ".n(\"", ".bool(\"", ".b(\""] {
            if line.contains(reader) {
                hits.push(format!("{}: {}", no + 1, line.trim()));
            }
        }
    }
    hits
}

#[test]
fn no_flow_or_handler_spells_a_stored_attribute_name() {
    let root = repo();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("functions"), &mut files);
    let mut offenders = Vec::new();
    for f in files {
        let rel = f.strip_prefix(&root).unwrap_or(&f).display().to_string();
        if rel.starts_with("crates/store/") || rel.starts_with("crates/store-sqlite/") {
            continue;
        }
        let src = std::fs::read_to_string(&f).expect("read");
        // A record's own mapping is the one place its attributes are read.
        if src.contains("TryFrom<&Item>") {
            continue;
        }
        for hit in raw_attribute_reads(&src) {
            offenders.push(format!("{rel}:{hit}"));
        }
    }
    assert!(
        offenders.is_empty(),
        "raw attribute reads outside record mappings:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn function_crates_are_a_table_of_routes() {
    let root = repo();
    let mut fat = Vec::new();
    for entry in std::fs::read_dir(root.join("functions"))
        .expect("functions")
        .flatten()
    {
        let mut files = Vec::new();
        rust_files(&entry.path().join("src"), &mut files);
        let lines: usize = files
            .iter()
            .map(|f| code_lines(&std::fs::read_to_string(f).expect("read")))
            .sum();
        if lines > 150 {
            fat.push(format!("{}: {lines}", entry.file_name().to_string_lossy()));
        }
    }
    assert!(
        fat.is_empty(),
        "function crates over 150 code lines: {fat:?}"
    );
}

#[test]
fn library_modules_stay_small_enough_to_hold() {
    let root = repo();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    // "About 400": a module that passes it with two reasons to change is split.
    let big: Vec<String> = files
        .iter()
        .filter_map(|f| {
            let n = code_lines(&std::fs::read_to_string(f).expect("read"));
            (n > 420).then(|| format!("{}: {n}", f.strip_prefix(&root).unwrap_or(f).display()))
        })
        .collect();
    assert!(
        big.is_empty(),
        "library modules over ~400 code lines: {big:?}"
    );
}
