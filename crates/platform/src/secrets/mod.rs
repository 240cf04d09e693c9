//! Secrets: one JSON object of named values (Secrets Manager in AWS; the environment plus a
//! generated dev file locally), cached in memory with a TTL. The previous version stays
//! available next to the current one, so a value can be rotated without downtime: verifiers
//! accept both during the overlap.
//!
//! Only the current version is read when the cache (re)loads: it is what nearly every request
//! verifies against, and a cold start that waits on one read instead of two answers its first
//! request sooner. The previous version is read the first time something needs it (a value
//! that does not verify with the current one, a key id only it holds, a JWKS listing every key),
//! once per load of the current one.

pub mod aws;
pub mod check;
pub mod local;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::{Mutex, OnceCell, RwLock};

use crate::clock::SharedClock;

/// Signing keys for access tokens: `kid:secret[,kid:secret...]`, the first one signs.
pub const JWT_SIGNING_KEYS: &str = "JWT_SIGNING_KEYS";
/// Key for the keyed hashes that stand in for emails, IPs and tokens in the table.
pub const HASH_PEPPER: &str = "HASH_PEPPER";
/// Secrets every function needs before it may serve in production.
pub const REQUIRED: &[&str] = &[JWT_SIGNING_KEYS, HASH_PEPPER];

pub use check::{placeholder, weakness};

/// The current version of the secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretSnapshot {
    pub current: BTreeMap<String, String>,
    /// When the current version was created (epoch ms): the previous one is accepted only for
    /// `previous_overlap` after it, so a leaked value stops verifying one overlap after its
    /// replacement rather than at the next rotation.
    pub current_since_ms: Option<i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("secrets unavailable: {0}")]
    Unavailable(String),
    #[error("secret {0} is not set")]
    Missing(String),
    #[error("secret is malformed: {0}")]
    Malformed(String),
}

/// Where secret values come from.
#[async_trait]
pub trait SecretSource: Send + Sync + 'static {
    /// The current version.
    async fn load(&self) -> Result<SecretSnapshot, SecretsError>;
    /// The version before the current one (Secrets Manager's AWSPREVIOUS); empty when there is
    /// none or the source keeps no history.
    async fn load_previous(&self) -> Result<BTreeMap<String, String>, SecretsError> {
        Ok(BTreeMap::new())
    }
    fn backend(&self) -> &'static str;
}

struct Cached {
    loaded_at_ms: i64,
    snapshot: Arc<SecretSnapshot>,
    /// The previous version, read at most once per load of the current one, when first asked.
    previous: Arc<OnceCell<Arc<BTreeMap<String, String>>>>,
}

pub struct Secrets {
    source: Box<dyn SecretSource>,
    clock: SharedClock,
    ttl: Duration,
    /// Lower bound between refreshes forced by an unknown key id, so a flood of requests
    /// naming made-up key ids cannot turn into a flood of Secrets Manager calls.
    min_forced_refresh: Duration,
    previous_overlap: Duration,
    cache: RwLock<Option<Cached>>,
    refreshing: Mutex<()>,
}

/// How long a replaced value keeps verifying: longer than any access token (15 min) and than a
/// provider's retry of a webhook signed just before a rotation.
pub const PREVIOUS_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// After a failed reload the stale values are served and the reload retried this much later.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(30);

impl Secrets {
    pub fn new(source: Box<dyn SecretSource>, clock: SharedClock, ttl: Duration) -> Self {
        Self {
            source,
            clock,
            ttl,
            min_forced_refresh: Duration::from_secs(10),
            previous_overlap: PREVIOUS_OVERLAP,
            cache: RwLock::new(None),
            refreshing: Mutex::new(()),
        }
    }

    pub fn with_min_forced_refresh(mut self, d: Duration) -> Self {
        self.min_forced_refresh = d;
        self
    }

    pub fn with_previous_overlap(mut self, d: Duration) -> Self {
        self.previous_overlap = d;
        self
    }

