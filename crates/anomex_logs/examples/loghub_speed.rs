//! Parsing throughput on the Loghub 2k messages, to set beside `bench/peers/drain3_loghub.py`:
//! the same 32,000 messages (each system's structured `Content`), a fresh parser per system,
//! best of `--repeat` runs; drain3's defaults (depth 4, similarity 0.4, no masks) and anomex's
//! default settings.
//!
//! `cargo run --release -p anomex_logs --example loghub_speed -- ../shared/data/loghub 5`
use anomex_logs::{loghub, presets, Drain, DrainConfig};
use std::time::Instant;

fn main() -> anomex_core::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(
        args.next()
            .unwrap_or_else(|| "../shared/data/loghub".into()),
    );
    let repeat: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(5);
    let mut sets = Vec::new();
    for p in presets::LOGHUB {
        sets.push(loghub::read(&dir.join(p.name), p.name)?.contents);
    }
    let lines: usize = sets.iter().map(Vec::len).sum();
    let drain3_defaults = DrainConfig {
        depth: 4,
        similarity: 0.4,
        max_children: 100,
        masks: vec![],
        count_wildcards: true,
    };
    for (name, config) in [
        ("drain3's defaults", drain3_defaults),
        ("anomex default", DrainConfig::default()),
    ] {
        let mut best = f64::INFINITY;
        for _ in 0..repeat {
            let start = Instant::now();
            let mut templates = 0;
            for contents in &sets {
                let mut parser = Drain::new(config.clone())?;
                for c in contents {
                    parser.add(c);
                }
                templates += parser.len();
            }
            best = best.min(start.elapsed().as_secs_f64());
            std::hint::black_box(templates);
        }
        println!(
            "{name:18} {:>12.0} lines/s ({lines} lines, best of {repeat})",
            lines as f64 / best
        );
    }
    Ok(())
}
