//! The benchmark harness behind `anomex bench`: detectors × data sets of a suite under a pinned
//! [`protocol`], each run isolated in a worker process with a timeout and a memory guard
//! ([`runner`]), outcomes cached per (data set, method, seed, protocol) so that a rerun resumes,
//! and a [`leaderboard`] in Markdown, CSV and HTML.
//!
//! Scores computed by other libraries (TSB-AD's reference implementations, …) enter as
//! [`job::Method::Peer`] and are evaluated by the same code under the same protocol.

pub mod job;
pub mod leaderboard;
pub mod protocol;
pub mod runner;

/// FNV-1a, 64 bits, with splitmix64's finaliser so that similar names spread over the whole
/// range: a hash that stays the same across runs, machines and versions (the standard library's
/// hasher does not promise that), for cache keys and the data set split.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}
