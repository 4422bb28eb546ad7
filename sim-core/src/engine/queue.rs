//! The event queue: ordered by (time, sequence), so events due at the same instant
//! run first-in first-out.

use crate::time::Instant;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A heap entry: ordering key and the slot holding the event. Events live in a
/// slab so the heap moves 16-byte entries, not whole events.
#[derive(PartialEq, Eq)]
struct Entry {
    time: u64,
    /// The insertion sequence in the high half, the slot in the low: with
    /// `time`, one 128-bit comparison orders by (time, sequence).
    tag: u64,
}

impl Entry {
    fn time(&self) -> Instant {
        Instant::from_nanos(self.time)
    }
    fn key(&self) -> u128 {
        u128::from(self.time) << 64 | u128::from(self.tag)
    }
    fn slot(&self) -> u32 {
        self.tag as u32
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    /// Reversed, so the max-heap pops the earliest (time, seq) first.
    fn cmp(&self, o: &Self) -> Ordering {
        o.key().cmp(&self.key())
    }
}

/// A min-queue of events keyed by (time, insertion sequence).
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry>,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    /// The next insertion sequence; renumbered from 0 before it would wrap.
    seq: u32,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), slab: Vec::new(), free: Vec::new(), seq: 0 }
    }
}

impl<E> EventQueue<E> {
    pub fn push(&mut self, time: Instant, ev: E) {
        if self.seq == u32::MAX {
            self.renumber();
        }
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
        self.heap.push(Entry { time: time.nanos(), tag: u64::from(self.seq) << 32 | u64::from(slot) });
        self.seq += 1;
    }

    /// Gives the queued events the sequences 0, 1, … in their order (which a
    /// relabelling that keeps the order cannot change), so `seq` starts low again.
    fn renumber(&mut self) {
        let mut v = std::mem::take(&mut self.heap).into_vec();
        v.sort_unstable_by_key(Entry::key);
        for (i, e) in v.iter_mut().enumerate() {
            e.tag = (i as u64) << 32 | u64::from(e.slot());
        }
        self.seq = v.len() as u32;
        self.heap = BinaryHeap::from(v);
    }
    pub fn pop(&mut self) -> Option<(Instant, E)> {
        let e = self.heap.pop()?;
        self.free.push(e.slot());
        let ev = self.slab[e.slot() as usize].take().expect("queued events have a slot");
        Some((e.time(), ev))
    }
    pub fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(Entry::time)
    }
    pub fn len(&self) -> usize {
        self.heap.len()
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn order_survives_the_sequence_wrapping() {
        let mut q = EventQueue { seq: u32::MAX - 3, ..EventQueue::default() };
        for (t, e) in [(7, "c1"), (2, "a"), (7, "c2"), (5, "b1"), (7, "c3"), (5, "b2"), (7, "c4")] {
            q.push(Instant::from_nanos(t), e);
        }
        assert!(q.seq < 10, "renumbered");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).map(|(_, e)| e).collect();
        assert_eq!(order, ["a", "b1", "b2", "c1", "c2", "c3", "c4"]);
    }
}
