//! Sign-in guesses per client address. Core already locks an *account* after repeated failures;
//! this stops one address from guessing across many accounts. Kept in memory: a restart
//! forgets it, which costs an attacker a restart they cannot cause.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Addresses remembered at most; past this, windows that ended are forgotten first.
const MAX_TRACKED: usize = 100_000;

/// Failed sign-ins per address within a window.
#[derive(Debug, Clone)]
pub struct LoginThrottle {
    /// Failures allowed within [`LoginThrottle::window`]; the next attempt waits.
    pub max_failures: u32,
    /// How long failures are counted from the first one.
    pub window: Duration,
    failures: Arc<Mutex<HashMap<IpAddr, (u32, Instant)>>>,
}

impl Default for LoginThrottle {
    /// 20 failures per 15 minutes: room for a family mistyping behind one router, not for a
    /// guessing run.
    fn default() -> Self {
        LoginThrottle::new(20, Duration::from_secs(15 * 60))
    }
}

impl LoginThrottle {
    /// A throttle allowing `max_failures` per `window`.
    pub fn new(max_failures: u32, window: Duration) -> Self {
        LoginThrottle { max_failures, window, failures: Arc::default() }
    }

    /// `Err(seconds to wait)` when `ip` used up its failures.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), u64> {
        let failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        match failures.get(&ip) {
            Some(&(count, since)) if count >= self.max_failures && now < since + self.window => {
                Err((since + self.window - now).as_secs().max(1))
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed sign-in from `ip`.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (_, since)| now < *since + self.window);
        }
        let entry = failures.entry(ip).or_insert((0, now));
        if now >= entry.1 + self.window {
            *entry = (0, now);
        }
        entry.0 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_waits_after_its_failures_until_the_window_ends() {
        let throttle = LoginThrottle::new(3, Duration::from_secs(60));
        let (ip, other): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(throttle.check(ip, t0), Ok(()));
            throttle.failed(ip, t0);
        }
        assert_eq!(throttle.check(ip, t0 + Duration::from_secs(10)), Err(50));
        assert_eq!(throttle.check(other, t0), Ok(()), "another address is not affected");
        assert_eq!(throttle.check(ip, t0 + Duration::from_secs(60)), Ok(()), "the window ended");
        throttle.failed(ip, t0 + Duration::from_secs(61));
        assert_eq!(throttle.check(ip, t0 + Duration::from_secs(61)), Ok(()), "a new window starts counting at 1");
    }
}
