//! Who may hold a connection: at most `max` in all and `per_address` from
//! any one client address. When a cap is reached, the connection in that
//! scope that has been idle longest is asked to close to make room, so
//! connections that send nothing can never lock anyone out (`/healthz`
//! included); only busy connections count hard, and those are bounded by
//! the send timeout and the query limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, PoisonError};

use super::watchdog::Activity;

pub struct Admission {
    max: usize,
    per_address: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    next_id: u64,
    /// Scanned on each accept: a few thousand entries at most.
    held: HashMap<u64, Held>,
}

struct Held {
    ip: IpAddr,
    activity: Arc<Activity>,
}

/// A connection's place; dropping it frees the place.
pub struct Slot {
    admission: Arc<Admission>,
    id: u64,
}

/// Why a connection was turned away.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("all {0} connections from this address are busy")]
    AddressBusy(usize),
    #[error("all {0} connections are busy")]
    AllBusy(usize),
}

impl Admission {
    pub fn new(max: usize, per_address: usize) -> Arc<Self> {
        Arc::new(Admission {
            max,
            per_address,
            inner: Mutex::default(),
        })
    }

    pub fn admit(self: &Arc<Self>, ip: IpAddr, activity: Arc<Activity>) -> Result<Slot, Refused> {
        // An IPv4 client on a dual-stack socket is still that IPv4 address.
        let ip = ip.to_canonical();
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        // Connections already told to close still hold their sockets for a
        // moment; they count, but at most as many again as the cap.
        let (live_here, all_here) = inner.counts(|h| h.ip == ip);
        if live_here >= self.per_address
            && (all_here >= 2 * self.per_address || !inner.evict_idlest(|h| h.ip == ip))
        {
            return Err(Refused::AddressBusy(self.per_address));
        }
        let (live, all) = inner.counts(|_| true);
        if live >= self.max && (all >= 2 * self.max || !inner.evict_idlest(|_| true)) {
            return Err(Refused::AllBusy(self.max));
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.held.insert(id, Held { ip, activity });
        Ok(Slot {
            admission: self.clone(),
            id,
        })
    }
}

impl Inner {
    /// (not yet told to close, all) among the connections `scope` selects.
    fn counts(&self, scope: impl Fn(&Held) -> bool) -> (usize, usize) {
        self.held
            .values()
            .filter(|h| scope(h))
            .fold((0, 0), |(live, all), h| {
                (live + usize::from(!h.activity.evicted()), all + 1)
            })
    }

    /// Asks the longest-idle connection in `scope` to close; false if none
    /// is idle.
    fn evict_idlest(&self, scope: impl Fn(&Held) -> bool) -> bool {
        let idlest = self
            .held
            .values()
            .filter(|h| scope(h) && !h.activity.evicted())
            .filter_map(|h| Some((h.activity.idle_since()?, &h.activity)))
            .min_by_key(|(since, _)| *since);
        match idlest {
            Some((_, activity)) => {
                activity.evict();
                true
            }
            None => false,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut inner = self
            .admission
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        inner.held.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn idle_connections_make_room_and_busy_ones_do_not() {
        let admission = Admission::new(3, 2);
        let busy = Activity::new();
        let _running = busy.request_started();
        let _busy = admission.admit(ip(2), busy.clone()).unwrap();
        let idle = Activity::new();
        let idle_slot = admission.admit(ip(2), idle.clone()).unwrap();
        let busy2 = Activity::new();
        let _running2 = busy2.request_started();
        let _busy2 = admission.admit(ip(2), busy2.clone()).unwrap();
        assert!(idle.evicted() && !busy.evicted(), "the idle one made room");
        drop(idle_slot);
        assert!(matches!(
            admission.admit(ip(2), Activity::new()),
            Err(Refused::AddressBusy(2))
        ));
        // Another address gets the last place, then, the server being full,
        // a third address takes it from that idle connection.
        let other = Activity::new();
        let _other = admission.admit(ip(3), other.clone()).unwrap();
        let _third = admission.admit(ip(4), Activity::new()).unwrap();
        assert!(other.evicted());
        // An IPv4 client seen through a dual-stack socket is the same client.
        let mapped = IpAddr::V6(std::net::Ipv4Addr::new(127, 0, 0, 2).to_ipv6_mapped());
        assert!(matches!(
            admission.admit(mapped, Activity::new()),
            Err(Refused::AddressBusy(2))
        ));
    }
}
