//! Retry pacing: exponential backoff with full jitter, and per-host "blocked until" bookkeeping
//! so that a 429 from one service delays only that service (ARCHITECTURE.md "Engine contract",
//! point 4).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Delay before retry number `attempt` (0 for the first retry).
///
/// Full jitter (uniform in `[0, min(cap, base·2^attempt)]`) spreads retries of many areas over the
/// whole window instead of synchronising them. The result is never less than `retry_after` when the
/// upstream sent one, even if that exceeds `cap`: the server's word wins over our pacing.
pub fn backoff_delay(
    attempt: u32,
    base: Duration,
    cap: Duration,
    retry_after: Option<Duration>,
    rng: &mut impl rand::Rng,
) -> Duration {
    let ceiling = 2u32.checked_pow(attempt).and_then(|factor| base.checked_mul(factor)).map_or(cap, |exp| exp.min(cap));
    let ceiling_nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    let jittered = Duration::from_nanos(rng.random_range(0..=ceiling_nanos));
    match retry_after {
        Some(floor) => jittered.max(floor),
        None => jittered,
    }
}

/// The [`HostLimiter`] key for a URL: lower-cased `host:port` (port defaulted from the scheme),
/// or `None` for a URL without a host. One function so that every caller keys hosts alike.
pub fn host_key(url: &str) -> Option<String> {
    let url = url::Url::parse(url).ok()?;
    let host = url.host_str()?.to_ascii_lowercase();
    match url.port_or_known_default() {
        Some(port) => Some(format!("{host}:{port}")),
        None => Some(host),
    }
}

/// Above this many entries, [`HostLimiter::block`] first forgets expired ones, so the map stays small.
const PRUNE_ABOVE: usize = 256;

/// Remembers "host H is blocked until T" (from a 429 or 503 with `Retry-After`), so the engine can
/// hold back requests to that host only while every other service keeps running.
///
/// Thread-safe and cheap to share behind an `Arc`. Keys are compared case-insensitively; use the
/// URL's `host[:port]` so that two fake servers on one machine stay independent.
#[derive(Debug, Default)]
pub struct HostLimiter {
    until: Mutex<HashMap<String, Instant>>,
}

impl HostLimiter {
    /// An empty limiter: every host is ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Blocks `host` until `until`. An earlier instant never shortens an existing block.
    pub fn block(&self, host: &str, until: Instant) {
        let mut map = self.lock();
        if map.len() > PRUNE_ABOVE {
            let now = Instant::now();
            map.retain(|_, t| *t > now);
        }
        let entry = map.entry(host.to_ascii_lowercase()).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }

    /// Blocks `host` for `delay` from now; the usual call after reading `Retry-After`.
    pub fn block_for(&self, host: &str, delay: Duration) {
        let now = Instant::now();
        self.block(host, now.checked_add(delay).unwrap_or(now));
    }

