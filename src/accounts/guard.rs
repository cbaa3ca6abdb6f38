//! What keeps sign-in from being used to exhaust the server: password
//! hashing (argon2, ~19 MiB and tens of milliseconds each) runs at most
//! CPU-count at once, and failed sign-ins are limited per client address,
//! and per account only for the failures from that address, on every path
//! (form, API, git): over the limit, the next attempt from there is refused
//! with 429 and `Retry-After` before any hashing. So a stranger guessing
//! cannot lock the account's owner out, and one address spraying many
//! accounts is bounded all the same. Counting is governor's (GCRA); tokens
//! are never checked here.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{Context, Error, Result};

/// Failed sign-ins an account may have at once from one address, and how
/// fast they come back.
const ACCOUNT_BURST: u32 = 10;
const ACCOUNT_PERIOD: Duration = Duration::from_secs(6);
/// The same for one client address (several people may share one).
const CLIENT_BURST: u32 = 30;
const CLIENT_PERIOD: Duration = Duration::from_secs(2);
/// Keys remembered as refused at most; beyond, the oldest refusals go.
const MAX_REFUSED: usize = 100_000;

/// Failures of one kind of key, and the keys refused until a time.
struct Failures<K: std::hash::Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    refused: Mutex<HashMap<K, Instant>>,
}

impl<K: std::hash::Hash + Eq + Clone> Failures<K> {
    fn new(burst: u32, period: Duration) -> Self {
        let quota = Quota::with_period(period)
            .expect("a period above zero")
            .allow_burst(NonZeroU32::new(burst).expect("a burst above zero"));
        Failures {
            limiter: RateLimiter::dashmap(quota),
            refused: Mutex::new(HashMap::new()),
        }
    }

    /// How long `key` must still wait, if it must.
    fn wait(&self, key: &K) -> Option<Duration> {
        let refused = crate::sync::lock(&self.refused);
        refused
            .get(key)
            .and_then(|until| until.checked_duration_since(Instant::now()))
    }

    fn failed(&self, key: &K) {
        if let Err(not_until) = self.limiter.check_key(key) {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            let mut refused = crate::sync::lock(&self.refused);
            let now = Instant::now();
            if refused.len() >= MAX_REFUSED {
                refused.retain(|_, until| *until > now);
                self.limiter.retain_recent();
            }
            refused.insert(key.clone(), now + wait);
        }
    }
}

/// Held by the server (`AppState`); the CLI makes its own.
pub struct Passwords {
    hashing: tokio::sync::Semaphore,
    /// One password check at a time per account, so a burst of parallel
    /// guesses sees the failures of those before it.
    checking: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// An account's failures from one address (or from where none is known).
    accounts: Failures<(String, Option<IpAddr>)>,
    clients: Failures<IpAddr>,
}

impl Default for Passwords {
    fn default() -> Passwords {
        Passwords {
            hashing: tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())),
            checking: Mutex::new(HashMap::new()),
            accounts: Failures::new(ACCOUNT_BURST, ACCOUNT_PERIOD),
            clients: Failures::new(CLIENT_BURST, CLIENT_PERIOD),
        }
    }
}

impl Passwords {
    /// Runs `work` (argon2) off the runtime, when one of the CPU-count
    /// places is free.
    pub async fn hash<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T> {
        let _place = self.hashing.acquire().await.context("password hashing")?;
        crate::error::blocking("password task", work).await
    }

    /// Waits for the other checks of account `name` to finish; the turn
    /// ends when the returned guard is dropped.
    pub async fn turn(&self, name: &str) -> Turn<'_> {
        let key = name.to_ascii_lowercase();
        let lock = {
            let mut checking = crate::sync::lock(&self.checking);
            checking.entry(key.clone()).or_default().clone()
        };
        let guard = lock.clone().lock_owned().await;
        Turn {
            passwords: self,
            key,
            _guard: Some(guard),
        }
    }

    /// Refuses a sign-in of account `name` from `client` that comes too
    /// soon after too many failures.
    pub fn check(&self, name: &str, client: Option<IpAddr>) -> Result<()> {
        let account = self.accounts.wait(&(name.to_ascii_lowercase(), client));
        let client = client.and_then(|c| self.clients.wait(&c));
        match account.max(client) {
            None => Ok(()),
            Some(wait) => Err(Error::TooManyAttempts {
                message: "too many failed sign-ins; try again later".into(),
                retry_after: wait.as_secs() + 1,
            }),
        }
    }

    /// Counts a failed sign-in.
    pub fn failed(&self, name: &str, client: Option<IpAddr>) {
        self.accounts.failed(&(name.to_ascii_lowercase(), client));
        if let Some(c) = client {
            self.clients.failed(&c);
        }
    }
}

/// An account's turn to have a password checked.
pub struct Turn<'a> {
    passwords: &'a Passwords,
    key: String,
    _guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        self._guard = None;
        let mut checking = crate::sync::lock(&self.passwords.checking);
        // The last one out removes the account's lock.
        if checking.get(&self.key).is_some_and(|l| Arc::strong_count(l) == 1) {
            checking.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_limited_per_account_and_per_client() {
        let p = Passwords::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 0..ACCOUNT_BURST {
            assert!(p.check("alice", Some(a)).is_ok());
            p.failed("alice", Some(a));
        }
        p.failed("alice", Some(a));
        let Err(Error::TooManyAttempts { retry_after, .. }) = p.check("ALICE", Some(a)) else {
            panic!("the account is limited from that address");
        };
        assert!((1..=7).contains(&retry_after), "{retry_after}");
        assert!(
            p.check("alice", Some(b)).is_ok(),
            "a stranger's failures lock nobody out"
        );
        assert!(p.check("bob", Some(a)).is_ok(), "other accounts are not");
        for i in 0..CLIENT_BURST + 1 {
            p.failed(&format!("user{i}"), Some(b));
        }
        assert!(
            p.check("carol", Some(b)).is_err(),
            "one address trying many accounts is limited"
        );
        assert!(p.check("carol", None).is_ok());
    }
}
