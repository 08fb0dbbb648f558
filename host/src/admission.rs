//! Admission: how many requests of one kind (service queries, file
//! requests) run at once, in total, per client address and per
//! authenticated user, with a short wait for a slot before the client is
//! told to come back (429).
//!
//! A request first takes a slot of its client's address and one of its
//! user, so that neither one address nor one user can ever hold every
//! slot, then one of the shared slots. The waits are first come, first
//! served and together last at most `Limits::wait`; at most
//! `Limits::queue` requests wait at once. Behind one proxy (the API
//! server's) every client shares one address and one user.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The peer address of the connection a request came on; the server puts
/// it into each request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The request's client address; a request without one (never from
    /// the server) counts as loopback.
    pub fn of<B>(req: &http::Request<B>) -> IpAddr {
        req.extensions()
            .get::<ClientAddr>()
            .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests running at once, all clients together.
    pub total: usize,
    /// Requests running at once from one client address.
    pub per_client: usize,
    /// Requests running at once of one authenticated user.
    pub per_user: usize,
    /// How long a request may wait for a slot.
    pub wait: Duration,
    /// Requests waiting at once, all clients together.
    pub queue: usize,
}

impl Limits {
    /// `total` slots, `per_client` of them (at most `total`) for one
    /// address and all of them for one user, and room for four times
    /// `total` waiting requests.
    pub fn new(total: usize, per_client: usize, wait: Duration) -> Self {
        let total = total.max(1);
        Limits {
            total,
            per_client: per_client.clamp(1, total),
            per_user: total,
            wait,
            queue: total * 4,
        }
    }

    /// At most `per_user` (1 to `total`) of the slots for one user.
    pub fn with_per_user(self, per_user: usize) -> Self {
        Limits {
            per_user: per_user.clamp(1, self.total),
            ..self
        }
    }
}

/// No slot within the wait, or no room to wait: answer 429. Which slot
/// was still missing when the wait ran out says why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Busy {
    #[error("all of the client address's slots are taken")]
    ClientAddress,
    #[error("all of the user's slots are taken")]
    User,
    #[error("all slots are taken")]
    AllSlots,
    #[error("too many requests are waiting")]
    QueueFull,
}

pub struct Admission {
    limits: Limits,
    total: Arc<Semaphore>,
    clients: Arc<Mutex<HashMap<Key, Client>>>,
    waiting: Arc<AtomicUsize>,
}

/// Whose share a slot comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Addr(IpAddr),
    User(String),
}

/// One address's or user's slots, kept while any of its requests runs or
/// waits.
struct Client {
    slots: Arc<Semaphore>,
    requests: usize,
}

/// Held for as long as the admitted request runs (its response body
/// included).
pub struct Permit {
    _total: OwnedSemaphorePermit,
    _shares: [OwnedSemaphorePermit; 2],
    // Dropped last: forget the address and user once their slots are
    // all back.
    _requests: [ClientRequest; 2],
}

impl Admission {
    pub fn new(limits: Limits) -> Self {
        Admission {
            limits,
            total: Arc::new(Semaphore::new(limits.total)),
            clients: Arc::default(),
            waiting: Arc::default(),
        }
    }

    /// A slot for a request from `addr` by `user`, or `Busy`.
    pub async fn admit(&self, addr: IpAddr, user: &str) -> Result<Permit, Busy> {
        let requests = [
            self.enter(Key::Addr(addr), self.limits.per_client),
            self.enter(Key::User(user.to_string()), self.limits.per_user),
        ];
        let mut shares = requests
            .each_ref()
            .map(|r| r.slots.clone().try_acquire_owned().ok());
        if shares.iter().all(Option::is_some)
            && let Ok(total) = self.total.clone().try_acquire_owned()
        {
            return Ok(admitted(total, shares.map(Option::unwrap), requests));
        }
        let _queued = self.queue()?;
        // Shares already taken are kept while the rest are waited for.
        let mut waiting_for = Busy::AllSlots;
        let acquire = async {
            let scopes = [Busy::ClientAddress, Busy::User];
            for ((share, request), scope) in shares.iter_mut().zip(&requests).zip(scopes) {
                if share.is_none() {
                    waiting_for = scope;
                    let slot = request.slots.clone().acquire_owned().await;
                    *share = Some(slot.map_err(|_| scope)?);
                }
            }
            waiting_for = Busy::AllSlots;
            self.total
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| Busy::AllSlots)
        };
        let total = tokio::time::timeout(self.limits.wait, acquire)
            .await
            .map_err(|_| waiting_for)??;
        Ok(admitted(total, shares.map(Option::unwrap), requests))
    }

    fn enter(&self, key: Key, slots: usize) -> ClientRequest {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        let client = clients.entry(key.clone()).or_insert_with(|| Client {
            slots: Arc::new(Semaphore::new(slots)),
            requests: 0,
        });
        client.requests += 1;
        ClientRequest {
            key,
            slots: client.slots.clone(),
            clients: self.clients.clone(),
        }
    }

    fn queue(&self) -> Result<Queued, Busy> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.limits.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy::QueueFull);
        }
        Ok(Queued(self.waiting.clone()))
    }

    #[cfg(test)]
    fn shares(&self) -> usize {
        self.clients.lock().unwrap().len()
    }
}

