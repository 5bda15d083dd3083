//! `anomex`: find anomalies in a data file from the command line.

/// `println!` that reports a closed stdout (e.g. `anomex list | head`) as an error instead of
/// panicking; `main` treats a broken pipe as a normal end.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?;
    }};
}

/// mimalloc for the whole process: it keeps freed pages for the next allocation, where glibc's
/// malloc returns every large buffer to the system and faults it in again — a network's training
/// allocates and frees its activations on every batch (a fifth of a CNN epoch went to page
/// faults and zeroing).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod bench;
mod chunked;
mod eval;
mod example;
mod loadgen;
mod logs;
mod run;
mod serve;
mod synth;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "anomex",
    version,
    about = "Anomaly detection for time series and tabular data"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Fit a detector, score every row, threshold and report
    Detect(DetectArgs),
    /// Fit a detector and save it as a model file
    Fit(FitArgs),
    /// Score a file with a saved model
    Score(ScoreArgs),
    /// Evaluation metrics of scores (and a prediction) against labels
    Eval(EvalArgs),
    /// Benchmark detectors on a suite of labelled data sets and write a leaderboard
    Bench(Box<BenchArgs>),
    /// Run one benchmark job read from stdin (used by `bench`)
    #[command(hide = true)]
    BenchWorker,
    /// Parse a log into templates (Drain) and find its anomalous windows or sessions
    Logs(Box<logs::LogsArgs>),
    /// Generate a synthetic series with labelled anomalies
    Synth(SynthArgs),
    /// Run the HTTP streaming service
    Serve(ServeArgs),
    /// Load a running service with many series and report throughput and latency
    Loadgen(LoadgenArgs),
    /// List the detectors, their parameters and the threshold policies
    List {
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
        /// Print the README's Markdown table of detectors
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
    },
}

/// How to read the input file.
#[derive(Args, Debug, Clone)]
pub struct InputArgs {
    /// Timestamp column (name or zero-based index); detected when omitted
    #[arg(long)]
    time_col: Option<String>,
    /// Value columns, comma-separated (names or indices); default: all numeric columns
    #[arg(long, value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Ground-truth label column (non-zero = anomaly), shown in the report
    #[arg(long)]
    label_col: Option<String>,
    /// The first row is a header (detected when neither flag is given)
    #[arg(long, conflicts_with = "no_header")]
    header: bool,
    /// The first row is data
    #[arg(long)]
    no_header: bool,
    /// Missing / non-finite values: error (default), ffill, linear, zero
    #[arg(long, default_value = "error")]
    fill: String,
    /// Categorical columns, comma-separated, one-hot encoded (default: the value columns whose
    /// first cell is text)
    #[arg(long, value_delimiter = ',')]
    categorical: Option<Vec<String>>,
    /// The label column's value for normal rows (any other value is an anomaly), e.g. normal
    #[arg(long, requires = "label_col")]
    normal_label: Option<String>,
}

/// Outputs shared by `detect` and `score`.
#[derive(Args, Debug, Clone)]
pub struct OutputArgs {
    /// Threshold policy, e.g. pot, pot:1e-4, contamination:0.01, mad:3, dspot, esd
    #[arg(long)]
    threshold: Option<String>,
    /// Write one row per input row (index, timestamp, score, label) to .csv, .json or .parquet
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Write a self-contained HTML report
    #[arg(long)]
    report: Option<PathBuf>,
    /// Add a calibrated [0, 1] score column (empirical CDF of the training scores)
    #[arg(long)]
    calibrate: bool,
    /// Print a JSON summary instead of text
    #[arg(long)]
    json: bool,
    /// Print how long each phase took (reading, fitting, scoring, …) to stderr
    #[arg(long)]
    timings: bool,
}

#[derive(Args, Debug)]
pub struct DetectArgs {
    /// Input file (.csv, .tsv, .npy, .npz, .parquet)
    #[arg(required_unless_present = "example")]
    file: Option<PathBuf>,
    /// Run on the embedded NAB machine-temperature series (writes report.html unless --report)
    #[arg(long, conflicts_with = "file")]
    example: bool,
    #[command(flatten)]
    model: ModelArgs,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    out: OutputArgs,
}

/// Which detector to fit, and on which rows.
#[derive(Args, Debug)]
pub struct ModelArgs {
    /// Detector name (see `anomex list`); default: chosen by the data's shape (univariate or
    /// multivariate series, or vectors from an .npz file)
    #[arg(short, long)]
    detector: Option<String>,
    /// Detector parameter key=value (repeatable)
    #[arg(short, long = "param")]
    params: Vec<String>,
    /// Fit on the first N rows only (a normal prefix), score every row
    #[arg(long)]
    train_rows: Option<usize>,
}

