//! The server-side session table of the dashboard and the per-address login throttle.
//!
//! A session id is 256 random bits, sent only in the `HttpOnly` cookie; the table keys
//! sessions by the id's SHA-256, so the table never holds a usable id. Each session carries
//! its own CSRF token (synchronizer token) that every form posts back.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use rand::TryRng;
use rand::rngs::SysRng;
use subtle::ConstantTimeEq;

use crate::auth::token_digest;

/// A session ends after this long without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(12 * 3600);
/// A session ends this long after login, however busy.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);
/// Most sessions kept; logging in beyond that ends the least recently used one.
pub const MAX_SESSIONS: usize = 256;
/// Failed logins allowed per client address within [`FAILURE_WINDOW`].
pub const MAX_FAILURES: usize = 5;
/// The window failed logins are counted in.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(60);
/// Most client addresses tracked by the throttle (the oldest are forgotten first).
const MAX_TRACKED_ADDRESSES: usize = 4096;

/// 256 random bits from the operating system, as 64 hex digits.
pub fn random_token() -> Result<String, rand::rngs::SysError> {
    let mut bytes = [0u8; 32];
    SysRng.try_fill_bytes(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The synchronizer token its forms must post back.
    pub csrf: String,
    /// When it logged in.
    pub created: Timestamp,
    /// Its latest request.
    pub last_seen: Timestamp,
}

impl Session {
    /// Whether `token` is this session's CSRF token (constant-time comparison).
    pub fn csrf_matches(&self, token: &str) -> bool {
        token.len() == self.csrf.len() && bool::from(token.as_bytes().ct_eq(self.csrf.as_bytes()))
    }

    fn expired(&self, now: Timestamp) -> bool {
        since(now, self.last_seen) >= IDLE_TIMEOUT || since(now, self.created) >= ABSOLUTE_TIMEOUT
    }
}

/// The sessions and the login throttle.
#[derive(Debug, Default)]
pub struct Sessions {
    table: Mutex<HashMap<[u8; 32], Session>>,
    failures: Mutex<HashMap<IpAddr, VecDeque<Timestamp>>>,
}

impl Sessions {
    /// Opens a session at `now`: returns its id (for the cookie only) and the session.
    pub fn open(&self, now: Timestamp) -> Result<(String, Session), rand::rngs::SysError> {
        let id = random_token()?;
        let session = Session {
            csrf: random_token()?,
            created: now,
            last_seen: now,
        };
        let mut table = lock(&self.table);
        table.retain(|_, session| !session.expired(now));
        if table.len() >= MAX_SESSIONS
            && let Some(oldest) = table
                .iter()
                .min_by_key(|(_, session)| session.last_seen)
                .map(|(key, _)| *key)
        {
            table.remove(&oldest);
        }
        table.insert(token_digest(&id), session.clone());
        Ok((id, session))
    }

    /// The live session of cookie value `id`, touched at `now`; an expired one is removed.
    pub fn touch(&self, id: &str, now: Timestamp) -> Option<Session> {
        let key = token_digest(id);
        let mut table = lock(&self.table);
        let session = table.get_mut(&key)?;
        if session.expired(now) {
            table.remove(&key);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends the session of cookie value `id`.
    pub fn close(&self, id: &str) {
        lock(&self.table).remove(&token_digest(id));
    }

    /// Closes every session (the login secrets changed: whoever logged in with the old ones
    /// must log in again).
    pub fn close_all(&self) {
        lock(&self.table).clear();
    }

    /// How many sessions are open (expired ones included until touched).
    pub fn len(&self) -> usize {
        lock(&self.table).len()
    }

    /// Whether no session is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `Some(wait)` when `client` has used up its failed logins: how long until it may try
    /// again.
    pub fn throttled(&self, client: IpAddr, now: Timestamp) -> Option<Duration> {
        let mut failures = lock(&self.failures);
        let recent = failures.get_mut(&client)?;
        recent.retain(|at| since(now, *at) < FAILURE_WINDOW);
        if recent.len() < MAX_FAILURES {
            return None;
        }
        let oldest = *recent.front()?;
        Some(FAILURE_WINDOW.saturating_sub(since(now, oldest)))
    }

    /// Counts a failed login of `client` at `now`.
    pub fn record_failure(&self, client: IpAddr, now: Timestamp) {
        let mut failures = lock(&self.failures);
        if failures.len() >= MAX_TRACKED_ADDRESSES {
            failures.retain(|_, recent| {
                recent
                    .back()
                    .is_some_and(|at| since(now, *at) < FAILURE_WINDOW)
            });
        }
        let recent = failures.entry(client).or_default();
        recent.push_back(now);
        while recent.len() > MAX_FAILURES {
            recent.pop_front();
        }
    }

    /// Forgets `client`'s failures (after a successful login).
    pub fn clear_failures(&self, client: IpAddr) {
        lock(&self.failures).remove(&client);
    }
}

fn since(now: Timestamp, then: Timestamp) -> Duration {
    let elapsed: SignedDuration = now.duration_since(then);
    Duration::try_from(elapsed).unwrap_or(Duration::ZERO)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_780_000_000 + seconds).expect("valid time")
    }

    #[test]
    fn sessions_expire_when_idle_and_absolutely() {
        let sessions = Sessions::default();
        let (id, _) = sessions.open(at(0)).expect("random");
        assert!(sessions.touch(&id, at(11 * 3600)).is_some());
        // Busy every 11 h: alive until the 7-day limit.
        let mut now = 11 * 3600;
        while now + 11 * 3600 < 7 * 24 * 3600 {
            now += 11 * 3600;
            assert!(sessions.touch(&id, at(now)).is_some(), "alive at {now}");
        }
        assert!(sessions.touch(&id, at(7 * 24 * 3600)).is_none());
        let (idle, _) = sessions.open(at(0)).expect("random");
        assert!(sessions.touch(&idle, at(12 * 3600)).is_none());
        assert!(sessions.touch("not-a-session", at(0)).is_none());
    }

    #[test]
    fn five_failures_a_minute_throttle_an_address_only() {
        let sessions = Sessions::default();
        let client: IpAddr = "192.0.2.7".parse().expect("address");
        let other: IpAddr = "192.0.2.8".parse().expect("address");
        for second in 0..5 {
            assert_eq!(sessions.throttled(client, at(second)), None);
            sessions.record_failure(client, at(second));
        }
        assert_eq!(
            sessions.throttled(client, at(10)),
            Some(Duration::from_secs(50))
        );
        assert_eq!(sessions.throttled(other, at(10)), None);
        assert_eq!(sessions.throttled(client, at(60)), None);
        sessions.clear_failures(client);
        assert_eq!(sessions.throttled(client, at(10)), None);
    }

    #[test]
    fn csrf_comparison_needs_the_exact_token() {
        let sessions = Sessions::default();
        let (_, session) = sessions.open(at(0)).expect("random");
        assert!(session.csrf_matches(&session.csrf.clone()));
        assert!(!session.csrf_matches(""));
        assert!(!session.csrf_matches(&session.csrf[1..]));
    }
}
