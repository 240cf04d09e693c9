//! The one tier table: what each plan may use (daily API calls, concurrent builds, private
//! repos, team members, marketplace agents), the built-in numbers of the paid-tiers write-up overridable by the
//! `TIERS` JSON setting (validated at startup). Users (by their stored `plan`, through
//! `billing`) and customer instances (licenses) read the same table. Pure data: settings hold
//! it, so it imports nothing of the crate (`billing::tiers::require` answers the 403).

use std::collections::BTreeSet;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Starter,
    Pro,
    Enterprise,
}

impl Tier {
    /// Cheapest first: the order upgrades go in.
    pub const ALL: [Tier; 4] = [Tier::Free, Tier::Starter, Tier::Pro, Tier::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Starter => "starter",
            Tier::Pro => "pro",
            Tier::Enterprise => "enterprise",
        }
    }

    pub fn parse(s: &str) -> Option<Tier> {
        Tier::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The tier a stored plan names. An unknown name (a price missing from `STRIPE_PRICES`, a
    /// hand-edited item) counts as free, never as unlimited, and is logged once per name.
    pub fn of_plan(plan: &str) -> Tier {
        if let Some(t) = Tier::parse(plan) {
            return t;
        }
        static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
        let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a flood of distinct bad names cannot grow this set without limit.
        if seen.len() < 64 && seen.insert(plan.to_string()) {
            tracing::warn!(plan, "unknown tier in a stored plan; treated as free");
        }
        Tier::Free
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A limited feature: one column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    ApiCallsPerDay,
    ConcurrentBuilds,
    PrivateRepos,
    TeamMembers,
    MarketplaceAgents,
}

impl Feature {
    pub const ALL: [Feature; 5] = [
        Feature::ApiCallsPerDay,
        Feature::ConcurrentBuilds,
        Feature::PrivateRepos,
        Feature::TeamMembers,
        Feature::MarketplaceAgents,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Feature::ApiCallsPerDay => "api_calls_per_day",
            Feature::ConcurrentBuilds => "concurrent_builds",
            Feature::PrivateRepos => "private_repos",
            Feature::TeamMembers => "team_members",
            Feature::MarketplaceAgents => "marketplace_agents",
        }
    }
}

/// What a tier may use. `None` is unlimited (JSON `null`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub api_calls_per_day: Option<u64>,
    pub concurrent_builds: Option<u64>,
    pub private_repos: Option<u64>,
    pub team_members: Option<u64>,
    pub marketplace_agents: Option<u64>,
}

impl Limits {
    pub fn get(&self, f: Feature) -> Option<u64> {
        match f {
            Feature::ApiCallsPerDay => self.api_calls_per_day,
            Feature::ConcurrentBuilds => self.concurrent_builds,
            Feature::PrivateRepos => self.private_repos,
            Feature::TeamMembers => self.team_members,
            Feature::MarketplaceAgents => self.marketplace_agents,
        }
    }

    fn set(&mut self, f: Feature, v: Option<u64>) {
        match f {
            Feature::ApiCallsPerDay => self.api_calls_per_day = v,
            Feature::ConcurrentBuilds => self.concurrent_builds = v,
            Feature::PrivateRepos => self.private_repos = v,
            Feature::TeamMembers => self.team_members = v,
            Feature::MarketplaceAgents => self.marketplace_agents = v,
        }
    }
}

/// Every tier's limits, indexed by `Tier`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table([Limits; 4]);

impl Default for Table {
    /// The paid-tiers write-up's table (`TIER_FEATURES`).
    fn default() -> Self {
        let l = |calls, builds, repos, members, agents| Limits {
            api_calls_per_day: Some(calls),
            concurrent_builds: Some(builds),
            private_repos: Some(repos),
            team_members: Some(members),
            marketplace_agents: Some(agents),
        };
        let unlimited = Limits {
            api_calls_per_day: None,
            concurrent_builds: None,
            private_repos: None,
            team_members: None,
            marketplace_agents: None,
        };
        Table([
            l(100, 1, 0, 1, 0),
            l(1_000, 3, 5, 3, 5),
            l(10_000, 10, 50, 10, 25),
            unlimited,
        ])
    }
}

impl Table {
    pub fn limits(&self, tier: Tier) -> Limits {
        self.0[tier.index()]
    }