#[derive(Args, Debug)]
pub struct FitArgs {
    /// Training data file
    file: PathBuf,
    #[command(flatten)]
    model: ModelArgs,
    /// Where to write the model file
    #[arg(long)]
    save: PathBuf,
    /// Fit on N rows drawn uniformly in one pass over a .npy file (data larger than memory)
    #[arg(long, conflicts_with = "train_rows")]
    sample: Option<usize>,
    /// Seed of the row sample
    #[arg(long, default_value_t = 0, requires = "sample")]
    sample_seed: u64,
    #[command(flatten)]
    input: InputArgs,
}

#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Data file to score
    file: PathBuf,
    /// Model file written by `anomex fit`
    #[arg(long)]
    model: PathBuf,
    /// Fit the threshold on the scores of the first N rows (default: all rows)
    #[arg(long)]
    train_rows: Option<usize>,
    /// Read and score a .npy file N rows at a time, in bounded memory (vector detectors; the
    /// threshold is fitted on the first chunk; scores written as CSV)
    #[arg(long, conflicts_with_all = ["train_rows", "report", "json", "calibrate"])]
    chunk_rows: Option<usize>,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    out: OutputArgs,
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Ground-truth labels (non-zero = anomaly): .npy, one-column CSV or Parquet
    #[arg(long)]
    labels: PathBuf,
    /// Anomaly scores, one per label (higher = more anomalous)
    #[arg(long)]
    scores: PathBuf,
    /// A fixed binary prediction, for the @pred metrics
    #[arg(long)]
    pred: Option<PathBuf>,
    /// The largest VUS window (TSB-AD's slidingWindow)
    #[arg(long, default_value_t = 100)]
    window: usize,
    /// PATE's early and delayed buffer, in points
    #[arg(long, default_value_t = 100)]
    buffer: usize,
    /// `all` or a comma-separated list of metric names
    #[arg(long)]
    metrics: Option<String>,
    /// Reproduce the reference implementations' quirks (TSB-AD's PA-F1 and event F1, NAB's
    /// one-point windows; see the anomex_metrics docs)
    #[arg(long)]
    compat_reference: bool,
    /// Print one JSON object of metric name → value
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// nab, smap_msl, adbench (under the data folder), or a folder of data sets with --loader
    #[arg(long)]
    suite: String,
    /// How the suite's folder is laid out: nab, smap_msl, adbench, tsb_ad, ucr, csv:<label column>
    #[arg(long)]
    loader: Option<String>,
    /// Folder holding nab/, smap_msl/, adbench/ (default: $ANOMEX_DATA, then ../shared/data)
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Detector NAME or NAME:key=value,key=value (repeatable; default: the suite kind's set)
    #[arg(short, long)]
    detector: Vec<String>,
    /// Add the suite kind's learned detectors (trained networks: minutes per data set) to the
    /// default set
    #[arg(long)]
    learned: bool,
    /// Folder of scores computed elsewhere: <dir>/<method>/<data set>.npy, evaluated as methods
    #[arg(long)]
    peer_scores: Option<PathBuf>,
    /// Output folder: results cache, scores and leaderboards (default bench-results/<suite>)
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Jobs at a time (default: one per core)
    #[arg(long)]
    jobs: Option<usize>,
    /// Seconds before a job is stopped
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Resident memory (MiB) beyond which a job is stopped
    #[arg(long, default_value_t = 4096)]
    memory_mib: u64,
    /// Normalisation: zscore (statistics of the training rows) or none (default: zscore for
    /// series, none for vectors)
    #[arg(long)]
    normalize: Option<String>,
    /// Training rows: auto (semi-supervised detectors on the data set's normal prefix) or all
    /// (default: auto for series, all for vectors)
    #[arg(long)]
    training: Option<String>,
    /// VUS window: auto (TSB-AD's period rule per data set) or a number
    #[arg(long, default_value = "auto")]
    vus_window: String,
    /// Seeds of randomised detectors, comma-separated (metrics averaged)
    #[arg(long, value_delimiter = ',')]
    seeds: Option<Vec<u64>>,
    /// Metrics, comma-separated; the first ranks (default for series: VUS-PR, VUS-ROC, AUC-PR,
    /// AUC-ROC, the F1 family, NAB; for vectors: AUC-ROC, AUC-PR, Standard-F1)
    #[arg(long, value_delimiter = ',')]
    metrics: Option<Vec<String>>,
    /// Data sets: all, tuning:SHARE or evaluation:SHARE (a fixed split by name)
    #[arg(long, default_value = "all")]
    split: String,
    /// NAB corpus scored at each method's threshold from an earlier run's corpus_thresholds.json
    /// (e.g. a --split tuning:SHARE run) instead of the best threshold here: a held-out score
    #[arg(long)]
    corpus_thresholds: Option<PathBuf>,
    /// Only the first N data sets (by name)
    #[arg(long)]
    limit: Option<usize>,
    /// Run failed jobs again instead of reusing their recorded failure
    #[arg(long)]
    retry_failed: bool,
    /// Data sets plotted in the HTML leaderboard
    #[arg(long, default_value_t = 30)]
    plots: usize,
}

