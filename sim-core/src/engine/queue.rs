//! The event queue: ordered by (time, insertion), so events due at the same
//! instant run first-in first-out.
//!
//! A radix heap (Ahuja, Mehlhorn, Orlin and Tarjan, 1990), which a discrete-event
//! simulator may use because simulated time never goes back: every event is due
//! no earlier than the last one taken. Bucket `k` (1..=64) holds the events whose
//! time first differs from that last time in bit `k - 1`; `due` holds those due
//! at it exactly. Taking an event is a read from `due`; when `due` runs out, the
//! lowest non-empty bucket is spread over the buckets below it around its
//! earliest time. Buckets are appended to and spread in order, so events with
//! equal times keep their insertion order without a sequence number. Unlike a
//! binary heap, nothing is a chain of dependent loads: the per-event cost is a
//! few appends and one scan.

use crate::time::Instant;

/// A queued event's time and the slot holding it. Events live in a slab so the
/// buckets move small entries, not whole events.
#[derive(Clone, Copy)]
struct Entry {
    time: u64,
    slot: u32,
}

/// A min-queue of events keyed by (time, insertion order).
pub struct EventQueue<E> {
    /// Events due at `last`, taken from `head` on.
    due: Vec<Entry>,
    head: usize,
    /// `buckets[k - 1]` is bucket `k`; bit `k - 1` of `occupied` says it is not empty.
    buckets: [Vec<Entry>; 64],
    occupied: u64,
    /// The time of the last event taken (or of the earliest, once `due` is refilled).
    last: u64,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    len: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            due: Vec::new(),
            head: 0,
            buckets: std::array::from_fn(|_| Vec::new()),
            occupied: 0,
            last: 0,
            slab: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

/// The bucket of `time` relative to `last`: one more than the highest bit in which
/// they differ, 0 when equal.
fn bucket(time: u64, last: u64) -> usize {
    (u64::BITS - (time ^ last).leading_zeros()) as usize
}

impl<E> EventQueue<E> {
    /// Queues `ev` at `time`. An event may not be due before the last one taken;
    /// one that would be runs at that time (after those already due then).
    pub fn push(&mut self, time: Instant, ev: E) {
        let slot = match self.free.pop() {
            Some(i) => {
                self.slab[i as usize] = Some(ev);
                i
            }
            None => {
                self.slab.push(Some(ev));
                (self.slab.len() - 1) as u32
            }
        };
        self.len += 1;
        self.place(Entry { time: time.nanos().max(self.last), slot });
    }

    fn place(&mut self, e: Entry) {
        match bucket(e.time, self.last) {
            0 => self.due.push(e),
            k => {
                self.buckets[k - 1].push(e);
                self.occupied |= 1 << (k - 1);
            }
        }
    }

    pub fn pop(&mut self) -> Option<(Instant, E)> {
        if self.head == self.due.len() {
            self.refill()?;
        }
        let e = self.due[self.head];
        self.head += 1;
        self.len -= 1;
        self.free.push(e.slot);
        let ev = self.slab[e.slot as usize].take().expect("queued events have a slot");
        Some((Instant::from_nanos(e.time), ev))
    }

    /// Moves the earliest events into `due`: spreads the lowest non-empty bucket
    /// around its earliest time (every entry lands in a lower bucket).
    fn refill(&mut self) -> Option<()> {
        self.due.clear();
        self.head = 0;
        if self.occupied == 0 {
            return None;
        }
        let i = self.occupied.trailing_zeros() as usize;
        self.occupied &= !(1 << i);
        let mut spread = std::mem::take(&mut self.buckets[i]);
        self.last = spread.iter().map(|e| e.time).min().expect("an occupied bucket has entries");
        for &e in &spread {
            self.place(e);
        }
        spread.clear();
        self.buckets[i] = spread;
        Some(())
    }

    /// When the next event is due.
    pub fn peek_time(&self) -> Option<Instant> {
        if self.head < self.due.len() {
            return Some(Instant::from_nanos(self.last));
        }
        if self.occupied == 0 {
            return None;
        }
        let b = &self.buckets[self.occupied.trailing_zeros() as usize];
        b.iter().map(|e| e.time).min().map(Instant::from_nanos)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ties_run_fifo() {
        let mut q = EventQueue::default();
        q.push(Instant::from_nanos(5), "b1");
        q.push(Instant::from_nanos(1), "a");
        q.push(Instant::from_nanos(5), "b2");
        q.push(Instant::from_nanos(5), "b3");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ["a", "b1", "b2", "b3"]);
    }

    #[test]
    fn an_event_in_the_past_runs_now_after_those_due() {
        let mut q = EventQueue::default();
        q.push(Instant::from_nanos(10), "x");
        q.push(Instant::from_nanos(10), "y");
        assert_eq!(q.pop().map(|(t, e)| (t.nanos(), e)), Some((10, "x")));
        q.push(Instant::from_nanos(3), "late");
        assert_eq!(q.peek_time(), Some(Instant::from_nanos(10)));
        let rest: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(t, e)| (t.nanos(), e)).collect();
        assert_eq!(rest, [(10, "y"), (10, "late")]);
        assert!(q.is_empty());
    }

    proptest! {
        /// Interleaved pushes (never before the last event taken, as the
        /// simulator's are) and pops come out in (time, insertion) order, and
        /// `peek_time` always names the next event's time.
        #[test]
        fn pops_in_time_then_insertion_order(ops in proptest::collection::vec((0u8..4, 0u64..5, 0u32..64), 1..400)) {
            let mut q = EventQueue::default();
            let mut model: Vec<(u64, usize)> = Vec::new();
            let (mut now, mut n) = (0u64, 0usize);
            for (op, scale, x) in ops {
                if op == 0 {
                    let want = model.iter().copied().min();
                    prop_assert_eq!(q.peek_time().map(Instant::nanos), want.map(|w| w.0));
                    let got = q.pop().map(|(t, e)| (t.nanos(), e));
                    prop_assert_eq!(got, want);
                    if let Some(w) = want {
                        model.retain(|m| *m != w);
                        now = w.0;
                    }
                } else {
                    // Delays from 0 to ~2^40 ns: ties, near and far events.
                    let t = now + (u64::from(x) << (scale * 10)) / 3;
                    q.push(Instant::from_nanos(t), n);
                    model.push((t, n));
                    n += 1;
                }
                prop_assert_eq!(q.len(), model.len());
            }
            model.sort();
            let rest: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(t, e)| (t.nanos(), e)).collect();
            prop_assert_eq!(rest, model);
        }
    }
}
