//! The event queue: ordered by (time, sequence), so events due at the same instant
//! run first-in first-out.

use crate::time::Instant;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// A heap entry: ordering key and the slot holding the event. Events live in a
/// slab so the heap moves small entries, not whole events.
#[derive(PartialEq, Eq)]
struct Entry {
    /// Time in nanoseconds above the insertion sequence: one comparison orders both.
    key: u128,
    slot: u32,
}

impl Entry {
    fn time(&self) -> Instant {
        Instant::from_nanos((self.key >> 64) as u64)
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
        o.key.cmp(&self.key)
    }
}

/// A min-queue of events keyed by (time, insertion sequence).
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry>,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue { heap: BinaryHeap::new(), slab: Vec::new(), free: Vec::new(), seq: 0 }
    }
}

impl<E> EventQueue<E> {
    pub fn push(&mut self, time: Instant, ev: E) {
        self.seq += 1;
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
        self.heap.push(Entry { key: u128::from(time.nanos()) << 64 | u128::from(self.seq), slot });
    }
    pub fn pop(&mut self) -> Option<(Instant, E)> {
        let e = self.heap.pop()?;
        self.free.push(e.slot);
        let ev = self.slab[e.slot as usize].take().expect("queued events have a slot");
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
}
