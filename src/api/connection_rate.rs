//! New connections per client address: a token bucket per address (`rate` per second,
//! bursts of twice as many), checked as each connection is accepted; a connection over
//! the rate is closed before a byte of it is read. Memory is bounded: at most
//! `MAX_ADDRESSES` addresses are remembered, the stalest forgotten first.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

const MAX_ADDRESSES: usize = 10_000;

pub struct ConnectionRate {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl ConnectionRate {
    /// `rate` new connections per second per address; 0 admits everything.
    pub fn new(rate: u32) -> Self {
        Self {
            rate: f64::from(rate),
            burst: f64::from(rate) * 2.0,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Whether a new connection from `address` is within its rate (and counts it).
    pub fn admit(&self, address: IpAddr, now: Instant) -> bool {
        if self.rate <= 0.0 {
            return true;
        }
        let mut map = self.buckets.lock().expect("connection rate lock");
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&address) {
            // Forget the stalest tenth: bounded whatever addresses connect.
            let mut ages: Vec<Instant> = map.values().map(|(_, t)| *t).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 10];
            map.retain(|_, (_, t)| *t > cutoff);
        }
        let (tokens, last) = map.entry(address).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.rate;
        *tokens = (*tokens + refill).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// For actix's `on_connect`: closes a TCP connection over its address's rate.
    pub fn check(&self, io: &dyn std::any::Any) {
        let Some(tcp) = io.downcast_ref::<actix_web::rt::net::TcpStream>() else {
            return;
        };
        let Ok(peer) = tcp.peer_addr() else {
            return;
        };
        if !self.admit(peer.ip(), Instant::now()) {
            tracing::debug!(client = %peer.ip(), "connection over the rate closed");
            let _ = socket2::SockRef::from(tcp).shutdown(std::net::Shutdown::Both);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn bursts_pass_then_the_rate_holds_and_addresses_are_counted_apart() {
        let limit = ConnectionRate::new(10);
        let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        let t0 = Instant::now();
        let admitted = (0..50).filter(|_| limit.admit(a, t0)).count();
        assert_eq!(admitted, 20, "a burst of twice the rate");
        assert!(limit.admit(b, t0), "another address has its own bucket");
        assert!(!limit.admit(a, t0));
        let later = t0 + Duration::from_millis(500);
        let admitted = (0..50).filter(|_| limit.admit(a, later)).count();
        assert_eq!(admitted, 5, "half a second refills five");
        assert!(ConnectionRate::new(0).admit(a, t0), "0 turns it off");
    }

    #[test]
    fn memory_stays_bounded_whatever_addresses_connect() {
        let limit = ConnectionRate::new(1);
        let t0 = Instant::now();
        for i in 0..(MAX_ADDRESSES as u32 * 2) {
            limit.admit(
                IpAddr::from(i.to_be_bytes()),
                t0 + Duration::from_micros(u64::from(i)),
            );
        }
        assert!(limit.buckets.lock().unwrap().len() <= MAX_ADDRESSES);
    }
}
