//! Injected dependency faults, for resilience tests and the local `FAULT_RATE` demo: a seeded,
//! repeatable dice roll per call that fails it as DynamoDB/SQS fail in production, a throttle,
//! a timeout before the request reached the service, or a timeout after the write landed (the
//! ambiguous case a client cannot tell from the first), optionally after added latency.
//! Never selectable in production (the settings refuse it).

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How a call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Refused before doing anything (DynamoDB `ProvisionedThroughputExceededException`,
    /// SQS `ThrottlingException`).
    Throttle,
    /// The request never reached the service.
    TimeoutBefore,
    /// The service did the work, the answer was lost: the caller sees an error for a write
    /// that happened.
    TimeoutAfter,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Throttle => "throttle",
            Fault::TimeoutBefore => "timeout_before",
            Fault::TimeoutAfter => "timeout_after",
        }
    }
}

/// The dice: a probability per call, a seed, and optional added latency.
#[derive(Debug)]
pub struct Faults {
    /// Probability in millionths, so it can change at run time (tests switch faults off to
    /// let the final retries through).
    rate_ppm: AtomicU64,
    rng: Mutex<u64>,
    max_latency: Duration,
    injected: AtomicU64,
}

impl Faults {
    pub fn new(rate: f64, seed: u64, max_latency: Duration) -> Self {
        Self {
            rate_ppm: AtomicU64::new(to_ppm(rate)),
            // SplitMix64 never sticks at zero, but a zero seed reads oddly in logs.
            rng: Mutex::new(seed ^ 0x9E37_79B9_7F4A_7C15),
            max_latency,
            injected: AtomicU64::new(0),
        }
    }

    pub fn set_rate(&self, rate: f64) {
        self.rate_ppm.store(to_ppm(rate), Ordering::SeqCst);
    }

    /// How many faults were injected so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    fn next(&self) -> u64 {
        // SplitMix64: tiny, seedable, good enough to spread faults; not for secrets.
        let mut s = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Rolls for one call: the latency to add first, and the fault, if any. `writes` says
    /// whether the call changes state (only then is "after the write" a distinct case).
    pub fn roll(&self, writes: bool) -> (Duration, Option<Fault>) {
        let r = self.next();
        let latency = if self.max_latency.is_zero() {
            Duration::ZERO
        } else {
            let ms = self.max_latency.as_millis() as u64;
            Duration::from_millis((r >> 40) % (ms + 1))
        };
        let ppm = self.rate_ppm.load(Ordering::SeqCst);
        if r % 1_000_000 >= ppm {
            return (latency, None);
        }
        let fault = match (r >> 20) % 3 {
            0 => Fault::Throttle,
            1 => Fault::TimeoutBefore,
            _ if writes => Fault::TimeoutAfter,
            _ => Fault::TimeoutBefore,
        };
        self.injected.fetch_add(1, Ordering::SeqCst);
        tracing::debug!(fault = fault.as_str(), "injected dependency fault");
        (latency, Some(fault))
    }

    /// Sleeps the rolled latency and returns the fault to apply, if any.
    pub async fn before_call(&self, writes: bool) -> Option<Fault> {
        let (latency, fault) = self.roll(writes);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        fault
    }
}

impl Faults {
    /// Runs `call` under the dice: fails it before it starts (throttle, timeout), or runs it
    /// and then reports it failed (the lost answer). `error` builds the backend's error.
    pub async fn run<T, E, F>(&self, writes: bool, call: F, error: fn(String) -> E) -> Result<T, E>
    where
        F: std::future::Future<Output = Result<T, E>>,
    {
        let Some(fault) = self.before_call(writes).await else {
            return call.await;
        };
        crate::metrics::count(crate::metrics::Metric::StoreFault, &[("kind", "injected")]);
        if fault == Fault::TimeoutAfter {
            let _ = call.await;
        }
        Err(error(format!("injected fault: {}", fault.as_str())))
    }
}

fn to_ppm(rate: f64) -> u64 {
    (rate.clamp(0.0, 1.0) * 1_000_000.0).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_injects_the_same_faults() {
        let a = Faults::new(0.3, 7, Duration::ZERO);
        let b = Faults::new(0.3, 7, Duration::ZERO);
        let ra: Vec<_> = (0..200).map(|_| a.roll(true).1).collect();
        let rb: Vec<_> = (0..200).map(|_| b.roll(true).1).collect();
        assert_eq!(ra, rb);
    }

    #[test]
    fn the_rate_is_roughly_what_was_asked_and_zero_means_none() {
        let f = Faults::new(0.1, 1, Duration::ZERO);
        let n = (0..10_000).filter(|_| f.roll(true).1.is_some()).count();
        assert!((700..1300).contains(&n), "{n} faults in 10000 at 10%");
        f.set_rate(0.0);
        assert!((0..1000).all(|_| f.roll(true).1.is_none()));
    }

    #[test]
    fn reads_never_get_the_after_the_write_case() {
        let f = Faults::new(1.0, 3, Duration::ZERO);
        assert!((0..500).all(|_| f.roll(false).1 != Some(Fault::TimeoutAfter)));
        assert!((0..500).any(|_| f.roll(true).1 == Some(Fault::TimeoutAfter)));
    }
}