    /// When `host` may be contacted again, or `None` when it may be contacted now.
    pub fn ready_at(&self, host: &str) -> Option<Instant> {
        let key = host.to_ascii_lowercase();
        let mut map = self.lock();
        match map.get(&key) {
            Some(t) if *t > Instant::now() => Some(*t),
            Some(_) => {
                map.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Whether no host is held back now: while none is, the engine need not work out which host
    /// each reaction goes to, a URL parse per delivery. Forgets expired blocks on the way, so one
    /// old 429 does not keep that work going for good.
    pub fn is_idle(&self) -> bool {
        let mut map = self.lock();
        if !map.is_empty() {
            let now = Instant::now();
            map.retain(|_, until| *until > now);
        }
        map.is_empty()
    }

    /// Forgets any block on `host` (e.g. after a successful request).
    pub fn clear(&self, host: &str) {
        self.lock().remove(&host.to_ascii_lowercase());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        // The map holds plain instants: a panic elsewhere cannot leave it inconsistent.
        self.until.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn the_limiter_is_idle_once_every_block_has_expired() {
        let limiter = HostLimiter::new();
        assert!(limiter.is_idle());
        limiter.block("a.example:443", Instant::now());
        assert!(limiter.is_idle(), "a block that has already ended holds nothing back");
        limiter.block_for("b.example:443", Duration::from_secs(3600));
        assert!(!limiter.is_idle());
        limiter.clear("b.example:443");
        assert!(limiter.is_idle());
    }

    #[test]
    fn delay_is_bounded_by_exponential_ceiling_and_cap() {
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 0..12 {
            let ceiling = (100 * MS * 2u32.pow(attempt)).min(Duration::from_secs(10));
            for _ in 0..200 {
                let d = backoff_delay(attempt, 100 * MS, Duration::from_secs(10), None, &mut rng);
                assert!(d <= ceiling, "attempt {attempt}: {d:?} > {ceiling:?}");
            }
        }
    }

    #[test]
    fn delay_is_jittered_over_the_whole_window() {
        let mut rng = StdRng::seed_from_u64(42);
        let samples: Vec<Duration> =
            (0..1000).map(|_| backoff_delay(3, 100 * MS, Duration::from_secs(60), None, &mut rng)).collect();
        let ceiling = 800 * MS;
        let low = samples.iter().filter(|d| **d < ceiling / 4).count();
        let high = samples.iter().filter(|d| **d > ceiling * 3 / 4).count();
        // Uniform: about 250 in each quarter. A constant or "equal jitter" delay fails one of these.
        assert!((150..350).contains(&low), "low quarter: {low}");
        assert!((150..350).contains(&high), "high quarter: {high}");
        let distinct: std::collections::HashSet<_> = samples.iter().collect();
        assert!(distinct.len() > 900, "only {} distinct delays", distinct.len());
    }

    #[test]
    fn huge_attempts_saturate_at_cap() {
        let mut rng = StdRng::seed_from_u64(1);
        for attempt in [31, 32, 64, 1000, u32::MAX] {
            let d = backoff_delay(attempt, Duration::from_secs(1), Duration::from_secs(300), None, &mut rng);
            assert!(d <= Duration::from_secs(300));
        }
        let d = backoff_delay(5, Duration::MAX, Duration::MAX, None, &mut rng);
        assert!(d <= Duration::MAX);
    }

    #[test]
    fn retry_after_is_a_floor_even_above_cap() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..100 {
            let d = backoff_delay(0, 100 * MS, Duration::from_secs(1), Some(Duration::from_secs(120)), &mut rng);
            assert!(d >= Duration::from_secs(120));
        }
    }

    proptest! {
        #[test]
        fn delay_respects_cap_and_retry_after(
            attempt in 0u32..80,
            base_ms in 0u64..10_000,
            cap_ms in 0u64..600_000,
            retry_after_ms in proptest::option::of(0u64..3_600_000),
            seed in any::<u64>(),
        ) {
            let mut rng = StdRng::seed_from_u64(seed);
            let retry_after = retry_after_ms.map(Duration::from_millis);
            let d = backoff_delay(attempt, Duration::from_millis(base_ms), Duration::from_millis(cap_ms), retry_after, &mut rng);
            let bound = Duration::from_millis(cap_ms).max(retry_after.unwrap_or_default());
            prop_assert!(d <= bound);
            if let Some(ra) = retry_after {
                prop_assert!(d >= ra);
            }
        }
    }

    #[test]
    fn host_keys_include_the_effective_port() {
        assert_eq!(host_key("https://API.github.com/repos?x=1").as_deref(), Some("api.github.com:443"));
        assert_eq!(host_key("http://127.0.0.1:9000/a").as_deref(), Some("127.0.0.1:9000"));
        assert_eq!(host_key("http://[::1]/").as_deref(), Some("[::1]:80"));
        assert_eq!(host_key("not a url"), None);
    }

    #[test]
    fn limiter_blocks_only_the_named_host() {
        let limiter = HostLimiter::new();
        let until = Instant::now() + Duration::from_secs(60);
        limiter.block("api.github.com", until);
        assert_eq!(limiter.ready_at("api.github.com"), Some(until));
        assert_eq!(limiter.ready_at("API.GitHub.com"), Some(until));
        assert_eq!(limiter.ready_at("discord.com"), None);
        limiter.clear("api.github.com");
        assert_eq!(limiter.ready_at("api.github.com"), None);
    }

    #[test]
    fn limiter_keeps_the_later_block_and_forgets_expired_ones() {
        let limiter = HostLimiter::new();
        let now = Instant::now();
        limiter.block("h", now + Duration::from_secs(60));
        limiter.block("h", now + Duration::from_secs(5));
        assert_eq!(limiter.ready_at("h"), Some(now + Duration::from_secs(60)));
        limiter.block("h", now + Duration::from_secs(120));
        assert_eq!(limiter.ready_at("h"), Some(now + Duration::from_secs(120)));

        limiter.block("past", now);
        assert_eq!(limiter.ready_at("past"), None);
        limiter.block_for("soon", Duration::from_millis(20));
        assert!(limiter.ready_at("soon").is_some());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(limiter.ready_at("soon"), None);
    }

    #[test]
    fn limiter_prunes_expired_entries() {
        let limiter = HostLimiter::new();
        let past = Instant::now();
        for i in 0..1000 {
            limiter.block(&format!("h{i}"), past);
        }
        assert!(limiter.lock().len() <= PRUNE_ABOVE + 1);
    }

    #[test]
    fn limiter_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<HostLimiter>();
        let limiter = std::sync::Arc::new(HostLimiter::new());
        let handles: Vec<_> = (0..4)
            .map(|i| {
                let l = limiter.clone();
                std::thread::spawn(move || l.block_for(&format!("host{i}"), Duration::from_secs(60)))
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert!((0..4).all(|i| limiter.ready_at(&format!("host{i}")).is_some()));
    }
}
