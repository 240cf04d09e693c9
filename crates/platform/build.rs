//! The text this repository publishes, reduced to what the production secret check needs
//! (`src/secrets/check.rs`, `published`): a secret found in the README, the docs, the examples or
//! the template is known to everyone and must not serve production.
//!
//! The check only ever looks for values of 16 bytes or more, so it needs only the text's
//! whitespace-separated words of 16 bytes or more, not the text itself: any value without
//! whitespace that occurs in a text lies inside one such word. Embedding the texts put about
//! 290 KB of docs into every Lambda binary and grew them all with each doc edit; the words are a
//! few tens of KB. They are written, sorted, one a line, to `$OUT_DIR/published_tokens.txt`.
//!
//! Words end only at whitespace, not at the edge of a narrower "secret alphabet" (letters, digits
//! and base64's symbols): a value with other punctuation, such as `http://127.0.0.1:3000/auth`
//! or a password manager's output, is then still found exactly. That costs about 23 KB more
//! than the narrower split would.

use std::{env, fs, path::Path};

/// The published files, from the workspace root.
const PUBLISHED: &[&str] = &[
    "README.md",
    "samconfig.toml.example",
    "template.yaml",
    "docs/api.md",
    "docs/architecture.md",
    "docs/auth.md",
    "docs/billing.md",
    "docs/browser-apps.md",
    "docs/configuration.md",
    "docs/deploy.md",
    "docs/gdpr.md",
    "docs/local-development.md",
    "docs/operations.md",
    "docs/orders.md",
    "docs/performance.md",
    "docs/troubleshooting.md",
    "docs/webhooks.md",
    "CONTRIBUTING.md",
    "SECURITY.md",
];

/// As in `check.rs`: shorter values are not checked, so shorter words are never needed.
const MIN_LEN: usize = 16;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut texts = Vec::new();
    for file in PUBLISHED {
        let path = root.join(file);
        println!("cargo:rerun-if-changed={}", path.display());
        let text =
            fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        texts.push(text);
    }
    let mut words: Vec<&str> = texts
        .iter()
        .flat_map(|t| t.split_whitespace())
        .filter(|w| w.len() >= MIN_LEN)
        .collect();
    // Longest first, so a word inside one already kept is dropped: the check searches with
    // `contains`, which finds it in the longer one.
    words.sort_unstable_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    words.dedup();
    let mut joined = String::new();
    let mut kept = Vec::new();
    for w in words {
        if !joined.contains(w) {
            joined.push_str(w);
            joined.push('\n');
            kept.push(w);
        }
    }
    kept.sort_unstable();
    let mut out = kept.join("\n");
    out.push('\n');
    let dest = Path::new(&env::var("OUT_DIR").expect("OUT_DIR")).join("published_tokens.txt");
    fs::write(&dest, out).unwrap_or_else(|e| panic!("writing {}: {e}", dest.display()));
}
