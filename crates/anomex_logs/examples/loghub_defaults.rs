//! How Drain's one-for-all default was chosen: a grid over mask lists, depth, similarity and
//! the similarity rule on the 16 Loghub 2k sets, the mean grouping accuracy of each, and a
//! leave-one-system-out check (choose on 15 systems, report on the one left out).
//!
//! `cargo run --release -p anomex_logs --example loghub_defaults -- ../shared/data/loghub \
//!     ip,hex,digits path,ip,hex,domain,hexid,number,collapse`
use anomex_logs::{loghub, presets, DrainConfig, LogFormat};

fn main() -> anomex_core::Result<()> {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(
        args.next()
            .unwrap_or_else(|| "../shared/data/loghub".into()),
    );
    let mask_lists: Vec<Vec<String>> = args
        .map(|a| {
            a.split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .collect();
    let mut sets = Vec::new();
    for p in presets::LOGHUB {
        sets.push((
            loghub::read(&dir.join(p.name), p.name)?,
            LogFormat::new(p.format)?,
        ));
    }
    let mut rows: Vec<(DrainConfig, Vec<f64>)> = Vec::new();
    for masks in &mask_lists {
        for count_wildcards in [true, false] {
            for depth in [4, 5, 6] {
                for similarity in [0.4, 0.5, 0.6, 0.7, 0.8] {
                    let config = DrainConfig {
                        depth,
                        similarity,
                        max_children: 100,
                        masks: masks.clone(),
                        count_wildcards,
                    };
                    let acc = sets
                        .iter()
                        .map(|(s, f)| loghub::evaluate(s, f, &config).map(|e| e.accuracy.accuracy))
                        .collect::<anomex_core::Result<Vec<f64>>>()?;
                    let mean = acc.iter().sum::<f64>() / acc.len() as f64;
                    println!(
                        "{:50} wild={count_wildcards:5} depth={depth} st={similarity:.1} mean {mean:.4} | {}",
                        masks.join(","),
                        acc.iter().map(|a| format!("{a:.2}")).collect::<Vec<_>>().join(" ")
                    );
                    rows.push((config, acc));
                }
            }
        }
    }
    let mut left_out_sum = 0.0;
    for (k, p) in presets::LOGHUB.iter().enumerate() {
        let others = |acc: &[f64]| {
            acc.iter()
                .enumerate()
                .filter(|(i, _)| *i != k)
                .map(|(_, a)| a)
                .sum::<f64>()
        };
        let Some((config, acc)) = rows
            .iter()
            .max_by(|a, b| others(&a.1).total_cmp(&others(&b.1)))
        else {
            return Ok(());
        };
        left_out_sum += acc[k];
        println!("left out {:12} → {:.3} with {config:?}", p.name, acc[k]);
    }
    println!(
        "leave-one-system-out mean {:.4}",
        left_out_sum / sets.len() as f64
    );
    Ok(())
}
