//! From outcomes to a leaderboard: metrics averaged over seeds per data set, then over data sets
//! per method; the mean rank by the first metric; written as Markdown, CSV and HTML.

use crate::job::{file_name, Job, Outcome, Status};
use crate::protocol::Protocol;
use anomex_core::{Error, Result};
use anomex_report::leaderboard::{Cell, Page, Section};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

/// One method's line.
#[derive(Debug, Clone, PartialEq)]
pub struct Standing {
    pub method: String,
    /// Data sets with a result.
    pub datasets: usize,
    /// Data sets where every run failed (timeout, memory, error).
    pub failed: usize,
    /// Mean over the data sets where the metric is defined, per metric of the protocol.
    pub means: Vec<Option<f64>>,
    /// Mean rank by the first metric (1 = best; a method without a value on a data set takes
    /// the last rank there).
    pub mean_rank: Option<f64>,
    /// Fit + score seconds over all data sets (mean over seeds).
    pub seconds: f64,
}

/// The leaderboard of one suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaderboard {
    pub suite: String,
    pub metrics: Vec<String>,
    /// Best first by the first metric.
    pub standings: Vec<Standing>,
    /// Per data set, methods by the first metric, best first.
    pub per_dataset: BTreeMap<String, Vec<(String, f64)>>,
    /// Per data set and method, the metric means over seeds (in `metrics` order).
    pub table: BTreeMap<(String, String), Vec<Option<f64>>>,
    /// Per method, NAB's standard-profile score of the whole suite with one threshold
    /// ([`nab_corpus`]); empty when not computed.
    pub corpus_nab: BTreeMap<String, Option<f64>>,
    /// Per method, the threshold of that score (written to `corpus_thresholds.json`).
    pub corpus_thresholds: BTreeMap<String, f64>,
    /// Whether the thresholds were given (from another run) rather than the best ones here.
    pub corpus_held_out: bool,
}

/// NAB corpus scores and the thresholds that gave them, per method.
pub type CorpusScores = (BTreeMap<String, Option<f64>>, BTreeMap<String, f64>);

/// Per method, the NAB standard-profile score of the suite as one corpus (one threshold for all
/// data sets, `anomex_metrics::nab::nab_corpus`), from the scores kept in `scores_dir` (the
/// first seed of randomised methods), and its threshold; `None` for a method without scores on
/// every data set. With `fixed` (thresholds from another run, e.g. a tuning split) each method
/// is scored at its threshold there instead of the best one here — a held-out score — and a
/// method without one gets `None`.
pub fn nab_corpus(
    jobs: &[Job],
    scores_dir: &Path,
    fixed: Option<&BTreeMap<String, f64>>,
) -> Result<CorpusScores> {
    let mut labels: BTreeMap<&str, (Vec<bool>, usize)> = BTreeMap::new();
    // method → (data set, its scores if kept)
    type Runs<'a> = Vec<(&'a str, Option<Vec<f64>>)>;
    let mut per_method: BTreeMap<String, Runs<'_>> = BTreeMap::new();
    for job in jobs {
        let name = job.item.name.as_str();
        let entry = per_method.entry(job.method.label()).or_default();
        if entry.iter().any(|(d, _)| *d == name) {
            continue; // a later seed
        }
        if !labels.contains_key(name) {
            let data = anomex_data::suite::load(&job.item)?;
            labels.insert(name, (data.labels, data.eval_start));
        }
        let path = scores_dir.join(format!("{}.npy", job.key()));
        let scores = anomex_data::npy::read_npy(&path, &anomex_data::Selection::default())
            .ok()
            .map(|d| d.frame.column_vec(0));
        entry.push((name, scores));
    }
    let (mut out, mut thresholds) = (BTreeMap::new(), BTreeMap::new());
    for (method, runs) in per_method {
        let files: Option<Vec<(&[bool], &[f64])>> = runs
            .iter()
            .map(|(d, s)| {
                let (l, start) = &labels[d];
                let s = s.as_deref()?;
                (s.len() == l.len()).then(|| (&l[*start..], &s[*start..]))
            })
            .collect();
        let (standard, compat) = (
            anomex_metrics::nab::STANDARD,
            anomex_metrics::Compat::Correct,
        );
        let score = match (files, fixed.map(|f| f.get(&method))) {
            (Some(f), None) => Some(anomex_metrics::nab::nab_corpus(&f, standard, compat)?),
            (Some(f), Some(Some(&t))) => {
                Some(anomex_metrics::nab::nab_corpus_at(&f, standard, compat, t)?)
            }
            _ => None,
        };
        if let Some(s) = score {
            thresholds.insert(method.clone(), s.threshold);
        }
        out.insert(method, score.and_then(|s| s.normalized));
    }
    Ok((out, thresholds))
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Ranks of `values` (higher is better; ties share their mean rank).
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[b].total_cmp(&values[a]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && values[order[j]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j + 1) as f64 / 2.0;
        order[i..j].iter().for_each(|&k| out[k] = rank);
        i = j;
    }
    out
}