    /// The `TIERS` setting: `{"pro": {"api_calls_per_day": 20000, ...}, ...}`. Tiers and columns
    /// left out keep the built-in numbers; `null` is unlimited. Refused (naming the entry): an
    /// unknown tier or column, a value that is not a non-negative integer or null, and a table
    /// where a dearer tier allows less than a cheaper one (an upgrade must never take away).
    pub fn parse(json: &str) -> Result<Self, String> {
        let v: Json = serde_json::from_str(json).map_err(|e| format!("is not JSON: {e}"))?;
        let obj = v.as_object().ok_or("must be a JSON object of tiers")?;
        let mut table = Table::default();
        for (name, cols) in obj {
            let tier =
                Tier::parse(name).ok_or_else(|| format!("names an unknown tier {name:?}"))?;
            let cols: &Map<String, Json> = cols
                .as_object()
                .ok_or_else(|| format!("{name} must be an object of limits"))?;
            for (col, val) in cols {
                let f = Feature::ALL
                    .into_iter()
                    .find(|f| f.as_str() == col)
                    .ok_or_else(|| format!("{name} names an unknown limit {col:?}"))?;
                let n = match val {
                    Json::Null => None,
                    v => Some(v.as_u64().ok_or_else(|| {
                        format!("{name}.{col} must be a non-negative integer or null")
                    })?),
                };
                table.0[tier.index()].set(f, n);
            }
        }
        for f in Feature::ALL {
            for pair in Tier::ALL.windows(2) {
                let (lo, hi) = (table.limits(pair[0]).get(f), table.limits(pair[1]).get(f));
                let shrinks = match (lo, hi) {
                    (None, Some(_)) => true,
                    (Some(a), Some(b)) => b < a,
                    _ => false,
                };
                if shrinks {
                    return Err(format!(
                        "{}.{} is lower than {}.{}",
                        pair[1].as_str(),
                        f.as_str(),
                        pair[0].as_str(),
                        f.as_str()
                    ));
                }
            }
        }
        Ok(table)
    }

    /// The cheapest tier allowing more than `current` of `f`, if any.
    pub fn lifts(&self, f: Feature, current: u64) -> Option<Tier> {
        Tier::ALL
            .into_iter()
            .find(|t| self.limits(*t).get(f).is_none_or(|l| current < l))
    }

    /// `None` when a holder of `tier` using `current` of `f` may have one more; otherwise why
    /// not, naming the feature, the limit and the tier that lifts it.
    pub fn refusal(&self, tier: Tier, f: Feature, current: u64) -> Option<String> {
        let limit = self.limits(tier).get(f)?;
        if current < limit {
            return None;
        }
        let lifted_by = match self.lifts(f, current) {
            Some(t) => format!("the {} tier lifts it", t.as_str()),
            None => "no tier lifts it".into(),
        };
        Some(format!(
            "Your {} tier allows {limit} {}; {lifted_by}.",
            tier.as_str(),
            f.as_str(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_plans_count_as_free() {
        for t in Tier::ALL {
            assert_eq!(Tier::parse(t.as_str()), Some(t));
        }
        assert_eq!(Tier::parse("Pro"), None);
        assert_eq!(Tier::of_plan("platinum"), Tier::Free);
        assert_eq!(Tier::of_plan("pro"), Tier::Pro);
    }

    #[test]
    fn the_built_in_table_is_the_issues() {
        let t = Table::default();
        assert_eq!(t.limits(Tier::Free).api_calls_per_day, Some(100));
        assert_eq!(t.limits(Tier::Starter).private_repos, Some(5));
        assert_eq!(t.limits(Tier::Pro).marketplace_agents, Some(25));
        assert_eq!(t.limits(Tier::Enterprise).team_members, None);
        let v = serde_json::to_value(t.limits(Tier::Enterprise)).unwrap();
        assert!(v["api_calls_per_day"].is_null());
    }

    #[test]
    fn overrides_merge_and_bad_tables_are_refused_by_name() {
        let t = Table::parse(r#"{"pro": {"api_calls_per_day": 20000}}"#).unwrap();
        assert_eq!(t.limits(Tier::Pro).api_calls_per_day, Some(20_000));
        assert_eq!(t.limits(Tier::Pro).private_repos, Some(50));
        let e = |j: &str| Table::parse(j).unwrap_err();
        assert!(e(r#"{"gold": {}}"#).contains("gold"));
        assert!(e(r#"{"pro": {"seats": 1}}"#).contains("seats"));
        assert!(e(r#"{"pro": {"team_members": -1}}"#).contains("pro.team_members"));
        assert!(e(r#"{"starter": {"private_repos": 100}}"#).contains("pro.private_repos"));
        assert!(e("[1]").contains("object"));
        assert!(e("{").contains("JSON"));
    }

    #[test]
    fn a_refusal_names_the_feature_the_limit_and_the_tier_that_lifts_it() {
        let t = Table::default();
        assert_eq!(t.refusal(Tier::Starter, Feature::PrivateRepos, 4), None);
        let msg = t.refusal(Tier::Free, Feature::PrivateRepos, 0).unwrap();
        assert!(msg.contains("allows 0 private_repos"), "{msg}");
        assert!(msg.contains("the starter tier lifts it"), "{msg}");
        let pro = t.refusal(Tier::Pro, Feature::PrivateRepos, 50).unwrap();
        assert!(pro.contains("the enterprise tier lifts it"));
        assert_eq!(
            t.refusal(Tier::Enterprise, Feature::PrivateRepos, 1 << 40),
            None
        );
    }
}
