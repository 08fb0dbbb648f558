//! Admission: how many requests of one kind (service queries, file
//! requests) run at once, in total and per client address, with a short
//! wait for a slot before the client is told to come back (429).
//!
//! A request first takes a slot of its client's address, so that one
//! address can never hold every slot, then one of the shared slots. Both
//! waits are first come, first served and together last at most
//! `Limits::wait`; at most `Limits::queue` requests wait at once. Requests
//! are counted per address until users exist (authentication is a later
//! issue); behind one proxy every client shares one address.

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
    /// How long a request may wait for a slot.
    pub wait: Duration,
    /// Requests waiting at once, all clients together.
    pub queue: usize,
}

impl Limits {
    /// `total` slots, `per_client` of them (at most `total`) for one
    /// address, and room for four times `total` waiting requests.
    pub fn new(total: usize, per_client: usize, wait: Duration) -> Self {
        let total = total.max(1);
        Limits {
            total,
            per_client: per_client.clamp(1, total),
            wait,
            queue: total * 4,
        }
    }
}

/// No slot within the wait, or no room to wait: answer 429.
#[derive(Debug, thiserror::Error)]
#[error("no free slot")]
pub struct Busy;

pub struct Admission {
    limits: Limits,
    total: Arc<Semaphore>,
    clients: Arc<Mutex<HashMap<IpAddr, Client>>>,
    waiting: Arc<AtomicUsize>,
}

/// One address's slots, kept while any of its requests runs or waits.
struct Client {
    slots: Arc<Semaphore>,
    requests: usize,
}

/// Held for as long as the admitted request runs (its response body
/// included).
pub struct Permit {
    _total: OwnedSemaphorePermit,
    _client: OwnedSemaphorePermit,
    // Dropped last: forgets the address once its slots are all back.
    _request: ClientRequest,
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

    pub async fn admit(&self, client: IpAddr) -> Result<Permit, Busy> {
        let request = self.enter(client);
        let mut client_slot = request.slots.clone().try_acquire_owned().ok();
        if let Some(slot) = client_slot.take() {
            match self.total.clone().try_acquire_owned() {
                Ok(total) => return Ok(request.admitted(total, slot)),
                Err(_) => client_slot = Some(slot),
            }
        }
        let _queued = self.queue()?;
        let acquire = async {
            let slot = match client_slot {
                Some(slot) => slot,
                None => request
                    .slots
                    .clone()
                    .acquire_owned()
                    .await
                    .map_err(|_| Busy)?,
            };
            let total = self.total.clone().acquire_owned().await.map_err(|_| Busy)?;
            Ok::<_, Busy>((total, slot))
        };
        let (total, slot) = tokio::time::timeout(self.limits.wait, acquire)
            .await
            .map_err(|_| Busy)??;
        Ok(request.admitted(total, slot))
    }

    fn enter(&self, addr: IpAddr) -> ClientRequest {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        let client = clients.entry(addr).or_insert_with(|| Client {
            slots: Arc::new(Semaphore::new(self.limits.per_client)),
            requests: 0,
        });
        client.requests += 1;
        ClientRequest {
            addr,
            slots: client.slots.clone(),
            clients: self.clients.clone(),
        }
    }

    fn queue(&self) -> Result<Queued, Busy> {
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= self.limits.queue {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return Err(Busy);
        }
        Ok(Queued(self.waiting.clone()))
    }

    #[cfg(test)]
    fn addresses(&self) -> usize {
        self.clients.lock().unwrap().len()
    }
}

/// One request of an address, running or waiting.
struct ClientRequest {
    addr: IpAddr,
    slots: Arc<Semaphore>,
    clients: Arc<Mutex<HashMap<IpAddr, Client>>>,
}

impl ClientRequest {
    fn admitted(self, total: OwnedSemaphorePermit, client: OwnedSemaphorePermit) -> Permit {
        Permit {
            _total: total,
            _client: client,
            _request: self,
        }
    }
}

impl Drop for ClientRequest {
    fn drop(&mut self) {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get_mut(&self.addr) {
            client.requests -= 1;
            if client.requests == 0 {
                clients.remove(&self.addr);
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
        let _a1 = adm.admit(A).await.unwrap();
        let _a2 = adm.admit(A).await.unwrap();
        assert!(adm.admit(A).await.is_err(), "A is over its own cap");
        let _b1 = adm.admit(B).await.unwrap();
        let _b2 = adm.admit(B).await.unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_slot_freed_within_the_wait_is_taken() {
        let adm = Arc::new(admission(1, 1, 500));
        let held = adm.admit(A).await.unwrap();
        let waiter = tokio::spawn({
            let adm = adm.clone();
            async move { adm.admit(B).await.is_ok() }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(held);
        assert!(waiter.await.unwrap(), "B waited and got the freed slot");
    }

    #[tokio::test(start_paused = true)]
    async fn the_queue_is_bounded() {
        let adm = Arc::new(admission(1, 1, 10_000));
        let _held = adm.admit(A).await.unwrap();
        let waiters: Vec<_> = (0..4)
            .map(|_| {
                let adm = adm.clone();
                tokio::spawn(async move { adm.admit(B).await.is_ok() })
            })
            .collect();
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
        let started = tokio::time::Instant::now();
        assert!(adm.admit(B).await.is_err(), "the fifth waiter is refused");
        assert_eq!(started.elapsed(), Duration::ZERO, "at once");
        for w in waiters {
            w.abort();
        }
    }

    #[tokio::test(start_paused = true)]
    async fn addresses_are_forgotten_when_idle() {
        let adm = admission(2, 1, 100);
        let a = adm.admit(A).await.unwrap();
        assert!(adm.admit(A).await.is_err());
        assert_eq!(adm.addresses(), 1);
        drop(a);
        assert_eq!(adm.addresses(), 0);
        assert_eq!(adm.waiting.load(Ordering::Acquire), 0);
    }
}