/// Builds the leaderboard of `outcomes` (of one suite and protocol).
pub fn build(suite: &str, metrics: &[String], outcomes: &[Outcome]) -> Leaderboard {
    // (dataset, method) → the successful runs (one per seed)
    let mut runs: BTreeMap<(String, String), Vec<&Outcome>> = BTreeMap::new();
    let mut methods = BTreeSet::new();
    let mut failed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for o in outcomes {
        methods.insert(o.method.clone());
        if o.status == Status::Ok {
            runs.entry((o.dataset.clone(), o.method.clone()))
                .or_default()
                .push(o);
        } else {
            failed
                .entry(o.method.clone())
                .or_default()
                .insert(o.dataset.clone());
        }
    }
    let table: BTreeMap<(String, String), Vec<Option<f64>>> = runs
        .iter()
        .map(|(k, seeds)| {
            let per_metric = metrics
                .iter()
                .map(|m| {
                    mean(
                        seeds
                            .iter()
                            .filter_map(|o| o.metrics.get(m).copied().flatten()),
                    )
                })
                .collect();
            (k.clone(), per_metric)
        })
        .collect();
    // the first metric ranks
    let primary = 0;
    let methods: Vec<String> = methods.into_iter().collect();
    let datasets: BTreeSet<&String> = outcomes.iter().map(|o| &o.dataset).collect();
    let mut per_dataset = BTreeMap::new();
    let mut rank_sums = vec![(0.0, 0usize); methods.len()];
    for d in datasets {
        let values: Vec<Option<f64>> = methods
            .iter()
            .map(|m| {
                table
                    .get(&(d.clone(), m.clone()))
                    .and_then(|v| v.get(primary).copied().flatten())
            })
            .collect();
        if values.iter().all(Option::is_none) {
            continue;
        }
        let filled: Vec<f64> = values
            .iter()
            .map(|v| v.unwrap_or(f64::NEG_INFINITY))
            .collect();
        for (r, (sum, n)) in ranks(&filled).into_iter().zip(&mut rank_sums) {
            *sum += r;
            *n += 1;
        }
        let mut best: Vec<(String, f64)> = methods
            .iter()
            .zip(&values)
            .filter_map(|(m, v)| v.map(|v| (m.clone(), v)))
            .collect();
        best.sort_by(|a, b| b.1.total_cmp(&a.1));
        per_dataset.insert(d.clone(), best);
    }
    let mut standings: Vec<Standing> = methods
        .iter()
        .zip(rank_sums)
        .map(|(m, (rank_sum, ranked))| {
            // this method's (data set, metric means) lines
            let mine: Vec<(&String, &Vec<Option<f64>>)> = table
                .iter()
                .filter(|((_, meth), _)| meth == m)
                .map(|((d, _), v)| (d, v))
                .collect();
            let means = (0..metrics.len())
                .map(|k| mean(mine.iter().filter_map(|(_, v)| v[k])))
                .collect();
            let seconds = runs
                .iter()
                .filter(|((_, meth), _)| meth == m)
                .map(|(_, seeds)| {
                    seeds
                        .iter()
                        .map(|o| o.fit_seconds + o.score_seconds)
                        .sum::<f64>()
                        / seeds.len() as f64
                })
                .sum();
            let ok: BTreeSet<&String> = mine.iter().map(|(d, _)| *d).collect();
            Standing {
                method: m.clone(),
                datasets: ok.len(),
                failed: failed
                    .get(m)
                    .map_or(0, |f| f.iter().filter(|d| !ok.contains(d)).count()),
                means,
                mean_rank: (ranked > 0).then(|| rank_sum / ranked as f64),
                seconds,
            }
        })
        .collect();
    standings.sort_by(|a, b| {
        let key = |s: &Standing| s.means.get(primary).copied().flatten();
        match (key(a), key(b)) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.method.cmp(&b.method),
        }
    });
    Leaderboard {
        suite: suite.to_string(),
        metrics: metrics.to_vec(),
        standings,
        per_dataset,
        table,
        corpus_nab: BTreeMap::new(),
        corpus_thresholds: BTreeMap::new(),
        corpus_held_out: false,
    }
}

