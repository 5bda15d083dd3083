//! The harness in-process on a small labelled-CSV suite: outcomes, the cache, peers and the
//! leaderboard's aggregation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use anomex_bench::job::{self, Job, Method, Outcome, Status};
use anomex_bench::leaderboard;
use anomex_bench::protocol::{Protocol, Split, VusWindow};
use anomex_bench::runner::{run_all, Limits, Results, Worker};
use anomex_data::suite::{list, Loader};
use std::path::Path;
use std::time::Duration;

/// Three sine series with a labelled spike each.
fn suite(dir: &Path) {
    for (k, at) in [(0usize, 300usize), (1, 500), (2, 700)] {
        let mut text = String::from("value,label\n");
        for i in 0..1000 {
            let v = (i as f64 * 0.2 + k as f64).sin() + if i == at { 6.0 } else { 0.0 };
            text += &format!("{v},{}\n", u8::from(i == at));
        }
        std::fs::write(dir.join(format!("s{k}.csv")), text).unwrap();
    }
}

fn protocol() -> Protocol {
    Protocol {
        vus_window: VusWindow::Fixed(20),
        metrics: vec!["VUS-PR".into(), "AUC-ROC".into(), "NAB-standard".into()],
        seeds: vec![0, 1],
        ..Protocol::default()
    }
}

fn jobs(dir: &Path, methods: &[Method], scores: Option<&Path>) -> Vec<Job> {
    let loader = Loader::parse("csv:label").unwrap();
    let mut out = Vec::new();
    for item in list(&loader, dir, dir).unwrap() {
        for m in methods {
            let seeds: Vec<Option<u64>> = match m {
                Method::Detector { name, .. } if name == "iforest" => vec![Some(0), Some(1)],
                _ => vec![None],
            };
            for seed in seeds {
                out.push(Job {
                    suite: "toy".into(),
                    item: item.clone(),
                    method: m.clone(),
                    seed,
                    protocol: protocol(),
                    scores_dir: scores.map(Path::to_path_buf),
                });
            }
        }
    }
    out
}

fn limits() -> Limits {
    Limits {
        parallel: 2,
        threads_per_job: 1,
        timeout: Duration::from_secs(60),
        memory_mib: 1 << 20,
    }
}

#[test]
fn runs_caches_and_ranks() {
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path());
    let scores = dir.path().join("scores");
    std::fs::create_dir(&scores).unwrap();
    let methods = [
        Method::parse_detector("zscore:window=50"),
        Method::parse_detector("iforest"),
        Method::parse_detector("nosuch"),
    ];
    let jobs = jobs(dir.path(), &methods, Some(&scores));
    assert_eq!(jobs.len(), 3 * 4);
    let results_path = dir.path().join("results.jsonl");
    let mut results = Results::open(&results_path).unwrap();
    let mut seen = Vec::new();
    let outcomes = run_all(
        &jobs,
        &Worker::InProcess,
        &limits(),
        &mut results,
        false,
        |o, c| seen.push((o.key.clone(), c)),
    )
    .unwrap();
    assert_eq!(seen.len(), 12);
    assert!(seen.iter().all(|(_, cached)| !cached));
    let bad: Vec<&Outcome> = outcomes.iter().filter(|o| o.method == "nosuch").collect();
    assert!(bad
        .iter()
        .all(|o| o.status == Status::Failed && o.message.as_deref().unwrap().contains("nosuch")));
    let good = outcomes
        .iter()
        .find(|o| o.method == "zscore(window=50)")
        .unwrap();
    assert_eq!(good.status, Status::Ok);
    assert!(good.metrics["AUC-ROC"].unwrap() > 0.9, "{good:?}");
    assert!(scores.join(format!("{}.npy", good.key)).is_file());

    // a second run takes everything from the file; a cut-off line is run again
    let text = std::fs::read_to_string(&results_path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let last = lines.pop().unwrap();
    let cut = format!("{}\n{}", lines.join("\n"), &last[..last.len() / 2]);
    std::fs::write(&results_path, cut).unwrap();
    let mut results = Results::open(&results_path).unwrap();
    let mut fresh = 0;
    let again = run_all(
        &jobs,
        &Worker::InProcess,
        &limits(),
        &mut results,
        false,
        |_, c| fresh += usize::from(!c),
    )
    .unwrap();
    assert_eq!(fresh, 1);
    assert_eq!(again.len(), 12);
    // failures are kept unless retried
    let mut retried = 0;
    run_all(
        &jobs,
        &Worker::InProcess,
        &limits(),
        &mut results,
        true,
        |_, c| retried += usize::from(!c),
    )
    .unwrap();
    assert_eq!(retried, 3);

    let metrics = protocol().metrics;
    let board = leaderboard::build("toy", &metrics, &again);
    assert_eq!(board.standings.len(), 3);
    assert_eq!(board.standings[2].method, "nosuch");
    assert_eq!(
        (board.standings[2].datasets, board.standings[2].failed),
        (0, 3)
    );
    assert_eq!(board.standings[2].mean_rank, Some(3.0));
    let md = board.markdown(&protocol(), "anomex bench");
    assert!(md.contains("| 1 | ") && md.contains("nosuch"));
    assert_eq!(board.csv().lines().count(), 4);
    // iforest's two seeds are averaged into one line per data set
    assert_eq!(board.per_dataset_csv().lines().count(), 1 + 2 * 3);
    let html = board
        .html(&protocol(), "anomex bench", &jobs, &scores, 2)
        .unwrap();
    assert_eq!(html.matches("<h2>s").count(), 2);
}

