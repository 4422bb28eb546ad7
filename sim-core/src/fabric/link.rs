//! A full-duplex link: latency, bit rate (serialisation delay), a drop-tail queue,
//! seeded random loss, and an administrative up/down state.

use crate::rng::{self, Stream};
use crate::time::{Duration, Instant};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How a link behaves, per direction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkParams {
    /// One-way propagation delay.
    #[serde(with = "crate::time::serde_duration", default = "default_latency")]
    pub latency: Duration,
    /// Bits per second; 0 means infinitely fast (no serialisation delay, no queue).
    #[serde(default = "default_rate", deserialize_with = "de_rate")]
    pub rate: u64,
    /// Frames that may wait behind the one being sent (drop-tail).
    #[serde(default = "default_queue")]
    pub queue: usize,
    /// Probability that a frame is lost in flight.
    #[serde(default)]
    pub loss: f64,
}

fn default_latency() -> Duration {
    Duration::from_micros(10)
}
fn default_rate() -> u64 {
    1_000_000_000
}
fn default_queue() -> usize {
    1000
}

impl Default for LinkParams {
    fn default() -> Self {
        LinkParams { latency: default_latency(), rate: default_rate(), queue: default_queue(), loss: 0.0 }
    }
}

/// Parses a bit rate: `10Gbps`, `100Mbps`, `1.5Gbit`, `64kbps`, or a number of bits/s.
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let v: f64 = num.parse().map_err(|_| format!("invalid rate `{t}`: expected e.g. 10Gbps, 100Mbps"))?;
    let mul = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "bps" | "bit" => 1e0,
        "k" | "kbps" | "kbit" => 1e3,
        "m" | "mbps" | "mbit" => 1e6,
        "g" | "gbps" | "gbit" => 1e9,
        u => return Err(format!("invalid rate `{t}`: unknown unit `{u}` (use bps, kbps, Mbps or Gbps)")),
    };
    Ok((v * mul).round() as u64)
}

fn de_rate<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum R {
        N(u64),
        S(String),
    }
    match R::deserialize(d)? {
        R::N(n) => Ok(n),
        R::S(s) => parse_rate(&s).map_err(serde::de::Error::custom),
    }
}

/// Why a frame did not make it onto the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkDrop {
    Down,
    QueueFull,
    Lost,
}

impl std::fmt::Display for LinkDrop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LinkDrop::Down => "link down",
            LinkDrop::QueueFull => "queue full (drop-tail)",
            LinkDrop::Lost => "lost in flight (link loss)",
        })
    }
}

/// One direction's transmitter.
#[derive(Debug, Default)]
struct Tx {
    /// When the transmitter is free again.
    busy_until: Instant,
    /// Departure times of frames still queued or being sent.
    pending: VecDeque<Instant>,
    /// The last serialisation time computed, as (bits, rate, ns): a stream of
    /// equal frames skips the division.
    last: (u64, u64, u64),
}

/// A link between two endpoints (`0` and `1`).
pub struct Link {
    pub params: LinkParams,
    pub up: bool,
    tx: [Tx; 2],
    /// Boxed: read only for lossy links, it would push the rest of the link
    /// (read on every frame) over more cache lines.
    rng: Box<Stream>,
}

impl Link {
    pub fn new(params: LinkParams, rng: Stream) -> Self {
        Link { params, up: true, tx: Default::default(), rng: Box::new(rng) }
    }

    /// Sends `len` bytes from side `from` at `now`; returns the arrival time at the
    /// other side. Serialisation starts when the transmitter is free; a frame that
    /// finds `queue` frames already waiting is dropped.
    pub fn transmit(&mut self, from: usize, now: Instant, len: usize) -> Result<Instant, LinkDrop> {
        if !self.up {
            return Err(LinkDrop::Down);
        }
        let p = &self.params;
        let tx = &mut self.tx[from];
        let departure = if p.rate == 0 {
            now
        } else {
            while tx.pending.front().is_some_and(|&d| d <= now) {
                tx.pending.pop_front();
            }
            // The one on the wire plus `queue` waiting.
            if tx.pending.len() > p.queue {
                return Err(LinkDrop::QueueFull);
            }
            // Ethernet on the wire: preamble+SFD 8, FCS 4, inter-frame gap 12 bytes.
            let bits = (len.max(60) as u64 + 24) * 8;
            let ns = if tx.last.0 == bits && tx.last.1 == p.rate {
                tx.last.2
            } else {
                // In u64 unless the product overflows (frames of over 2 GB).
                let ns = match bits.checked_mul(1_000_000_000).and_then(|b| b.checked_div(p.rate)) {
                    Some(ns) => ns,
                    None => u64::try_from(u128::from(bits) * 1_000_000_000 / u128::from(p.rate)).unwrap_or(u64::MAX),
                };
                tx.last = (bits, p.rate, ns);
                ns
            };
            let ser = Duration::from_nanos(ns);
            let start = tx.busy_until.max(now);
            tx.busy_until = start + ser;
            tx.pending.push_back(tx.busy_until);
            tx.busy_until
        };
        if p.loss > 0.0 && rng::unit(&mut self.rng) < p.loss {
            return Err(LinkDrop::Lost);
        }
        Ok(departure + p.latency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link(rate: u64, queue: usize, loss: f64) -> Link {
        Link::new(LinkParams { latency: Duration::from_micros(10), rate, queue, loss }, rng::stream(1, "l"))
    }

    #[test]
    fn serialisation_and_latency() {
        let mut l = link(1_000_000_000, 10, 0.0);
        // 1476 + 24 bytes = 12000 bits = 12 us at 1 Gb/s, plus 10 us latency.
        assert_eq!(l.transmit(0, Instant::ZERO, 1476).unwrap(), Instant::from_nanos(22_000));
        // The next frame waits for the first.
        assert_eq!(l.transmit(0, Instant::ZERO, 1476).unwrap(), Instant::from_nanos(34_000));
        // The other direction is independent.
        assert_eq!(l.transmit(1, Instant::ZERO, 1476).unwrap(), Instant::from_nanos(22_000));
        // A rate change applies to the next frame of the same size.
        l.params.rate = 2_000_000_000;
        assert_eq!(l.transmit(1, Instant::from_micros(100), 1476).unwrap(), Instant::from_nanos(116_000));
    }

    #[test]
    fn drop_tail_and_down() {
        let mut l = link(1_000_000, 2, 0.0);
        let ok = (0..5).filter(|_| l.transmit(0, Instant::ZERO, 1000).is_ok()).count();
        assert_eq!(ok, 3, "one on the wire and two queued");
        l.up = false;
        assert_eq!(l.transmit(1, Instant::ZERO, 60), Err(LinkDrop::Down));
    }

    #[test]
    fn seeded_loss_is_reproducible() {
        let run = || {
            let mut l = link(0, 0, 0.3);
            (0..100).map(|_| l.transmit(0, Instant::ZERO, 60).is_ok()).collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let lost = a.iter().filter(|ok| !**ok).count();
        assert!((15..=45).contains(&lost), "{lost}");
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate("10Gbps").unwrap(), 10_000_000_000);
        assert_eq!(parse_rate("1.5Mbps").unwrap(), 1_500_000);
        assert!(parse_rate("fast").is_err());
    }
}