/// Decimals for a metric: NAB scores are on a 0–100 scale, the rest on 0–1.
fn digits(metric: &str) -> usize {
    if metric.starts_with("NAB") {
        1
    } else {
        3
    }
}

fn fmt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.digits$}"))
}

impl Leaderboard {
    fn corpus(&self, method: &str) -> Option<f64> {
        self.corpus_nab.get(method).copied().flatten()
    }

    /// The numeric cells of a line after the method's name, with their decimals.
    fn numbers(&self, s: &Standing) -> Vec<(Option<f64>, usize)> {
        let mut cells: Vec<(Option<f64>, usize)> = s
            .means
            .iter()
            .zip(&self.metrics)
            .map(|(v, m)| (*v, digits(m)))
            .collect();
        if !self.corpus_nab.is_empty() {
            cells.push((self.corpus(&s.method), 1));
        }
        cells.push((s.mean_rank, 2));
        cells.push((Some(s.datasets as f64), 0));
        cells.push((Some(s.failed as f64), 0));
        cells.push((Some(s.seconds), 1));
        cells
    }

    fn header(&self) -> Vec<String> {
        let mut h = vec!["rank".to_string(), "method".to_string()];
        h.extend(self.metrics.iter().cloned());
        if !self.corpus_nab.is_empty() {
            h.push(if self.corpus_held_out {
                "NAB corpus (held out)".to_string()
            } else {
                "NAB corpus".to_string()
            });
        }
        h.extend(
            ["mean rank", "data sets", "failed", "seconds"]
                .iter()
                .map(|s| s.to_string()),
        );
        h
    }

    /// The table as Markdown, with the protocol and how to read it above.
    pub fn markdown(&self, protocol: &Protocol, command: &str) -> String {
        let mut md = String::new();
        let _ = writeln!(md, "# Leaderboard: {}\n", self.suite);
        let _ = writeln!(md, "Command: `{command}`\n");
        let _ = writeln!(
            md,
            "Protocol `{}`: {}\n",
            protocol.id(),
            serde_json::to_string(protocol).unwrap_or_default()
        );
        let _ = writeln!(
            md,
            "Metrics are means over the data sets where they are defined (seeds averaged first); \
             ranked by {p}; `mean rank` by {p} per data set (a method \
             without a result there takes the last rank); `seconds` is fit + score time summed \
             over data sets; `NAB corpus` (when shown) is NAB's standard profile over the whole \
             suite with one threshold, scores in [0, 1] as they are and other data sets' scores \
             min-max scaled{held}.\n",
            p = protocol.primary(),
            held = if self.corpus_held_out {
                ", at each method's threshold from another run (`--corpus-thresholds`), not the \
                 best one for these data sets"
            } else {
                ""
            }
        );
        let header = self.header();
        let _ = writeln!(md, "| {} |", header.join(" | "));
        let _ = writeln!(md, "|{}", "---|".repeat(header.len()));
        for (i, s) in self.standings.iter().enumerate() {
            let mut cells = vec![(i + 1).to_string(), s.method.clone()];
            cells.extend(self.numbers(s).into_iter().map(|(v, d)| fmt(v, d)));
            let _ = writeln!(md, "| {} |", cells.join(" | "));
        }
        md
    }

    /// The table as CSV (empty cells where a value is undefined).
    pub fn csv(&self) -> String {
        let mut out = self.header().join(",") + "\n";
        for (i, s) in self.standings.iter().enumerate() {
            let mut cells = vec![
                (i + 1).to_string(),
                format!("\"{}\"", s.method.replace('"', "\"\"")),
            ];
            cells.extend(
                self.numbers(s)
                    .into_iter()
                    .map(|(v, _)| v.map(|v| v.to_string()).unwrap_or_default()),
            );
            out.push_str(&cells.join(","));
            out.push('\n');
        }
        out
    }