#[test]
fn peer_scores_are_evaluated_like_detectors() {
    let dir = tempfile::tempdir().unwrap();
    suite(dir.path());
    let peers = dir.path().join("peers");
    std::fs::create_dir_all(peers.join("oracle")).unwrap();
    std::fs::create_dir_all(peers.join("short")).unwrap();
    let loader = Loader::parse("csv:label").unwrap();
    for item in list(&loader, dir.path(), dir.path()).unwrap() {
        let data = anomex_data::suite::load(&item).unwrap();
        let perfect: Vec<f64> = data
            .labels
            .iter()
            .map(|&l| f64::from(u8::from(l)))
            .collect();
        let write = |folder: &str, v: Vec<f64>| {
            let path = peers
                .join(folder)
                .join(format!("{}.npy", job::file_name(&item.name)));
            ndarray_npy::write_npy(path, &ndarray::Array1::from(v)).unwrap();
        };
        write("oracle", perfect.clone());
        write("short", perfect[..10].to_vec());
    }
    let methods = [
        Method::Peer {
            label: "oracle".into(),
            dir: peers.clone(),
        },
        Method::Peer {
            label: "short".into(),
            dir: peers.clone(),
        },
    ];
    let jobs = jobs(dir.path(), &methods, None);
    let out: Vec<Outcome> = jobs.iter().map(job::run).collect();
    for o in &out {
        if o.method == "oracle" {
            assert_eq!(o.status, Status::Ok);
            assert_eq!(o.metrics["AUC-ROC"], Some(1.0));
        } else {
            assert!(o
                .message
                .as_deref()
                .unwrap()
                .contains("10 scores for a data set of 1000 rows"));
        }
    }
}

#[test]
fn protocol_identity_and_split() {
    let p = protocol();
    assert_eq!(p.id(), protocol().id());
    let other = Protocol {
        vus_window: VusWindow::Fixed(21),
        ..protocol()
    };
    assert_ne!(p.id(), other.id());
    let names: Vec<String> = (0..200).map(|i| format!("set{i}")).collect();
    let tuning: Vec<&String> = names
        .iter()
        .filter(|n| Split::Tuning { share: 0.3 }.contains(n))
        .collect();
    let evaluation = names
        .iter()
        .filter(|n| Split::Evaluation { share: 0.3 }.contains(n))
        .count();
    assert_eq!(
        tuning.len() + evaluation,
        200,
        "the two parts cover every data set once"
    );
    assert!((40..=80).contains(&tuning.len()), "{} of 200", tuning.len());
    // the split is fixed by the names
    let again = names
        .iter()
        .filter(|n| Split::Tuning { share: 0.3 }.contains(n))
        .count();
    assert_eq!(again, tuning.len());
}
