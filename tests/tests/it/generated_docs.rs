//! Reference tables in the docs are generated from the declarations in code (settings, secrets)
//! and stay in step with them. To regenerate after changing a declaration:
//! `RAMPART_BLESS=1 cargo test -p rampart-tests --test it generated_docs::`, then review the diff.

use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Fails unless `file`'s text between `<!-- {name}:begin -->` and `<!-- {name}:end -->` equals
/// `generated`. With `RAMPART_BLESS=1` it rewrites that section instead.
fn check_section(file: &str, name: &str, generated: &str) {
    let path = repo().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let begin = format!("<!-- {name}:begin -->\n");
    let end = format!("<!-- {name}:end -->");
    let start = text
        .find(&begin)
        .unwrap_or_else(|| panic!("{file} lacks the marker {begin:?}"))
        + begin.len();
    let stop = start
        + text[start..]
            .find(&end)
            .unwrap_or_else(|| panic!("{file} lacks the marker {end:?}"));
    if &text[start..stop] == generated {
        return;
    }
    if std::env::var("RAMPART_BLESS").is_ok_and(|v| v == "1") {
        let updated = format!("{}{generated}{}", &text[..start], &text[stop..]);
        std::fs::write(&path, updated).unwrap_or_else(|e| panic!("write {file}: {e}"));
        return;
    }
    panic!(
        "{file}'s {name} table differs from the declarations; regenerate it with \
         `RAMPART_BLESS=1 cargo test -p rampart-tests --test it generated_docs::` and review the \
         diff.\n--- {file}\n{}\n--- generated\n{generated}",
        &text[start..stop]
    );
}

#[test]
fn the_settings_reference_matches_the_declarations() {
    check_section(
        "docs/configuration.md",
        "settings",
        &rampart_platform::config::readme_table(),
    );
}

#[test]
fn the_secrets_reference_matches_the_declarations() {
    check_section(
        "docs/configuration.md",
        "secrets",
        &rampart_platform::secrets::check::readme_table(),
    );
}
