//! The engine: one thread that owns every series and the store.
//!
//! Requests arrive on a channel. The engine takes every request waiting (up to a cap), applies
//! the ingests in arrival order, writes all their points and anomalies in *one* durable commit
//! (group commit: one fsync for many requests), and only then answers them. One owner means no
//! locks around the series, a single total order of points (what the WAL replays), and
//! per-request atomicity: a request with one bad point changes nothing.

use crate::config::Config;
use crate::error::{EngineError, ErrorKind};
use crate::metrics::Metrics;
use crate::snapshots::{Saved, Snapshots};
use crate::store::{Event, Store, StoredSeries, WalLine, WalPoint};
use anomex::{model_file, Registry};
use anomex_stream::{LineScored, LogSettings, Scored, Series, SeriesConfig};
use serde::Serialize;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{broadcast, mpsc, oneshot};

/// Requests taken per group commit at most.
const GROUP_CAP: usize = 512;
/// Series saved per checkpoint step at most, and the time a step may spend on snapshots:
/// checkpoints roll through the changed series in small slices, so no request waits long
/// behind them.
const CHECKPOINT_SLICE: usize = 64;
const CHECKPOINT_STEP_TIME: std::time::Duration = std::time::Duration::from_millis(2);
/// Rolling checkpoint slices handed to the snapshot writer and not yet durable, at most: when
/// the writer falls behind (a slow disk), the series stay marked changed and wait, rather than
/// their snapshots piling up in memory.
const MAX_PENDING_SLICES: usize = 8;

type Reply<T> = oneshot::Sender<Result<T, EngineError>>;

/// One point of an ingest request.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointIn {
    pub series: String,
    pub timestamp: i64,
    pub values: Vec<f64>,
}

/// Log lines sent to one log series.
#[derive(Debug, Clone)]
pub struct LinesIn {
    pub series: String,
    pub lines: Vec<String>,
}

/// What a log ingest answers: each line's template and score; blank lines are skipped.
#[derive(Debug, Clone, Serialize)]
pub struct LinesOut {
    pub results: Vec<LineScored>,
    /// Blank lines left out.
    pub skipped: usize,
    /// Templates the series' parser holds now.
    pub templates: usize,
}

/// One ingest request: points for any series, or log lines for one log series.
#[derive(Debug)]
pub enum Ingest {
    Points(Vec<PointIn>, Instant, Reply<Vec<Scored>>),
    Lines(LinesIn, Instant, Reply<LinesOut>),
}

/// A checked ingest's results, waiting for the commit.
enum Answer {
    Points(Vec<Scored>, Instant, Reply<Vec<Scored>>),
    Lines(LinesOut, Instant, Reply<LinesOut>),
}

impl Answer {
    fn started(&self) -> Instant {
        match self {
            Answer::Points(_, t, _) | Answer::Lines(_, t, _) => *t,
        }
    }
    fn send(self, failed: Option<&EngineError>) {
        match (self, failed) {
            (Answer::Points(.., reply), Some(e)) => drop(reply.send(Err(e.clone()))),
            (Answer::Lines(.., reply), Some(e)) => drop(reply.send(Err(e.clone()))),
            (Answer::Points(out, _, reply), None) => drop(reply.send(Ok(out))),
            (Answer::Lines(out, _, reply), None) => drop(reply.send(Ok(out))),
        }
    }
}

/// A log series' parser as the API describes it.
#[derive(Debug, Clone, Serialize)]
pub struct LogInfo {
    pub settings: LogSettings,
    pub templates: usize,
}

/// A series as the API describes it.
#[derive(Debug, Clone, Serialize)]
pub struct SeriesInfo {
    pub config: SeriesConfig,
    /// Set for a log series.
    pub log: Option<LogInfo>,
    pub phase: &'static str,
    pub points: u64,
    pub anomalies: u64,
    pub last_timestamp: Option<i64>,
    pub error: Option<String>,
}

/// An anomaly as alerts and the event stream carry it.
#[derive(Debug, Clone, Serialize)]
pub struct Alert {
    pub series: String,
    pub point: u64,
    #[serde(flatten)]
    pub scored: Scored,
}

#[derive(Debug)]
pub enum Command {
    /// Creates several series at once (one commit); log series come with their settings.
    Create(
        Vec<(SeriesConfig, Option<LogSettings>)>,
        Reply<Vec<SeriesInfo>>,
    ),
    Delete(String, Reply<()>),
    Ingest(Ingest),
    Fit(String, Vec<Vec<f64>>, Reply<SeriesInfo>),
    Import(String, Vec<u8>, Reply<SeriesInfo>),
    Export(String, Reply<Vec<u8>>),
    Info(String, Reply<SeriesInfo>),
    List(Reply<Vec<SeriesInfo>>),
    Recent(String, usize, Reply<Vec<Scored>>),
    Anomalies(String, usize, Reply<Vec<Scored>>),
    /// Checkpoints every series and stops the engine.
    Shutdown(oneshot::Sender<()>),
}

/// What the engine shares with the HTTP side.
#[derive(Debug, Clone)]
pub struct Handle {
    pub commands: mpsc::Sender<Command>,
    pub metrics: Arc<Metrics>,
    pub alerts: broadcast::Sender<Arc<Alert>>,
}

