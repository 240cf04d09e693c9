//! The retention setting: `RETENTION_POLICIES`, a JSON list that overrides or adds
//! rows of the retention policy table (`retention::policies`). Here the list is read and its
//! shape checked (a malformed list stops startup, naming the entry and member); whether each
//! row fits its kind (known kind, its age field, a period TTL can honour) is checked against
//! the table by `retention::policies::effective`, which every function runs at startup.

use serde::{Deserialize, Serialize};

use super::setting::{Fallback, Kind, Setting};

/// What a policy does to an item past its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Delete,
    /// Removes the kind's personal attributes and keeps the rest.
    Anonymise,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Delete => "delete",
            Action::Anonymise => "anonymise",
        }
    }
}

/// One row of `RETENTION_POLICIES`: a row of the built-in table (by `name`) with the members
/// given replaced, or a new row with every member given.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    pub name: String,
    pub kind: Option<String>,
    pub age_field: Option<String>,
    pub keep_days: Option<i64>,
    pub action: Option<Action>,
}

/// Parses the list, refusing anything but names of `[a-z0-9_]` and periods of 0 days or more.
pub fn parse(json: &str) -> Result<Vec<PolicyOverride>, String> {
    let rows: Vec<PolicyOverride> = serde_json::from_str(json).map_err(|e| {
        format!("must be a JSON list of {{name, kind, age_field, keep_days, action}}: {e}")
    })?;
    let mut seen = std::collections::HashSet::new();
    for (i, row) in rows.iter().enumerate() {
        let ok_name = !row.name.is_empty()
            && row.name.len() <= 64
            && row
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok_name {
            return Err(format!("entry {i}: name must be 1 to 64 of a-z, 0-9 and _"));
        }
        if !seen.insert(row.name.as_str()) {
            return Err(format!("entry {i}: {} appears twice", row.name));
        }
        if row.keep_days.is_some_and(|d| !(0..=100 * 365).contains(&d)) {
            return Err(format!("{}: keep_days must be 0 to 36500", row.name));
        }
    }
    Ok(rows)
}

pub(super) const RETENTION_POLICIES: Setting = Setting {
    name: "RETENTION_POLICIES",
    kind: Kind::Text,
    default: Fallback::Unset("(built-in table, see Retention)"),
    production: None,
    doc: "JSON list overriding or adding retention policies, e.g. `[{\"name\": \"audit_ip_hashes\", \"keep_days\": 90}]`; a row TTL cannot honour, or one removing webhook events inside their deduplication window, stops startup",
    apply: |s, v| {
        s.retention_policies = match v {
            Some(json) => parse(json)?,
            None => Vec::new(),
        };
        Ok(())
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_are_named_rows_with_sane_periods() {
        let rows = parse(r#"[{"name": "webhook_events", "keep_days": 90}]"#).unwrap();
        assert_eq!(rows[0].keep_days, Some(90));
        assert!(parse(r#"[{"name": "Bad Name"}]"#).is_err());
        assert!(parse(r#"[{"name": "a", "keep_days": -1}]"#).is_err());
        assert!(parse(r#"[{"name": "a"}, {"name": "a"}]"#).is_err());
        assert!(parse(r#"[{"name": "a", "action": "shred"}]"#).is_err());
        assert!(parse(r#"{"name": "a"}"#).is_err());
    }
}