    pub fn backend(&self) -> &'static str {
        self.source.backend()
    }

    fn age_ms(&self, c: &Cached) -> i64 {
        self.clock.now_ms() - c.loaded_at_ms
    }

    /// The cached current version, reloaded once it is older than the TTL.
    pub async fn snapshot(&self) -> Result<Arc<SecretSnapshot>, SecretsError> {
        Ok(self.cached().await?.0)
    }

    /// The cached current version and the cell of its previous one.
    async fn cached(&self) -> Result<Loaded, SecretsError> {
        if let Some(c) = self.cache.read().await.as_ref()
            && self.age_ms(c) < self.ttl.as_millis() as i64
        {
            return Ok((c.snapshot.clone(), c.previous.clone()));
        }
        self.reload(self.ttl).await
    }

    /// Reloads unless another caller already did within `fresher_than`.
    async fn reload(&self, fresher_than: Duration) -> Result<Loaded, SecretsError> {
        let _one_at_a_time = self.refreshing.lock().await;
        if let Some(c) = self.cache.read().await.as_ref()
            && self.age_ms(c) < fresher_than.as_millis() as i64
        {
            return Ok((c.snapshot.clone(), c.previous.clone()));
        }
        let snapshot = match self.source.load().await {
            Ok(s) => Arc::new(s),
            Err(e) => {
                // Keep serving what we had (an outage of the secret store must not take every
                // request down with it), and try again shortly.
                let mut cache = self.cache.write().await;
                let Some(c) = cache.as_mut() else {
                    return Err(e);
                };
                tracing::warn!(error = %e, "secret reload failed; serving the cached values");
                let retry = RETRY_AFTER_FAILURE.min(self.ttl).as_millis() as i64;
                c.loaded_at_ms = self.clock.now_ms() - self.ttl.as_millis() as i64 + retry;
                return Ok((c.snapshot.clone(), c.previous.clone()));
            }
        };
        // A new current version may come with a new previous one (a rotation): read it again
        // when next asked.
        let previous = Arc::new(OnceCell::new());
        *self.cache.write().await = Some(Cached {
            loaded_at_ms: self.clock.now_ms(),
            snapshot: snapshot.clone(),
            previous: previous.clone(),
        });
        Ok((snapshot, previous))
    }

    /// Forces a reload now (subject to the forced-refresh floor).
    pub async fn refresh(&self) -> Result<Arc<SecretSnapshot>, SecretsError> {
        Ok(self.reload(self.min_forced_refresh).await?.0)
    }

    /// The previous version that belongs to `loaded`, read on first use.
    async fn previous_of(
        &self,
        loaded: &Loaded,
    ) -> Result<Arc<BTreeMap<String, String>>, SecretsError> {
        loaded
            .1
            .get_or_try_init(|| async { self.source.load_previous().await.map(Arc::new) })
            .await
            .cloned()
    }

    /// The previous value of `name` while the overlap after its replacement is open and it
    /// differs from the current one.
    async fn previous_value(
        &self,
        loaded: &Loaded,
        name: &str,
    ) -> Result<Option<String>, SecretsError> {
        let overlap_open = loaded.0.current_since_ms.is_none_or(|since| {
            self.clock.now_ms() < since + self.previous_overlap.as_millis() as i64
        });
        if !overlap_open {
            return Ok(None);
        }
        let previous = self.previous_of(loaded).await?;
        Ok(previous
            .get(name)
            .filter(|p| loaded.0.current.get(name) != Some(*p))
            .cloned())
    }

    /// The current value.
    pub async fn get(&self, name: &str) -> Result<Option<String>, SecretsError> {
        Ok(self.snapshot().await?.current.get(name).cloned())
    }

    pub async fn require(&self, name: &str) -> Result<String, SecretsError> {
        self.get(name)
            .await?
            .ok_or_else(|| SecretsError::Missing(name.into()))
    }

    /// The current value, then the previous one if it differs: verifiers try both so a value
    /// rotated a moment ago keeps verifying until the overlap ends.
    pub async fn versions(&self, name: &str) -> Result<Vec<String>, SecretsError> {
        let loaded = self.cached().await?;
        self.all_versions(&loaded, name).await
    }

    /// Every accepted value of `name`, the current one first.
    async fn all_versions(&self, loaded: &Loaded, name: &str) -> Result<Vec<String>, SecretsError> {
        let mut all: Vec<String> = loaded.0.current.get(name).cloned().into_iter().collect();
        all.extend(self.previous_value(loaded, name).await?);
        Ok(all)
    }

    /// Every entry of a comma-separated secret across the accepted versions (a list of keys or
    /// tokens, several of them during a rotation).
    pub async fn entries(&self, name: &str) -> Result<Vec<String>, SecretsError> {
        Ok(entries_of(&self.versions(name).await?))
    }

    /// `check` over the entries of the current value of `name`; only when it refuses them, over
    /// the entries of every accepted version (the previous one read then, once per load). The
    /// answer is the last check's: a signature made with a value rotated out a moment ago still
    /// verifies, and a request that verifies with the current value costs one secret read.
    pub async fn check_entries<T, E>(
        &self,
        name: &str,
        check: impl Fn(&[String]) -> Result<T, E>,
    ) -> Result<Result<T, E>, SecretsError> {
        let loaded = self.cached().await?;
        let current = entries_of(
            loaded
                .0
                .current
                .get(name)
                .map(std::slice::from_ref)
                .unwrap_or(&[]),
        );
        let first = check(&current);
        if first.is_ok() {
            return Ok(first);
        }
        let all = self.all_versions(&loaded, name).await?;
        let all = entries_of(&all);
        if all.len() == current.len() {
            return Ok(first);
        }
        Ok(check(&all))
    }

    /// The versions of `name` some of which satisfy `wanted` (say, the one holding the key id a
    /// token names): the current one alone when it does, else with the previous one; if none
    /// does, the secret was probably rotated since the last load: reload early and look again.
    pub async fn versions_matching(
        &self,
        name: &str,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, SecretsError> {
        let loaded = self.cached().await?;
        let current: Vec<String> = loaded.0.current.get(name).cloned().into_iter().collect();
        if current.iter().any(|s| wanted(s)) {
            return Ok(current);
        }
        let all = self.all_versions(&loaded, name).await?;
        if all.iter().any(|s| wanted(s)) {
            return Ok(all);
        }
        self.refresh().await?;
        self.versions(name).await
    }
}

