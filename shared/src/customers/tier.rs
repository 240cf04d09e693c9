//! Customer tiers and the limits a license carries to the instance. The numbers are the tier
//! table of the billing issue (9); when billing's own tier table lands, this one should read
//! from it instead of keeping a copy.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Free,
    Starter,
    Pro,
    Enterprise,
}

/// What an instance on a tier may use. `None` is unlimited (JSON `null` in a license).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    pub api_calls_per_day: Option<u64>,
    pub concurrent_builds: Option<u64>,
    pub private_repos: Option<u64>,
    pub team_members: Option<u64>,
    pub marketplace_agents: Option<u64>,
}

impl Tier {
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

    pub fn limits(self) -> Limits {
        let l = |calls, builds, repos, members, agents| Limits {
            api_calls_per_day: Some(calls),
            concurrent_builds: Some(builds),
            private_repos: Some(repos),
            team_members: Some(members),
            marketplace_agents: Some(agents),
        };
        match self {
            Tier::Free => l(100, 1, 0, 1, 0),
            Tier::Starter => l(1_000, 3, 5, 3, 5),
            Tier::Pro => l(10_000, 10, 50, 10, 25),
            Tier::Enterprise => Limits {
                api_calls_per_day: None,
                concurrent_builds: None,
                private_repos: None,
                team_members: None,
                marketplace_agents: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for t in Tier::ALL {
            assert_eq!(Tier::parse(t.as_str()), Some(t));
        }
        assert_eq!(Tier::parse("Pro"), None);
        assert_eq!(Tier::parse("platinum"), None);
    }

    #[test]
    fn enterprise_is_unlimited_in_json() {
        let v = serde_json::to_value(Tier::Enterprise.limits()).unwrap();
        assert!(v["api_calls_per_day"].is_null());
        let v = serde_json::to_value(Tier::Starter.limits()).unwrap();
        assert_eq!(v["api_calls_per_day"], 1000);
    }
}