impl Handle {
    /// Sends a command and waits for its answer.
    pub async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, EngineError> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(make(tx)).await.map_err(|_| {
            EngineError::new(ErrorKind::Unavailable, "the service is shutting down")
        })?;
        rx.await
            .map_err(|_| EngineError::internal("the engine stopped"))?
    }
}

/// Per-series token bucket for the rate limit.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Adds the tokens earned since the last refill, up to one second's worth.
    fn refill(&mut self, rate: f64, now: Instant) {
        self.tokens = (self.tokens + rate * now.duration_since(self.at).as_secs_f64()).min(rate);
        self.at = now;
    }
}

pub struct Engine {
    config: Config,
    registry: Registry,
    store: Store,
    snapshots: Snapshots,
    series: HashMap<String, Series>,
    /// Series changed since their last snapshot: the batch and time they changed first.
    dirty: HashMap<String, (u64, Instant)>,
    /// The names in `dirty`, oldest change first (a name no longer in `dirty` is skipped); so
    /// their batches never decrease along it.
    dirty_order: VecDeque<String>,
    /// Rolling snapshot jobs handed to the writer and not yet durable: job number, and each
    /// series with the batch it had changed first. Their WAL batches are still needed.
    pending: VecDeque<(u64, Vec<(String, u64)>)>,
    next_job: u64,
    /// The WAL holds no batch up to this one.
    trimmed: u64,
    buckets: HashMap<String, Bucket>,
    last_batch: u64,
    metrics: Arc<Metrics>,
    alerts: broadcast::Sender<Arc<Alert>>,
    webhook: Option<mpsc::UnboundedSender<Arc<Alert>>>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("series", &self.series.len())
            .field("last_batch", &self.last_batch)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the store and recovers every series: snapshots, then the WAL after them.
    pub fn open(
        config: Config,
        metrics: Arc<Metrics>,
        alerts: broadcast::Sender<Arc<Alert>>,
        webhook: Option<mpsc::UnboundedSender<Arc<Alert>>>,
    ) -> Result<Engine, String> {
        let store = Store::open(&config.data_dir).map_err(|e| e.to_string())?;
        let snapshots = Snapshots::open(&config.data_dir).map_err(|e| e.to_string())?;
        snapshots.adopt_legacy(&store).map_err(|e| e.to_string())?;
        let mut engine = Engine {
            config,
            registry: anomex::registry(),
            store,
            snapshots,
            series: HashMap::new(),
            dirty: HashMap::new(),
            dirty_order: VecDeque::new(),
            pending: VecDeque::new(),
            next_job: 0,
            trimmed: 0,
            buckets: HashMap::new(),
            last_batch: 0,
            metrics,
            alerts,
            webhook,
        };
        engine.restore()?;
        Ok(engine)
    }

    /// Rebuilds every series from what the store holds: snapshots, then the WAL after each.
    fn restore(&mut self) -> Result<(), String> {
        let recovered = self.store.recover().map_err(|e| e.to_string())?;
        let mut series = HashMap::new();
        let mut since = HashMap::new();
        for (stored, model, parser) in self.snapshots.read_all().map_err(|e| e.to_string())? {
            let name = stored.snapshot.config.name.clone();
            let mut s = Series::restore(
                stored.snapshot,
                model.as_deref(),
                &self.registry,
                self.config.keep_recent,
            )
            .map_err(|e| format!("series `{name}`: {e}"))?;
            if let Some(parser) = parser {
                s.restore_log(parser)
                    .map_err(|e| format!("series `{name}`: {e}"))?;
            }
            since.insert(name.clone(), stored.batch);
            series.insert(name, s);
        }
        let mut dirty = HashMap::new();
        let mut dirty_order = VecDeque::new();
        let mut replayed = 0usize;
        for (batch, points, lines) in &recovered.wal {
            // A batch's points and lines go to different series (a log series takes only
            // lines), so replaying the points first keeps every series' own order.
            let points = points.iter().map(|p| (&p.series, Ok(p)));
            let lines = lines.iter().map(|l| (&l.series, Err(l)));
            for (name, item) in points.chain(lines) {
                let Some(s) = series.get_mut(name) else {
                    continue; // deleted after this batch
                };
                if since.get(name).is_some_and(|&b| *batch <= b) {
                    continue; // already in the snapshot
                }
                match item {
                    Ok(p) => {
                        s.ingest(&self.registry, p.timestamp, p.values.clone());
                    }
                    Err(l) => {
                        s.ingest_line(&self.registry, &l.message)
                            .map_err(|e| format!("series `{name}`: replaying the WAL: {e}"))?;
                    }
                }
                if !dirty.contains_key(name) {
                    dirty.insert(name.clone(), (*batch, Instant::now()));
                    dirty_order.push_back(name.clone());
                }
                replayed += 1;
            }
        }
        tracing::info!(
            series = series.len(),
            wal_batches = recovered.wal.len(),
            replayed,
            "recovered"
        );
        self.metrics
            .series
            .store(series.len() as u64, Ordering::Relaxed);
        self.series = series;
        self.dirty = dirty;
        self.dirty_order = dirty_order;
        self.pending.clear();
        self.trimmed = 0;
        self.last_batch = recovered.last_batch;
        Ok(())
    }

