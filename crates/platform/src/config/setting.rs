//! What a setting declaration is (`Setting`: name, kind, default, production rule, meaning,
//! how it is stored) and docs/configuration.md's table rendered from the declarations.

use super::{SETTINGS, Settings};

/// What kind of value a setting holds (the "kind" column of docs/configuration.md; a unit kind fixes the suffix of
/// the setting's name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Choice,
    Bool,
    Count,
    Bytes,
    Seconds,
    Address,
    Path,
    Url,
    List,
    Rate,
    LogFilter,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Choice => "choice",
            Kind::Bool => "bool",
            Kind::Count => "count",
            Kind::Bytes => "bytes",
            Kind::Seconds => "seconds",
            Kind::Address => "host:port",
            Kind::Path => "path",
            Kind::Url => "URL",
            Kind::List => "list",
            Kind::Rate => "`<n>/<window>`",
            Kind::LogFilter => "log filter",
        }
    }

    /// The suffix a setting of this kind must carry, so its unit is in its name.
    pub fn required_suffix(self) -> Option<&'static str> {
        match self {
            Kind::Seconds => Some("_SECS"),
            Kind::Bytes => Some("_BYTES"),
            _ => None,
        }
    }
}

/// A setting's default: a value parsed exactly as if it had been set, or a description of what
/// happens when it is not set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    Value(&'static str),
    Unset(&'static str),
}

/// A condition production refuses to start without.
pub struct Production {
    /// docs/configuration.md wording, completing "in production, NAME ...".
    pub rule: &'static str,
    /// `Err(detail)` when the settings break the rule.
    pub(super) holds: fn(&Settings) -> Result<(), String>,
}

pub struct Setting {
    pub name: &'static str,
    pub kind: Kind,
    pub default: Fallback,
    pub production: Option<Production>,
    pub doc: &'static str,
    /// Stores the value (`None`: unset and the default is `Unset`). `Err` says what is wrong,
    /// without the name.
    pub(super) apply: fn(&mut Settings, Option<&str>) -> Result<(), String>,
}

/// The settings reference table (docs), generated from `SETTINGS`.
pub fn readme_table() -> String {
    let mut out = String::from(
        "| setting | kind | default | in production | meaning |\n|---|---|---|---|---|\n",
    );
    for s in SETTINGS {
        let default = match s.default {
            Fallback::Value(v) => format!("`{v}`"),
            Fallback::Unset(d) => d.to_string(),
        };
        let prod = s.production.as_ref().map_or("", |p| p.rule);
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            s.name,
            s.kind.label(),
            default,
            prod,
            s.doc
        ));
    }
    out
}
