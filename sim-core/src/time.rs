//! Simulated time: nanoseconds since the start of a run. No wall clock anywhere.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};

pub use std::time::Duration;

/// A point in simulated time, in nanoseconds since the run started.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Instant(u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);
    pub const MAX: Instant = Instant(u64::MAX);

    pub const fn from_nanos(ns: u64) -> Self {
        Instant(ns)
    }
    pub const fn from_micros(us: u64) -> Self {
        Instant(us * 1_000)
    }
    pub const fn from_millis(ms: u64) -> Self {
        Instant(ms * 1_000_000)
    }
    pub const fn from_secs(s: u64) -> Self {
        Instant(s * 1_000_000_000)
    }
    pub const fn nanos(self) -> u64 {
        self.0
    }
    /// Time elapsed since `earlier`, zero if `earlier` is later.
    pub fn since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
    /// Whole milliseconds, as Linux jiffies at HZ=1000 would count them.
    pub const fn millis(self) -> u64 {
        self.0 / 1_000_000
    }
}

fn dur_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(dur_ns(d)))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(dur_ns(d)))
    }
}

/// `12.000345678`: seconds with nanosecond digits, the trace's time column.
impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = format!("{}.{:09}", self.0 / 1_000_000_000, self.0 % 1_000_000_000);
        f.pad(&s)
    }
}

impl Serialize for Instant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

impl<'de> Deserialize<'de> for Instant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u64::deserialize(d).map(Instant)
    }
}

/// Parses a duration as people write it in scenarios and on the command line:
/// `10us`, `1.5s`, `100ms`, `2m`, `1h`, `250ns`, or a bare number of seconds.
/// The earlier of two optional deadlines (a missing one never wins).
#[inline]
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) | (None, x) => x,
    }
}

pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t.starts_with('-') {
        return Err(format!("negative duration `{t}`"));
    }
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(format!("invalid duration `{t}`: expected a number with a unit such as 10us, 100ms, 5s, 2m"));
    }
    let scale: u128 = match unit.trim() {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "" | "s" | "sec" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        u => return Err(format!("invalid duration `{t}`: unknown unit `{u}` (use ns, us, ms, s, m or h)")),
    };
    let (int, frac) = num.split_once('.').unwrap_or((num, ""));
    if frac.contains('.') {
        return Err(format!("invalid duration `{t}`"));
    }
    let int: u128 = if int.is_empty() { 0 } else { int.parse().map_err(|_| format!("invalid duration `{t}`"))? };
    let mut ns = int.checked_mul(scale).ok_or_else(|| format!("duration `{t}` is too large"))?;
    let mut place = scale;
    for c in frac.chars() {
        place /= 10;
        ns += u128::from(c.to_digit(10).unwrap_or(0)) * place;
    }
    u64::try_from(ns).map(Duration::from_nanos).map_err(|_| format!("duration `{t}` is too large"))
}

/// Formats a duration the way `parse_duration` reads it (`1.5s`, `300ms`, `10us`).
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    let (div, unit) = if ns == 0 {
        (1, "s")
    } else if ns.is_multiple_of(1_000_000_000) {
        (1_000_000_000, "s")
    } else if ns.is_multiple_of(1_000_000) {
        (1_000_000, "ms")
    } else if ns.is_multiple_of(1_000) {
        (1_000, "us")
    } else {
        (1, "ns")
    };
    format!("{}{}", ns / div, unit)
}

/// Serde helpers for durations written as strings (`"5s"`) in scenario files.
pub mod serde_duration {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map_err(serde::de::Error::custom)
    }

    /// The same, for `Option<Duration>` fields.
    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_str(&format_duration(*d)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
            let s = String::deserialize(d)?;
            parse_duration(&s).map(Some).map_err(serde::de::Error::custom)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("10us").unwrap(), Duration::from_micros(10));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("100ms").unwrap(), Duration::from_millis(100));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert_eq!(parse_duration(".25s").unwrap(), Duration::from_millis(250));
    }

    #[test]
    fn rejects_bad_durations() {
        assert!(parse_duration("-1s").unwrap_err().contains("negative"));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("ms").is_err());
        assert!(parse_duration("1.2.3s").is_err());
        assert!(parse_duration("99999999999999h").is_err());
    }

    #[test]
    fn display_and_round_trip() {
        assert_eq!(Instant::from_nanos(12_000_345_678).to_string(), "12.000345678");
        for d in ["1s", "300ms", "10us", "7ns"] {
            assert_eq!(format_duration(parse_duration(d).unwrap()), d);
        }
    }
}