    /// Every (data set, method) line as CSV, for analysis elsewhere.
    pub fn per_dataset_csv(&self) -> String {
        let mut out = format!("dataset,method,{}\n", self.metrics.join(","));
        for ((d, m), values) in &self.table {
            let cells: Vec<String> = values
                .iter()
                .map(|v| v.map(|v| v.to_string()).unwrap_or_default())
                .collect();
            let _ = writeln!(out, "\"{d}\",\"{m}\",{}", cells.join(","));
        }
        out
    }

    /// The HTML page: the table, and for up to `plots` data sets (in name order) the series with
    /// its labels and the scores of the three best methods there, read from `scores_dir`.
    pub fn html(
        &self,
        protocol: &Protocol,
        command: &str,
        jobs: &[Job],
        scores_dir: &Path,
        plots: usize,
    ) -> Result<String> {
        let header = self.header();
        let rows = self
            .standings
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut cells = vec![
                    Cell::Number {
                        value: Some((i + 1) as f64),
                        digits: 0,
                    },
                    Cell::Text(s.method.clone()),
                ];
                cells.extend(
                    self.numbers(s)
                        .into_iter()
                        .map(|(value, digits)| Cell::Number { value, digits }),
                );
                cells
            })
            .collect();
        let mut sections = Vec::new();
        for (dataset, best) in self.per_dataset.iter().take(plots) {
            let Some(job) = jobs.iter().find(|j| &j.item.name == dataset) else {
                continue;
            };
            let data = anomex_data::suite::load(&job.item)?;
            let mut scores = Vec::new();
            for (method, value) in best.iter().take(3) {
                let Some(j) = jobs
                    .iter()
                    .find(|j| &j.item.name == dataset && &j.method.label() == method)
                else {
                    continue;
                };
                let path = scores_dir.join(format!("{}.npy", j.key()));
                if let Ok(d) = anomex_data::npy::read_npy(&path, &anomex_data::Selection::default())
                {
                    scores.push((
                        format!("{method} ({} {value:.3})", protocol.primary()),
                        d.frame.column_vec(0),
                    ));
                }
            }
            sections.push(Section {
                title: dataset.clone(),
                values: data.frame.column_vec(0),
                truth: data.labels,
                scores,
            });
        }
        let facts = vec![
            ("suite".to_string(), self.suite.clone()),
            ("command".to_string(), command.to_string()),
            (
                "protocol".to_string(),
                format!(
                    "{} {}",
                    protocol.id(),
                    serde_json::to_string(protocol).unwrap_or_default()
                ),
            ),
            (
                "data sets".to_string(),
                format!(
                    "{} ranked; plots for the first {} by name",
                    self.per_dataset.len(),
                    sections.len()
                ),
            ),
        ];
        Page {
            title: format!("anomex benchmark: {}", self.suite),
            facts,
            header,
            rows,
            sections,
        }
        .render()
    }

    /// Writes `leaderboard.md`, `leaderboard.csv`, `per_dataset.csv` and `leaderboard.html` to
    /// `out`.
    pub fn write(
        &self,
        out: &Path,
        protocol: &Protocol,
        command: &str,
        jobs: &[Job],
        plots: usize,
    ) -> Result<()> {
        let put = |name: &str, text: String| {
            let path = out.join(name);
            std::fs::write(&path, text)
                .map_err(|e| Error::input(format!("{}: {e}", path.display())))
        };
        put("leaderboard.md", self.markdown(protocol, command))?;
        put("leaderboard.csv", self.csv())?;
        put("per_dataset.csv", self.per_dataset_csv())?;
        if !self.corpus_thresholds.is_empty() {
            let json = serde_json::to_string_pretty(&self.corpus_thresholds)
                .map_err(|e| Error::input(format!("corpus thresholds: {e}")))?;
            put("corpus_thresholds.json", json + "\n")?;
        }
        put(
            "leaderboard.html",
            self.html(protocol, command, jobs, &out.join("scores"), plots)?,
        )
    }
}

/// The scores file name of a data set for peers: `<label>/<data set>.npy`.
pub fn peer_file(label: &str, dataset: &str) -> String {
    format!("{label}/{}.npy", file_name(dataset))
}
