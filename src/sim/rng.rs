//! Seeded, portable randomness with one independent stream per component.
//!
//! Every random draw in a run comes from a [`SimRng`] derived from the scenario's seed
//! and a *stable name* (the component id plus a purpose tag), never from registration
//! order. Adding, removing or editing one component therefore leaves every other
//! component's random sequence unchanged. The generator is a named algorithm
//! (xoshiro256++) whose output is fixed by its specification, and a golden-stream
//! test pins it, so a dependency bump that changed the streams would fail loudly.

use rand::RngExt as _;
use rand::SeedableRng as _;
use rand::rngs::Xoshiro256PlusPlus;

/// A deterministic random stream.
#[derive(Clone, Debug)]
pub struct SimRng(Xoshiro256PlusPlus);

impl SimRng {
    /// The stream named `name` (a component id, optionally with a `#purpose` suffix)
    /// under `seed`.
    pub fn stream(seed: u64, name: &str) -> Self {
        let mut state = seed ^ fnv1a(name.as_bytes()).rotate_left(17);
        let mut bytes = [0u8; 32];
        for chunk in bytes.chunks_exact_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        Self(Xoshiro256PlusPlus::from_seed(bytes))
    }

    /// Uniform in `[0, 1)`.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        self.0.random::<f64>()
    }

    /// Uniform integer in `0..n` (`n > 0`).
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        self.0.random_range(0..n)
    }

    /// `true` with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }

    /// A standard exponential variate (mean 1).
    #[inline]
    pub fn exp1(&mut self) -> f64 {
        super::ziggurat::exp1(&mut self.0)
    }

    /// A standard normal variate (mean 0, variance 1).
    #[inline]
    pub fn standard_normal(&mut self) -> f64 {
        super::ziggurat::standard_normal(&mut self.0)
    }

    /// The generator itself, for tests that draw from a crate's distribution beside
    /// the engine's own on the same stream.
    #[cfg(test)]
    pub(crate) fn generator(&mut self) -> &mut Xoshiro256PlusPlus {
        &mut self.0
    }

    /// The raw 64-bit output (used by the golden-stream test).
    pub fn next_u64(&mut self) -> u64 {
        self.0.random::<u64>()
    }
}

/// FNV-1a: a tiny, specified, stable string hash (std's `DefaultHasher` promises no
/// stability across releases).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// SplitMix64 step: spreads a 64-bit state into well-mixed seed material.
/// A well-mixed 64-bit hash of one 64-bit value (the SplitMix64 finaliser), for
/// placing keys and sessions.
pub fn mix64(x: u64) -> u64 {
    let mut state = x;
    splitmix64(&mut state)
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pins the generator: if this fails, every saved scenario's results would change.
    #[test]
    fn golden_stream_for_seed_42() {
        let mut rng = SimRng::stream(42, "app");
        let first: Vec<u64> = (0..4).map(|_| rng.next_u64()).collect();
        assert_eq!(first, GOLDEN);
    }

    /// The first outputs of stream "app" under seed 42, recorded when the stream layout
    /// was designed. `matches_reference_xoshiro256plusplus` shows they are the specified
    /// algorithm's outputs, not an accident of the implementation.
    const GOLDEN: [u64; 4] = [
        16_386_044_164_305_458_178,
        6_393_886_190_378_283_660,
        5_339_460_014_767_105_714,
        16_514_794_484_365_985_214,
    ];

    /// xoshiro256++ as published by Blackman and Vigna, seeded with the same SplitMix64
    /// expansion: the stream must be exactly that algorithm.
    #[test]
    fn matches_reference_xoshiro256plusplus() {
        let mut state = 42 ^ fnv1a(b"app").rotate_left(17);
        let mut s = [0u64; 4];
        for word in &mut s {
            *word = splitmix64(&mut state);
        }
        let mut reference = || {
            let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
            let t = s[1] << 17;
            s[2] ^= s[0];
            s[3] ^= s[1];
            s[1] ^= s[2];
            s[0] ^= s[3];
            s[2] ^= t;
            s[3] = s[3].rotate_left(45);
            result
        };
        let mut rng = SimRng::stream(42, "app");
        for _ in 0..1000 {
            assert_eq!(rng.next_u64(), reference());
        }
    }

    #[test]
    fn streams_depend_on_name_and_seed() {
        let a = SimRng::stream(1, "db").next_u64();
        assert_ne!(a, SimRng::stream(1, "db#replica").next_u64());
        assert_ne!(a, SimRng::stream(2, "db").next_u64());
        assert_eq!(a, SimRng::stream(1, "db").next_u64());
    }

    #[test]
    fn fnv1a_matches_reference_vectors() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