    /// Serves commands until shutdown or until every sender is gone.
    pub fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        let mut group = Vec::with_capacity(GROUP_CAP);
        loop {
            let first = if self.dirty.is_empty() {
                commands.blocking_recv()
            } else {
                // Wake up for the periodic checkpoint even when idle.
                match commands.try_recv() {
                    Ok(c) => Some(c),
                    Err(mpsc::error::TryRecvError::Empty) => {
                        self.maybe_checkpoint();
                        std::thread::sleep(std::time::Duration::from_millis(1));
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => None,
                }
            };
            let Some(first) = first else { break };
            group.push(first);
            while group.len() < GROUP_CAP {
                match commands.try_recv() {
                    Ok(c) => group.push(c),
                    Err(_) => break,
                }
            }
            let mut ingests = Vec::new();
            for command in group.drain(..) {
                match command {
                    Command::Ingest(ingest) => ingests.push(ingest),
                    Command::Shutdown(done) => {
                        self.commit_ingests(std::mem::take(&mut ingests));
                        self.checkpoint();
                        let _ = done.send(());
                        return;
                    }
                    other => {
                        // Keep the total order: earlier ingests are committed first.
                        self.commit_ingests(std::mem::take(&mut ingests));
                        self.handle(other);
                    }
                }
            }
            self.commit_ingests(ingests);
            self.maybe_checkpoint();
        }
        self.checkpoint();
    }

    fn info(&self, name: &str) -> Result<SeriesInfo, EngineError> {
        let s = self
            .series
            .get(name)
            .ok_or_else(|| EngineError::not_found(name))?;
        Ok(SeriesInfo {
            config: s.config.clone(),
            log: s.log().map(|p| LogInfo {
                settings: p.settings().clone(),
                templates: p.templates(),
            }),
            phase: s.phase_name(),
            points: s.points,
            anomalies: s.anomalies,
            last_timestamp: s.last_timestamp,
            error: s.error().map(str::to_string),
        })
    }

    fn handle(&mut self, command: Command) {
        match command {
            Command::Create(configs, reply) => {
                let _ = reply.send(self.create(configs));
            }
            Command::Delete(name, reply) => {
                let _ = reply.send(self.delete(&name));
            }
            Command::Fit(name, history, reply) => {
                let r = self.fit(&name, &history).and_then(|()| self.info(&name));
                let _ = reply.send(r);
            }
            Command::Import(name, bytes, reply) => {
                let r = self.import(&name, &bytes).and_then(|()| self.info(&name));
                let _ = reply.send(r);
            }
            Command::Export(name, reply) => {
                let r = self
                    .series
                    .get(&name)
                    .ok_or_else(|| EngineError::not_found(&name))
                    .and_then(|s| {
                        s.model_bytes()?.ok_or_else(|| {
                            EngineError::new(
                ErrorKind::Conflict,
                                format!("series `{name}` has no model yet: it is collecting its warm-up"),
                            )
                        })
                    });
                let _ = reply.send(r);
            }
            Command::Info(name, reply) => {
                let _ = reply.send(self.info(&name));
            }
            Command::List(reply) => {
                let mut names: Vec<&String> = self.series.keys().collect();
                names.sort();
                let _ = reply.send(names.into_iter().map(|n| self.info(n)).collect());
            }
            Command::Recent(name, limit, reply) => {
                let r = self
                    .series
                    .get(&name)
                    .ok_or_else(|| EngineError::not_found(&name))
                    .map(|s| s.recent().last(limit));
                let _ = reply.send(r);
            }
            Command::Anomalies(name, limit, reply) => {
                let r = if self.series.contains_key(&name) {
                    self.store
                        .anomalies(&name, limit)
                        .map_err(|e| EngineError::internal(e.to_string()))
                } else {
                    Err(EngineError::not_found(&name))
                };
                let _ = reply.send(r);
            }
            // The run loop groups these; handled alone they mean the same.
            Command::Ingest(ingest) => {
                self.commit_ingests(vec![ingest]);
            }
            Command::Shutdown(done) => {
                self.checkpoint();
                let _ = done.send(());
            }
        }
    }

    fn create(
        &mut self,
        configs: Vec<(SeriesConfig, Option<LogSettings>)>,
    ) -> Result<Vec<SeriesInfo>, EngineError> {
        let mut names = HashSet::new();
        for (config, _) in &configs {
            config.validate(&self.registry)?;
            if self.series.contains_key(&config.name) || !names.insert(config.name.as_str()) {
                return Err(EngineError::new(
                    ErrorKind::Conflict,
                    format!("series `{}` exists", config.name),
                ));
            }
        }
        if self.series.len() + configs.len() > self.config.limits.max_series {
            return Err(EngineError::new(
                ErrorKind::StorageFull,
                format!(
                    "{} more series would pass the limit of {}",
                    configs.len(),
                    self.config.limits.max_series
                ),
            ));
        }
        let keep = self.config.keep_recent;
        let created: Vec<Series> = configs
            .into_iter()
            .map(|(c, log)| match log {
                Some(log) => Series::new_log(c, log, &self.registry, keep),
                None => Ok(Series::new(c, keep)),
            })
            .collect::<anomex::Result<_>>()?;
        let stored = created
            .iter()
            .map(|s| self.saved_form(s, true))
            .collect::<Result<Vec<_>, EngineError>>()?;
        self.snapshots
            .save_now(stored)
            .map_err(|e| EngineError::internal(e.to_string()))?;
        let names: Vec<String> = created.iter().map(|s| s.config.name.clone()).collect();
        for s in created {
            self.series.insert(s.config.name.clone(), s);
        }
        self.metrics
            .series
            .store(self.series.len() as u64, Ordering::Relaxed);
        names.iter().map(|n| self.info(n)).collect()
    }

