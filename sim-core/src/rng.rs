//! Seeded random streams: one ChaCha stream per component, derived from the run's
//! seed and the component's name, so adding a host never shifts another's numbers.

use rand_chacha::ChaCha8Rng;
pub use rand_chacha::rand_core::{Rng, SeedableRng};

/// A component's private random stream.
pub type Stream = ChaCha8Rng;

fn fnv1a64(basis: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(basis, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The stream for `component` (e.g. `"host:rs1"`, `"link:client:eth0"`) under `seed`.
pub fn stream(seed: u64, component: &str) -> Stream {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&fnv1a64(0xcbf2_9ce4_8422_2325, component.as_bytes()).to_le_bytes());
    key[16..24].copy_from_slice(&fnv1a64(0x8422_2325_cbf2_9ce4, component.as_bytes()).to_le_bytes());
    key[24..].copy_from_slice(&(component.len() as u64).to_le_bytes());
    ChaCha8Rng::from_seed(key)
}

/// Uniform in `[0, n)`; `n` must be non-zero. Rejection sampling keeps it unbiased.
pub fn below(rng: &mut Stream, n: u32) -> u32 {
    assert!(n > 0, "below(0)");
    let zone = u32::MAX - (u32::MAX - n + 1) % n;
    loop {
        let v = rng.next_u32();
        if v <= zone {
            return v % n;
        }
    }
}

/// Uniform in `[0, 1)`.
pub fn unit(rng: &mut Stream) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let a1 = stream(7, "host:a").next_u64();
        let a2 = stream(7, "host:a").next_u64();
        let b = stream(7, "host:b").next_u64();
        let a_other_seed = stream(8, "host:a").next_u64();
        assert_eq!(a1, a2);
        assert_ne!(a1, b);
        assert_ne!(a1, a_other_seed);
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = stream(1, "t");
        for n in [1, 2, 3, 7, 1000] {
            for _ in 0..200 {
                assert!(below(&mut r, n) < n);
            }
        }
    }
}
