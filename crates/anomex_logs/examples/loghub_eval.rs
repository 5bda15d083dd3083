//! Grouping accuracy of Drain on the 16 Loghub 2k sets, default and tuned settings.
//! `cargo run --release -p anomex_logs --example loghub_eval -- ../shared/data/loghub`
use anomex_logs::{loghub, presets, DrainConfig, LogFormat};

fn main() -> anomex_core::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "../shared/data/loghub".into());
    let default = DrainConfig::default();
    println!("default: {default:?}");
    let (mut sum_d, mut sum_t) = (0.0, 0.0);
    for p in presets::LOGHUB {
        let set = loghub::read(&std::path::Path::new(&dir).join(p.name), p.name)?;
        let format = LogFormat::new(p.format)?;
        let d = loghub::evaluate(&set, &format, &default)?;
        let t = loghub::evaluate(&set, &format, &p.tuned())?;
        sum_d += d.accuracy.accuracy;
        sum_t += t.accuracy.accuracy;
        println!(
            "{:12} default {:.4} ({} templates)  tuned {:.4}  mismatches {}",
            p.name, d.accuracy.accuracy, d.templates, t.accuracy.accuracy, d.content_mismatches
        );
    }
    println!("mean default {:.4} tuned {:.4}", sum_d / 16.0, sum_t / 16.0);
    Ok(())
}