    fn delete(&mut self, name: &str) -> Result<(), EngineError> {
        if !self.series.contains_key(name) {
            return Err(EngineError::not_found(name));
        }
        // Snapshot first: if the events' removal is then lost, the series stays deleted.
        self.snapshots
            .delete_now(name)
            .map_err(|e| EngineError::internal(e.to_string()))?;
        self.store
            .delete_events(name)
            .map_err(|e| EngineError::internal(e.to_string()))?;
        self.series.remove(name);
        self.dirty.remove(name); // its WAL entries are skipped on replay: no series of that name
        self.buckets.remove(name);
        self.metrics
            .series
            .store(self.series.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn fit(&mut self, name: &str, history: &[Vec<f64>]) -> Result<(), EngineError> {
        let series = self
            .series
            .get(name)
            .ok_or_else(|| EngineError::not_found(name))?;
        if let Some((i, problem)) = history
            .iter()
            .enumerate()
            .find_map(|(i, row)| series.check_values(row).err().map(|p| (i, p)))
        {
            return Err(EngineError::bad(format!("history row {i}: {problem}")));
        }
        let model = series.config.fit(&self.registry, history)?;
        self.switch(name, model, Some(history))
    }

    fn import(&mut self, name: &str, bytes: &[u8]) -> Result<(), EngineError> {
        if !self.series.contains_key(name) {
            return Err(EngineError::not_found(name));
        }
        let model = model_file::from_bytes(bytes, &self.registry)?;
        if model.streaming().is_none() {
            return Err(EngineError::bad(format!(
                "the model's detector `{}` is not causal and cannot stream",
                model.name()
            )));
        }
        self.switch(name, model, None)
    }

    /// Switches a series to a new model and saves it at once (it is not in the WAL).
    fn switch(
        &mut self,
        name: &str,
        model: Box<dyn anomex::FittedDetector>,
        history: Option<&[Vec<f64>]>,
    ) -> Result<(), EngineError> {
        let series = self
            .series
            .get_mut(name)
            .ok_or_else(|| EngineError::not_found(name))?;
        let before = series.snapshot()?;
        let model_before = series.model_bytes()?;
        let log_before = series.log().map(|p| p.state());
        series.switch_model(model, history)?;
        let series = &self.series[name];
        if let Err(e) = self.persist(series) {
            // Not saved, so not done: put the old state back.
            let mut old = Series::restore(
                before,
                model_before.as_deref(),
                &self.registry,
                self.config.keep_recent,
            )?;
            if let Some(log) = log_before {
                old.restore_log(log)?;
            }
            self.series.insert(name.to_string(), old);
            return Err(e);
        }
        if let Some(s) = self.series.get_mut(name) {
            s.model_changed = false;
        }
        self.dirty.remove(name);
        Ok(())
    }

    /// A series as the store keeps it: its snapshot as of the last batch, and its model file
    /// when the model changed since it was last saved.
    fn saved_form(&self, series: &Series, with_recent: bool) -> Result<Saved, EngineError> {
        let model = if series.model_changed {
            series.model_bytes()?
        } else {
            None
        };
        let stored = StoredSeries {
            batch: self.last_batch,
            snapshot: series.snapshot_keeping(with_recent)?,
        };
        let parser = series.log().map(|p| p.state());
        Saved::encode(&stored, model, parser.as_ref())
            .map_err(|e| EngineError::internal(e.to_string()))
    }

    /// Saves one series durably, now.
    fn persist(&self, series: &Series) -> Result<(), EngineError> {
        self.snapshots
            .save_now(vec![self.saved_form(series, true)?])
            .map_err(|e| EngineError::internal(e.to_string()))
    }

    /// Checks one request against the series as they are now (and its own earlier points).
    fn check(&mut self, points: &[PointIn]) -> Result<(), EngineError> {
        if points.len() > self.config.limits.max_batch_points {
            return Err(EngineError::new(
                ErrorKind::TooLarge,
                format!(
                    "{} points in one request; the limit is {}",
                    points.len(),
                    self.config.limits.max_batch_points
                ),
            ));
        }
        let mut last: HashMap<&str, i64> = HashMap::new();
        let mut counts: HashMap<&str, f64> = HashMap::new();
        for (i, p) in points.iter().enumerate() {
            let s = self.series.get(&p.series).ok_or_else(|| {
                EngineError::bad(format!(
                    "point {i}: no series named `{}`",
                    p.series.escape_default()
                ))
            })?;
            s.check(p.timestamp, &p.values, last.get(p.series.as_str()).copied())
                .map_err(|e| EngineError::bad(format!("point {i} (series `{}`): {e}", p.series)))?;
            last.insert(&p.series, p.timestamp);
            *counts.entry(&p.series).or_default() += 1.0;
        }
        self.take_tokens(&counts)
    }

    /// Checks a log ingest whole (a bad line refuses the request, naming it) and gives the
    /// messages to parse; blank lines are left out and counted.
    fn check_lines(&mut self, input: &LinesIn) -> Result<(Vec<String>, usize), EngineError> {
        if input.lines.len() > self.config.limits.max_batch_points {
            return Err(EngineError::new(
                ErrorKind::TooLarge,
                format!(
                    "{} lines in one request; the limit is {}",
                    input.lines.len(),
                    self.config.limits.max_batch_points
                ),
            ));
        }
        let s = self
            .series
            .get(&input.series)
            .ok_or_else(|| EngineError::not_found(&input.series))?;
        let mut messages = Vec::with_capacity(input.lines.len());
        for (i, line) in input.lines.iter().enumerate() {
            match s.check_line(line) {
                Ok(Some(m)) => messages.push(m.to_string()),
                Ok(None) => {}
                Err(e) => return Err(EngineError::bad(format!("line {}: {e}", i + 1))),
            }
        }
        let skipped = input.lines.len() - messages.len();
        let counts = HashMap::from([(input.series.as_str(), messages.len() as f64)]);
        self.take_tokens(&counts)?;
        Ok((messages, skipped))
    }

    /// Takes `counts` points from the series' rate-limit buckets, all or none.
    fn take_tokens(&mut self, counts: &HashMap<&str, f64>) -> Result<(), EngineError> {
        let rate = self.config.limits.rate_per_series;
        if rate > 0.0 {
            let now = Instant::now();
            for (&name, &n) in counts {
                let b = self.buckets.entry(name.to_string()).or_insert(Bucket {
                    tokens: rate,
                    at: now,
                });
                b.refill(rate, now);
                if n > b.tokens {
                    return Err(EngineError::new(
                        ErrorKind::RateLimited,
                        format!("series `{name}` is limited to {rate} points per second"),
                    ));
                }
            }
            // Every bucket was refilled above; take the points only once all of them fit.
            for (&name, &n) in counts {
                if let Some(b) = self.buckets.get_mut(name) {
                    b.tokens -= n;
                }
            }
        }
        Ok(())
    }

    /// Marks a series changed by the batch being built.
    fn touch(&mut self, name: &str) {
        if !self.dirty.contains_key(name) {
            self.dirty
                .insert(name.to_string(), (self.last_batch + 1, Instant::now()));
            self.dirty_order.push_back(name.to_string());
        }
    }

    /// Applies a group of ingest requests, commits them in one transaction, then answers.
    fn commit_ingests(&mut self, ingests: Vec<Ingest>) {
        if ingests.is_empty() {
            return;
        }
        let mut wal: Vec<WalPoint> = Vec::new();
        let mut lines: Vec<WalLine> = Vec::new();
        let mut events: Vec<Event> = Vec::new();
        let mut answers = Vec::with_capacity(ingests.len());
        for ingest in ingests {
            match ingest {
                Ingest::Points(points, started, reply) => {
                    if let Err(e) = self.check(&points) {
                        self.metrics.refused.fetch_add(1, Ordering::Relaxed);
                        let _ = reply.send(Err(e));
                        continue;
                    }
                    let mut scored = Vec::with_capacity(points.len());
                    for p in points {
                        let Some(s) = self.series.get_mut(&p.series) else {
                            continue; // checked above
                        };
                        let out = s.ingest(&self.registry, p.timestamp, p.values.clone());
                        if out.anomaly {
                            events.push((p.series.clone(), s.points, out.clone()));
                        }
                        self.touch(&p.series);
                        scored.push(out);
                        wal.push(WalPoint {
                            series: p.series,
                            timestamp: p.timestamp,
                            values: p.values,
                        });
                    }
                    answers.push(Answer::Points(scored, started, reply));
                }
                Ingest::Lines(input, started, reply) => {
                    let (messages, skipped) = match self.check_lines(&input) {
                        Ok(checked) => checked,
                        Err(e) => {
                            self.metrics.refused.fetch_add(1, Ordering::Relaxed);
                            let _ = reply.send(Err(e));
                            continue;
                        }
                    };
                    let Some(s) = self.series.get_mut(&input.series) else {
                        continue; // checked above
                    };
                    let mut results = Vec::with_capacity(messages.len());
                    for message in messages {
                        match s.ingest_line(&self.registry, &message) {
                            Ok(out) => {
                                if out.anomaly {
                                    events.push((input.series.clone(), s.points, out.point()));
                                }
                                results.push(out);
                            }
                            // checked above: a log series takes every checked line
                            Err(e) => tracing::error!(error = %e, "a checked line was refused"),
                        }
                        lines.push(WalLine {
                            series: input.series.clone(),
                            message,
                        });
                    }
                    let templates = s.log().map_or(0, |p| p.templates());
                    self.touch(&input.series);
                    let out = LinesOut {
                        results,
                        skipped,
                        templates,
                    };
                    answers.push(Answer::Lines(out, started, reply));
                }
            }
        }
        if answers.is_empty() {
            return;
        }
        let batch = self.last_batch + 1;
        let floor = self.wal_floor();
        let trim = (floor > self.trimmed).then_some(floor);
        if let Err(e) = self.store.append(batch, &wal, &lines, &events, trim) {
            tracing::error!(error = %e, "commit failed; reloading the durable state");
            let failed = EngineError::internal(format!("not stored: {e}"));
            for answer in answers {
                answer.send(Some(&failed));
            }
            self.reload();
            return;
        }
        self.last_batch = batch;
        self.trimmed = self.trimmed.max(floor);
        self.metrics
            .points
            .fetch_add((wal.len() + lines.len()) as u64, Ordering::Relaxed);
        self.metrics
            .anomalies
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        for answer in answers {
            self.metrics.requests.fetch_add(1, Ordering::Relaxed);
            self.metrics
                .observe_latency(answer.started().elapsed().as_secs_f64());
            answer.send(None);
        }
        for (series, point, scored) in events {
            let alert = Arc::new(Alert {
                series,
                point,
                scored,
            });
            let _ = self.alerts.send(alert.clone());
            if let Some(w) = &self.webhook {
                let _ = w.send(alert);
            }
        }
    }

    /// After a failed commit the in-memory state is ahead of the store: rebuild it from the store.
    /// Snapshots queued before are let finish first, so the store is read as it stands.
    fn reload(&mut self) {
        let flushed = self.snapshots.save_now(Vec::new());
        if let Err(e) = flushed
            .map_err(|e| e.to_string())
            .and_then(|()| self.restore())
        {
            tracing::error!(error = %e, "cannot reload the store");
        }
    }

    /// One rolling checkpoint step: hands the writer up to a slice of the series that have
    /// been changed for at least the checkpoint interval.
    fn maybe_checkpoint(&mut self) {
        self.collect_finished();
        if self.pending.len() >= MAX_PENDING_SLICES {
            return;
        }
        let every = self.config.checkpoint_every;
        let due = self
            .dirty_order
            .front()
            .and_then(|n| self.dirty.get(n))
            .is_some_and(|(_, at)| at.elapsed() >= every);
        let stale = self
            .dirty_order
            .front()
            .is_some_and(|n| !self.dirty.contains_key(n));
        if due || stale {
            self.checkpoint_step(CHECKPOINT_SLICE, every, false);
        }
    }

    /// Saves every changed series durably and trims the WAL (at shutdown).
    pub fn checkpoint(&mut self) {
        while !self.dirty_order.is_empty() {
            if !self.checkpoint_step(usize::MAX, std::time::Duration::ZERO, true) {
                return;
            }
        }
        // Every job queued earlier is durable once a waited-for one is.
        if let Err(e) = self.snapshots.save_now(Vec::new()) {
            tracing::error!(error = %e, "snapshot writer failed; the WAL keeps the points");
        }
        let floor = self.wal_floor();
        if floor > self.trimmed {
            match self.store.trim(floor) {
                Ok(()) => self.trimmed = floor,
                Err(e) => tracing::error!(error = %e, "cannot trim the WAL"),
            }
        }
    }

    /// Takes up to `slice` of the oldest changed series that have been changed for `age` (a
    /// rolling step stops early when its snapshots take too long) and saves them: `durable`
    /// waits for the commit, a rolling step queues them for the writer. False when the
    /// snapshots could not be made or stored.
    fn checkpoint_step(&mut self, slice: usize, age: std::time::Duration, durable: bool) -> bool {
        let started = Instant::now();
        let mut taken: Vec<(String, u64)> = Vec::new();
        let mut saved = Vec::new();
        while taken.len() < slice && (durable || started.elapsed() < CHECKPOINT_STEP_TIME) {
            let Some(name) = self.dirty_order.front() else {
                break;
            };
            let first = match self.dirty.get(name) {
                None => {
                    self.dirty_order.pop_front(); // saved or deleted meanwhile
                    continue;
                }
                Some((_, at)) if at.elapsed() < age => break,
                Some(&(first, _)) => first,
            };
            let Some(name) = self.dirty_order.pop_front() else {
                break;
            };
            if let Some(s) = self.series.get(&name) {
                match self.saved_form(s, durable) {
                    Ok(form) => saved.push(form),
                    Err(e) => {
                        tracing::error!(series = %name, error = %e, "cannot snapshot; the WAL keeps its points");
                        taken.push((name, first));
                        self.requeue(taken);
                        return false;
                    }
                }
            }
            self.dirty.remove(&name);
            taken.push((name, first));
        }
        if taken.is_empty() {
            return true;
        }
        let count = saved.len();
        let id = self.next_job;
        let handed = if durable {
            self.snapshots.save_now(saved)
        } else {
            self.snapshots.save_later(id, saved)
        };
        if let Err(e) = handed {
            tracing::error!(error = %e, "checkpoint failed; the WAL keeps the points");
            self.requeue(taken);
            return false;
        }
        for (name, _) in &taken {
            if let Some(s) = self.series.get_mut(name) {
                s.model_changed = false;
            }
        }
        if !durable {
            self.next_job += 1;
            self.pending.push_back((id, taken));
        }
        self.metrics.checkpoints.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            series = count,
            ms = started.elapsed().as_millis() as u64,
            "checkpoint step"
        );
        true
    }

    /// Takes in the writer's reports: a durable job no longer holds the WAL; a failed one's
    /// series are changed again.
    fn collect_finished(&mut self) {
        for (id, outcome) in self.snapshots.finished() {
            let Some(pos) = self.pending.iter().position(|(job, _)| *job == id) else {
                continue;
            };
            let Some((_, taken)) = self.pending.remove(pos) else {
                continue;
            };
            if let Err(e) = outcome {
                tracing::error!(error = %e, "checkpoint failed; the WAL keeps the points");
                self.requeue(taken);
            }
        }
    }

    /// The last WAL batch that no series needs: every snapshot, durable or not yet, reflects
    /// it. The oldest needs are at the fronts of `pending` and `dirty_order`.
    fn wal_floor(&mut self) -> u64 {
        self.collect_finished();
        let unsaved = self
            .dirty_order
            .iter()
            .find_map(|n| self.dirty.get(n))
            .map(|(batch, _)| *batch);
        let in_flight = self
            .pending
            .iter()
            .flat_map(|(_, taken)| taken.iter().map(|(_, batch)| *batch))
            .min();
        unsaved
            .into_iter()
            .chain(in_flight)
            .min()
            .map_or(self.last_batch, |b| b.saturating_sub(1))
    }

    /// Marks series changed again since `batch` (their snapshot was not stored), keeping
    /// `dirty_order` ordered by batch.
    fn requeue(&mut self, taken: Vec<(String, u64)>) {
        for (name, batch) in taken {
            if !self.series.contains_key(&name) {
                continue; // deleted meanwhile
            }
            let entry = self
                .dirty
                .entry(name.clone())
                .or_insert((batch, Instant::now()));
            entry.0 = entry.0.min(batch);
            self.dirty_order.push_back(name);
        }
        let dirty = &self.dirty;
        self.dirty_order
            .make_contiguous()
            .sort_by_key(|n| dirty.get(n).map_or(0, |(batch, _)| *batch));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::config::Limits;
    use redb::{Database, ReadableDatabase, ReadableTableMetadata, TableDefinition};

    fn config(dir: &std::path::Path) -> Config {
        Config {
            data_dir: dir.to_path_buf(),
            tokens: Vec::new(),
            limits: Limits::default(),
            keep_recent: 16,
            checkpoint_every: std::time::Duration::ZERO,
            webhook: None,
        }
    }

    fn open(dir: &std::path::Path) -> Engine {
        let (alerts, _) = broadcast::channel(16);
        Engine::open(config(dir), Arc::default(), alerts, None).unwrap()
    }

    fn series_config(name: &str) -> SeriesConfig {
        serde_json::from_value(serde_json::json!({ "name": name, "warmup": 20 })).unwrap()
    }

    /// Ingests one request of `n` points per series, starting at timestamp `from`.
    fn ingest(engine: &mut Engine, names: &[&str], from: i64, n: i64) -> Vec<Scored> {
        let points = names
            .iter()
            .flat_map(|name| {
                (from..from + n).map(|t| PointIn {
                    series: name.to_string(),
                    timestamp: t,
                    values: vec![(t as f64 * 0.3).sin()],
                })
            })
            .collect();
        let (tx, mut rx) = oneshot::channel();
        engine.commit_ingests(vec![Ingest::Points(points, Instant::now(), tx)]);
        rx.try_recv().unwrap().unwrap()
    }

    fn wal_batches(dir: &std::path::Path) -> u64 {
        const WAL: TableDefinition<u64, &[u8]> = TableDefinition::new("wal");
        let db = Database::open(dir.join("anomex.redb")).unwrap();
        let txn = db.begin_read().unwrap();
        txn.open_table(WAL).unwrap().len().unwrap()
    }

    #[test]
    fn rolling_snapshots_let_the_wal_shrink_and_restore_the_same_state() {
        let dir = tempfile::tempdir().unwrap();
        let names = ["a", "b", "c"];
        let mut engine = open(dir.path());
        engine
            .create(names.iter().map(|n| (series_config(n), None)).collect())
            .unwrap();
        for k in 0..10 {
            ingest(&mut engine, &names, k * 10, 10);
        }
        // Queued, then durable: the next ingest drops the batches the snapshots reflect.
        engine.maybe_checkpoint();
        assert_eq!(engine.pending.len(), 1, "one job handed to the writer");
        engine.snapshots.save_now(Vec::new()).unwrap();
        ingest(&mut engine, &names, 100, 10);
        assert!(
            engine.pending.is_empty(),
            "the writer's report was taken in"
        );
        let points: Vec<u64> = names.iter().map(|n| engine.series[*n].points).collect();
        drop(engine); // no final checkpoint: as after a crash
        assert_eq!(
            wal_batches(dir.path()),
            1,
            "only the batch after the snapshots"
        );

        let mut engine = open(dir.path());
        let restored: Vec<u64> = names.iter().map(|n| engine.series[*n].points).collect();
        assert_eq!(points, restored);
        let after = ingest(&mut engine, &names, 110, 5);
        let mut uninterrupted = open(tempfile::tempdir().unwrap().path());
        uninterrupted
            .create(names.iter().map(|n| (series_config(n), None)).collect())
            .unwrap();
        for k in 0..11 {
            ingest(&mut uninterrupted, &names, k * 10, 10);
        }
        let expected = ingest(&mut uninterrupted, &names, 110, 5);
        let bits = |s: &[Scored]| -> Vec<Option<u64>> {
            s.iter().map(|p| p.score.map(f64::to_bits)).collect()
        };
        assert_eq!(bits(&after), bits(&expected));
    }

    /// Sends log lines to one log series and returns their scores' bits and templates.
    fn ingest_lines(engine: &mut Engine, lines: &[String]) -> Vec<(Option<u64>, u32)> {
        let (tx, mut rx) = oneshot::channel();
        let input = LinesIn {
            series: "log".into(),
            lines: lines.to_vec(),
        };
        engine.commit_ingests(vec![Ingest::Lines(input, Instant::now(), tx)]);
        let out = rx.try_recv().unwrap().unwrap();
        out.results
            .iter()
            .map(|r| (r.score.map(f64::to_bits), r.template))
            .collect()
    }

    #[test]
    fn log_lines_replayed_from_the_wal_give_the_same_templates_and_scores() {
        let lines: Vec<String> = (0..400)
            .map(|i| match i % 4 {
                0 => format!("open file /data/{i}.txt"),
                1 => format!("read {} bytes from block {}", i * 7, i % 13),
                2 if i % 97 == 2 => format!("kernel panic at 0x{i:x}"),
                _ => format!("close file /data/{i}.txt after {i} ms"),
            })
            .collect();
        let create = |engine: &mut Engine| {
            let config: SeriesConfig = serde_json::from_value(
                serde_json::json!({ "name": "log", "detector": "ngram", "warmup": 50 }),
            )
            .unwrap();
            engine
                .create(vec![(config, Some(LogSettings::default()))])
                .unwrap();
        };
        let dir = tempfile::tempdir().unwrap();
        let mut engine = open(dir.path());
        create(&mut engine);
        ingest_lines(&mut engine, &lines[..200]);
        drop(engine); // no checkpoint: the lines are only in the WAL
        let mut engine = open(dir.path());
        assert_eq!(engine.series["log"].points, 200);
        let after = ingest_lines(&mut engine, &lines[200..]);

        let mut uninterrupted = open(tempfile::tempdir().unwrap().path());
        create(&mut uninterrupted);
        ingest_lines(&mut uninterrupted, &lines[..200]);
        assert_eq!(after, ingest_lines(&mut uninterrupted, &lines[200..]));
        assert!(after.iter().all(|(s, _)| s.is_some()));
    }

    #[test]
    fn a_writer_that_falls_behind_holds_the_checkpoints_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut engine = open(dir.path());
        engine.create(vec![(series_config("a"), None)]).unwrap();
        ingest(&mut engine, &["a"], 0, 10);
        // slices the writer has not reported on (numbers it never saw)
        for id in 0..MAX_PENDING_SLICES as u64 {
            engine.pending.push_back((1000 + id, vec![("a".into(), 1)]));
        }
        engine.maybe_checkpoint();
        assert_eq!(engine.pending.len(), MAX_PENDING_SLICES, "no slice added");
        assert!(engine.dirty.contains_key("a"), "still marked changed");
        // and the WAL keeps what the unreported slices need
        assert_eq!(engine.wal_floor(), 0);
        engine.pending.clear();
        engine.maybe_checkpoint();
        assert_eq!(engine.pending.len(), 1);
    }

    #[test]
    fn snapshots_in_the_log_file_move_to_their_own_file() {
        const SERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("series");
        let dir = tempfile::tempdir().unwrap();
        {
            // The older layout: snapshots beside the WAL in anomex.redb.
            let mut series = Series::new(series_config("old"), 16);
            let registry = anomex::registry();
            for t in 0..30 {
                series.ingest(&registry, t, vec![t as f64]);
            }
            let stored = StoredSeries {
                batch: 0,
                snapshot: series.snapshot_keeping(true).unwrap(),
            };
            let db = Database::create(dir.path().join("anomex.redb")).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(SERIES)
                .unwrap()
                .insert("old", postcard::to_allocvec(&stored).unwrap().as_slice())
                .unwrap();
            txn.commit().unwrap();
        }
        let engine = open(dir.path());
        assert_eq!(engine.series["old"].points, 30);
        drop(engine);
        let db = Database::open(dir.path().join("anomex.redb")).unwrap();
        let txn = db.begin_read().unwrap();
        assert!(
            txn.open_table(SERIES).is_err(),
            "the old table is gone from the log file"
        );
        drop(txn);
        drop(db);
        assert_eq!(open(dir.path()).series["old"].points, 30, "and stays moved");
    }
}