fn admitted(
    total: OwnedSemaphorePermit,
    shares: [OwnedSemaphorePermit; 2],
    requests: [ClientRequest; 2],
) -> Permit {
    Permit {
        _total: total,
        _shares: shares,
        _requests: requests,
    }
}

/// One request of an address or user, running or waiting.
struct ClientRequest {
    key: Key,
    slots: Arc<Semaphore>,
    clients: Arc<Mutex<HashMap<Key, Client>>>,
}

impl Drop for ClientRequest {
    fn drop(&mut self) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get_mut(&self.key) {
            client.requests -= 1;
            if client.requests == 0 {
                clients.remove(&self.key);
            }
        }
    }
}

/// A place in the wait queue.
struct Queued(Arc<AtomicUsize>);

impl Drop for Queued {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    const B: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3));

    fn admission(total: usize, per_client: usize, wait_ms: u64) -> Admission {
        Admission::new(Limits::new(
            total,
            per_client,
            Duration::from_millis(wait_ms),
        ))
    }

    #[tokio::test(start_paused = true)]
    async fn one_address_cannot_take_every_slot() {
        let adm = admission(4, 2, 500);
        let _a1 = adm.admit(A, "u").await.unwrap();
        let _a2 = adm.admit(A, "u").await.unwrap();
        assert_eq!(
            adm.admit(A, "u").await.err(),
            Some(Busy::ClientAddress),
            "A is over its own cap"
        );
        let _b1 = adm.admit(B, "v").await.unwrap();
        let _b2 = adm.admit(B, "v").await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn one_user_cannot_take_every_slot_from_any_address() {
        let adm = Admission::new(Limits::new(4, 4, Duration::from_millis(500)).with_per_user(2));
        let _a = adm.admit(A, "u").await.unwrap();
        let _b = adm.admit(B, "u").await.unwrap();
        assert_eq!(
            adm.admit(A, "u").await.err(),
            Some(Busy::User),
            "u is over its own cap"
        );
        assert_eq!(
            adm.admit(B, "u").await.err(),
            Some(Busy::User),
            "from any address"
        );
        let _other = adm.admit(A, "v").await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_says_which_slot_was_missing() {
        let adm = admission(2, 1, 100);
        let _a = adm.admit(A, "u").await.unwrap();
        let _b = adm.admit(B, "v").await.unwrap();
        let c = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 4));
        assert_eq!(adm.admit(c, "w").await.err(), Some(Busy::AllSlots));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_freed_within_the_wait_is_taken() {
        let adm = Arc::new(admission(1, 1, 500));
        let held = adm.admit(A, "u").await.unwrap();
        let waiter = tokio::spawn({
            let adm = adm.clone();
            async move { adm.admit(B, "v").await.is_ok() }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(held);
        assert!(waiter.await.unwrap(), "B waited and got the freed slot");
    }

    #[tokio::test(start_paused = true)]
    async fn the_queue_is_bounded() {
        let adm = Arc::new(admission(1, 1, 10_000));
        let _held = adm.admit(A, "u").await.unwrap();
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let adm = adm.clone();
                tokio::spawn(async move { adm.admit(B, "v").await.is_ok() })
            })
            .collect();
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        let started = tokio::time::Instant::now();
        assert_eq!(
            adm.admit(B, "v").await.err(),
            Some(Busy::QueueFull),
            "the fifth waiter is refused"
        );
        assert_eq!(started.elapsed(), Duration::ZERO, "at once");
        for w in waiters {
            w.abort();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn addresses_are_forgotten_when_idle() {
        let adm = admission(2, 1, 100);
        let a = adm.admit(A, "u").await.unwrap();
        assert!(adm.admit(A, "u").await.is_err());
        assert_eq!(adm.shares(), 2, "A's and u's");
        drop(a);
        assert_eq!(adm.shares(), 0);
        assert_eq!(adm.waiting.load(Ordering::Acquire), 0);
    }
}
