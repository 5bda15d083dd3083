//! Running many jobs: each in its own worker process (so a timeout or a memory limit can stop
//! it without taking the run down), several at a time, every outcome appended to a results file
//! as soon as it is known so that an interrupted run resumes where it stopped.

use crate::job::{self, Job, Outcome, Status};
use anomex_core::{Error, Result};
use std::collections::HashMap;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where jobs run.
#[derive(Debug, Clone)]
pub enum Worker {
    /// A child process: `program args…` reads one job as JSON on stdin and prints its outcome
    /// as JSON on stdout (`anomex bench-worker`).
    Process { program: PathBuf, args: Vec<String> },
    /// In this process, without timeout or memory guard (for tests and debugging).
    InProcess,
}

/// How jobs are run.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Jobs at a time.
    pub parallel: usize,
    /// Threads each job may use (`RAYON_NUM_THREADS` of the worker).
    pub threads_per_job: usize,
    pub timeout: Duration,
    /// Resident memory of one worker, in MiB, beyond which it is stopped.
    pub memory_mib: u64,
}

/// The results file: one JSON outcome per line, appended as jobs finish.
#[derive(Debug)]
pub struct Results {
    path: PathBuf,
    done: HashMap<String, Outcome>,
}

impl Results {
    /// Opens (or starts) the results file at `path`; lines that do not parse (a line cut short
    /// by a crash) are skipped, so their jobs run again.
    pub fn open(path: &Path) -> Result<Self> {
        let mut done = HashMap::new();
        if path.exists() {
            let file = std::fs::File::open(path)
                .map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
            for line in std::io::BufReader::new(file).lines() {
                let line = line.map_err(|e| Error::input(format!("{}: {e}", path.display())))?;
                if let Ok(o) = serde_json::from_str::<Outcome>(&line) {
                    done.insert(o.key.clone(), o);
                }
            }
        }
        Ok(Results {
            path: path.to_path_buf(),
            done,
        })
    }

    /// The recorded outcome of a job, if any.
    pub fn get(&self, key: &str) -> Option<&Outcome> {
        self.done.get(key)
    }

    fn append(&mut self, o: Outcome) -> Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::input(format!("{}: {e}", self.path.display())))?;
        let line = serde_json::to_string(&o).map_err(|e| Error::input(e.to_string()))?;
        writeln!(file, "{line}")
            .and_then(|()| file.flush())
            .map_err(|e| Error::input(format!("{}: {e}", self.path.display())))?;
        self.done.insert(o.key.clone(), o);
        Ok(())
    }
}

/// A memory figure (`VmRSS`, `VmHWM`, …) of a process's `/proc/…/status`, in MiB (Linux; `None`
/// elsewhere or once the process has exited).
fn status_mib(process: &str, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Resident memory of process `pid` in MiB.
fn resident_mib(pid: u32) -> Option<u64> {
    status_mib(&pid.to_string(), "VmRSS:")
}

/// This process's peak resident memory in MiB: a worker reports it with its outcome, so a job
/// that rose above the limit between two of the runner's looks is caught too.
pub fn own_peak_mib() -> Option<u64> {
    status_mib("self", "VmHWM:")
}

/// The last `max` bytes of `text` (on a character boundary).
fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

fn run_in_worker_process(job: &Job, program: &Path, args: &[String], limits: &Limits) -> Outcome {
    let spawned = Command::new(program)
        .args(args)
        .env("RAYON_NUM_THREADS", limits.threads_per_job.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return Outcome::failed(
                job,
                Status::Failed,
                format!("cannot start {}: {e}", program.display()),
            )
        }
    };
    let input = serde_json::to_string(job).unwrap_or_default();
    if let Some(mut stdin) = child.stdin.take() {
        // a worker that dies before reading is reported below
        let _ = stdin.write_all(input.as_bytes());
    }
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let start = Instant::now();
    let stopped = loop {
        match child.try_wait() {
            Ok(Some(_)) => break None,
            Ok(None) => {}
            Err(e) => break Some((Status::Failed, format!("waiting for the worker: {e}"))),
        }
        if start.elapsed() > limits.timeout {
            break Some((
                Status::Timeout,
                format!("stopped after {} s", limits.timeout.as_secs()),
            ));
        }
        if let Some(mib) = resident_mib(child.id()).filter(|&m| m > limits.memory_mib) {
            break Some((
                Status::OutOfMemory,
                format!("stopped at {mib} MiB (limit {} MiB)", limits.memory_mib),
            ));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    if stopped.is_some() {
        let _ = child.kill();
    }
    let status = child.wait();
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    if let Some((status, message)) = stopped {
        return Outcome::failed(job, status, message);
    }
    match serde_json::from_str::<Outcome>(stdout.trim()) {
        Ok(Outcome {
            peak_mib: Some(peak),
            ..
        }) if peak > limits.memory_mib => Outcome::failed(
            job,
            Status::OutOfMemory,
            format!(
                "peaked at {peak} MiB (limit {} MiB) before it ended",
                limits.memory_mib
            ),
        ),
        // filed under this process's key for the job, whatever the worker's version computed
        Ok(o) => Outcome {
            key: job.key(),
            ..o
        },
        Err(_) => {
            let code = status.map(|s| s.to_string()).unwrap_or_default();
            Outcome::failed(
                job,
                Status::Failed,
                format!(
                    "worker ended ({code}) without a result: {}",
                    tail(stderr.trim(), 2000)
                ),
            )
        }
    }
}

/// Runs `jobs` (those without a recorded outcome, and failed ones when `retry_failed`), calling
/// `progress(outcome, was_cached)` for every job in the order they finish; returns every job's
/// outcome in job order.
pub fn run_all(
    jobs: &[Job],
    worker: &Worker,
    limits: &Limits,
    results: &mut Results,
    retry_failed: bool,
    mut progress: impl FnMut(&Outcome, bool),
) -> Result<Vec<Outcome>> {
    let mut todo = Vec::new();
    for (i, job) in jobs.iter().enumerate() {
        match results.get(&job.key()) {
            Some(o) if o.status == Status::Ok || !retry_failed => progress(o, true),
            _ => todo.push(i),
        }
    }
    let next = AtomicUsize::new(0);
    let (send, receive) = mpsc::channel::<Outcome>();
    std::thread::scope(|scope| -> Result<()> {
        for _ in 0..limits.parallel.max(1).min(todo.len()) {
            let send = send.clone();
            let (next, todo) = (&next, &todo);
            scope.spawn(move || {
                while let Some(&i) = todo.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let job = &jobs[i];
                    let outcome = match worker {
                        Worker::InProcess => job::run(job),
                        Worker::Process { program, args } => {
                            run_in_worker_process(job, program, args, limits)
                        }
                    };
                    if send.send(outcome).is_err() {
                        break;
                    }
                }
            });
        }
        drop(send);
        for outcome in receive {
            progress(&outcome, false);
            results.append(outcome)?;
        }
        Ok(())
    })?;
    jobs.iter()
        .map(|j| {
            results
                .get(&j.key())
                .cloned()
                .ok_or_else(|| Error::input(format!("no outcome for {}", j.item.name)))
        })
        .collect()
}