/// A loaded current version and the cell its previous version is read into.
type Loaded = (
    Arc<SecretSnapshot>,
    Arc<OnceCell<Arc<BTreeMap<String, String>>>>,
);

/// Every entry of the comma-separated values, in order.
fn entries_of(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| list_entries(v).map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// The entries of a comma-separated secret value, trimmed, blanks dropped.
pub fn list_entries(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(str::trim).filter(|e| !e.is_empty())
}

/// Parses `kid:secret,kid:secret` (JWT signing keys and similar keyed lists).
pub fn parse_keyed_list(value: &str) -> Result<Vec<(String, String)>, SecretsError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|entry| {
            let (kid, secret) = entry
                .split_once(':')
                .ok_or_else(|| SecretsError::Malformed("expected kid:secret".into()))?;
            if kid.is_empty() || secret.is_empty() {
                return Err(SecretsError::Malformed("empty key id or secret".into()));
            }
            Ok((kid.to_string(), secret.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::SeqCst;

    use super::*;
    use crate::clock::ManualClock;

    struct Rotated(i64);

    #[async_trait]
    impl SecretSource for Rotated {
        async fn load(&self) -> Result<SecretSnapshot, SecretsError> {
            Ok(SecretSnapshot {
                current: BTreeMap::from([("K".to_string(), "new".to_string())]),
                current_since_ms: Some(self.0),
            })
        }
        async fn load_previous(&self) -> Result<BTreeMap<String, String>, SecretsError> {
            Ok(BTreeMap::from([("K".to_string(), "leaked".to_string())]))
        }
        fn backend(&self) -> &'static str {
            "rotated"
        }
    }

    #[tokio::test]
    async fn previous_value_expires_after_the_overlap() {
        let clock = ManualClock::new(1_000_000);
        let s = Secrets::new(
            Box::new(Rotated(1_000_000)),
            clock.clone(),
            Duration::from_secs(60),
        )
        .with_previous_overlap(Duration::from_secs(3600));
        assert_eq!(s.versions("K").await.unwrap(), vec!["new", "leaked"]);
        clock.advance(Duration::from_secs(3600));
        assert_eq!(
            s.versions("K").await.unwrap(),
            vec!["new"],
            "the replaced value no longer verifies"
        );
    }

    struct Flaky(std::sync::atomic::AtomicU32);

    #[async_trait]
    impl SecretSource for Flaky {
        async fn load(&self) -> Result<SecretSnapshot, SecretsError> {
            if self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                Ok(SecretSnapshot {
                    current: BTreeMap::from([("K".to_string(), "v".to_string())]),
                    ..SecretSnapshot::default()
                })
            } else {
                Err(SecretsError::Unavailable("outage".into()))
            }
        }
        fn backend(&self) -> &'static str {
            "flaky"
        }
    }

    #[tokio::test]
    async fn an_outage_serves_the_cached_values() {
        let clock = ManualClock::new(0);
        let s = Secrets::new(
            Box::new(Flaky(0.into())),
            clock.clone(),
            Duration::from_secs(60),
        );
        assert_eq!(s.get("K").await.unwrap().as_deref(), Some("v"));
        clock.advance(Duration::from_secs(61));
        assert_eq!(
            s.get("K").await.unwrap().as_deref(),
            Some("v"),
            "stale beats down"
        );
    }

    /// Version n is `v<n>`, rotated at every load; counts the reads of the previous version.
    #[derive(Default)]
    struct Counting {
        loads: std::sync::atomic::AtomicU32,
        previous_reads: std::sync::atomic::AtomicU32,
    }

    #[async_trait]
    impl SecretSource for Counting {
        async fn load(&self) -> Result<SecretSnapshot, SecretsError> {
            let n = self.loads.fetch_add(1, SeqCst) + 1;
            Ok(SecretSnapshot {
                current: BTreeMap::from([("K".to_string(), format!("v{n}"))]),
                current_since_ms: None,
            })
        }
        async fn load_previous(&self) -> Result<BTreeMap<String, String>, SecretsError> {
            self.previous_reads.fetch_add(1, SeqCst);
            let n = self.loads.load(SeqCst);
            Ok(BTreeMap::from([("K".to_string(), format!("v{}", n - 1))]))
        }
        fn backend(&self) -> &'static str {
            "counting"
        }
    }

    #[tokio::test]
    async fn cache_honours_ttl_and_rotation_refresh() {
        let clock = ManualClock::new(1_000_000);
        let s = Secrets::new(
            Box::new(Counting::default()),
            clock.clone(),
            Duration::from_secs(300),
        )
        .with_min_forced_refresh(Duration::from_secs(10));
        assert_eq!(s.get("K").await.unwrap().as_deref(), Some("v1"));
        clock.advance(Duration::from_secs(299));
        assert_eq!(s.get("K").await.unwrap().as_deref(), Some("v1"));
        clock.advance(Duration::from_secs(1));
        assert_eq!(s.get("K").await.unwrap().as_deref(), Some("v2"));
        assert_eq!(s.versions("K").await.unwrap(), vec!["v2", "v1"]);
        // An unknown value forces one early reload; the floor stops a second one.
        let v = s.versions_matching("K", |v| v == "v3").await.unwrap();
        assert_eq!(v[0], "v2", "within the forced-refresh floor: no reload");
        clock.advance(Duration::from_secs(10));
        let v = s.versions_matching("K", |v| v == "v3").await.unwrap();
        assert_eq!(v, vec!["v3", "v2"]);
    }

    /// A check that accepts exactly one value.
    fn accepts(wanted: &str) -> impl Fn(&[String]) -> Result<String, String> + '_ {
        move |entries: &[String]| {
            entries
                .iter()
                .find(|e| *e == wanted)
                .cloned()
                .ok_or_else(|| format!("{wanted} not among {entries:?}"))
        }
    }

    #[tokio::test]
    async fn a_value_that_verifies_with_the_current_version_never_reads_the_previous_one() {
        let source = Arc::new(Counting::default());
        let s = Secrets::new(
            Box::new(Shared(source.clone())),
            ManualClock::new(0),
            Duration::from_secs(300),
        );
        for _ in 0..3 {
            let got = s.check_entries("K", accepts("v1")).await.unwrap();
            assert_eq!(got.as_deref(), Ok("v1"));
        }
        assert_eq!(source.previous_reads.load(SeqCst), 0);
        let kid = s.versions_matching("K", |v| v == "v1").await.unwrap();
        assert_eq!(
            kid,
            vec!["v1"],
            "a key id of the current version needs no more"
        );
        assert_eq!(source.previous_reads.load(SeqCst), 0);
    }

    #[tokio::test]
    async fn a_value_rotated_out_verifies_after_one_read_of_the_previous_version() {
        let source = Arc::new(Counting::default());
        let clock = ManualClock::new(0);
        let s = Secrets::new(
            Box::new(Shared(source.clone())),
            clock.clone(),
            Duration::from_secs(300),
        );
        assert_eq!(s.get("K").await.unwrap().as_deref(), Some("v1"));
        clock.advance(Duration::from_secs(300));
        // The cache reloaded: v2 is current, v1 was rotated out a moment ago.
        for _ in 0..3 {
            let got = s.check_entries("K", accepts("v1")).await.unwrap();
            assert_eq!(got.as_deref(), Ok("v1"));
        }
        assert_eq!(source.previous_reads.load(SeqCst), 1, "read once per load");
        let refused = s.check_entries("K", accepts("v0")).await.unwrap();
        assert_eq!(refused, Err(r#"v0 not among ["v2", "v1"]"#.to_string()));
        assert_eq!(source.previous_reads.load(SeqCst), 1);
    }

    /// A source the test keeps a handle on.
    struct Shared(Arc<Counting>);

    #[async_trait]
    impl SecretSource for Shared {
        async fn load(&self) -> Result<SecretSnapshot, SecretsError> {
            self.0.load().await
        }
        async fn load_previous(&self) -> Result<BTreeMap<String, String>, SecretsError> {
            self.0.load_previous().await
        }
        fn backend(&self) -> &'static str {
            "shared"
        }
    }
}