#[derive(Args, Debug)]
pub struct SynthArgs {
    /// Output file (.csv or .parquet): columns c0, c1, … and label; the injected anomalies go to
    /// <output stem>.anomalies.json
    #[arg(short, long)]
    output: PathBuf,
    /// Number of points
    #[arg(long, default_value_t = 10_000)]
    length: usize,
    /// Number of channels
    #[arg(long, default_value_t = 1)]
    channels: usize,
    /// Random seed (same seed and options, same output)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Level change over the whole series
    #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
    trend: f64,
    /// Seasonal component PERIOD:AMPLITUDE (repeatable; default 100:1; `none` for none)
    #[arg(long)]
    season: Vec<String>,
    /// Standard deviation of the white noise
    #[arg(long, default_value_t = 0.1)]
    noise: f64,
    /// Standard deviation of the random walk's steps
    #[arg(long, default_value_t = 0.0)]
    random_walk: f64,
    /// Share of the noise common to all channels (0–1)
    #[arg(long, default_value_t = 0.0)]
    correlation: f64,
    /// Number of anomalies to inject
    #[arg(long, default_value_t = 10)]
    anomalies: usize,
    /// Kinds to draw from, comma-separated: point, contextual, collective, level_shift,
    /// frequency_change, variance_change, trend_change (default: all)
    #[arg(long, value_delimiter = ',')]
    kinds: Option<Vec<String>>,
    /// Severity range LO:HI (in standard deviations of the channel)
    #[arg(long, default_value = "2:5")]
    severity: String,
    /// Length range of segment anomalies LO:HI
    #[arg(long, default_value = "20:100")]
    segment: String,
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Folder of the service's store (created if missing)
    #[arg(long)]
    data: PathBuf,
    /// Address to listen on (port 0 picks a free port, printed on stdout)
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: String,
    /// JSON configuration: tokens, limits, keep_recent, checkpoint_secs, webhook
    #[arg(long)]
    config: Option<PathBuf>,
    /// Logs as JSON lines instead of text
    #[arg(long)]
    json_logs: bool,
}

#[derive(Args, Debug)]
struct LoadgenArgs {
    /// Base address of the service
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Admin token (creates the series); default: $ANOMEX_ADMIN_TOKEN
    #[arg(long, env = "ANOMEX_ADMIN_TOKEN", hide_env_values = true)]
    token: String,
    /// Series to create and feed
    #[arg(long, default_value_t = 10_000)]
    series: usize,
    /// Points per request
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Requests in flight at once
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Stop after this many seconds
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Stop after this many points (whichever comes first)
    #[arg(long, default_value_t = u64::MAX)]
    points: u64,
    /// Detector of the created series
    #[arg(long, default_value = "zscore")]
    detector: String,
    /// Prefix of the series' names
    #[arg(long, default_value = "load")]
    prefix: String,
    /// Log series instead: each request sends `batch` lines of this file to one series
    /// (lines taken in order, over and over), scored by `ngram`
    #[arg(long, value_name = "FILE")]
    log: Option<std::path::PathBuf>,
    /// With --log: a Loghub system whose format and parser settings the series use
    #[arg(long, requires = "log")]
    preset: Option<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // on a pool thread (see `anomex::on_pool`); `bench` and `serve` manage their own threads
        Command::Detect(a) => anomex::on_pool(|| run::detect(a)),
        Command::Fit(a) => anomex::on_pool(|| run::fit(a)),
        Command::Score(a) => anomex::on_pool(|| run::score(a)),
        Command::Eval(a) => eval::eval(a),
        Command::Bench(a) => bench::bench(*a),
        Command::BenchWorker => bench::worker(),
        Command::Logs(a) => anomex::on_pool(|| logs::logs(*a)),
        Command::Synth(a) => synth::synth(a),
        Command::Serve(a) => serve::serve(a),
        Command::Loadgen(a) => loadgen::loadgen(a),
        Command::List { json, markdown } => run::list(json, markdown),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
            eprintln!("error: {}", chain.join(": "));
            ExitCode::from(2)
        }
    }
}
