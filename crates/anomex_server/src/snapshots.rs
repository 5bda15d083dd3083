//! Series snapshots and model files, in their own redb file (`snapshots.redb`) written by their
//! own thread.
//!
//! | table | key | value |
//! |---|---|---|
//! | `series` | name | the series' snapshot and the last batch it reflects (postcard) |
//! | `models` | name | the series' model file |
//! | `parsers` | name | a log series' parser (postcard) |
//!
//! Why a second file and a second thread: redb runs one write transaction at a time per file,
//! so a checkpoint committed into the WAL's file makes the next group commit — and every
//! request in it — wait. Here the engine hands encoded snapshots over and goes on; the writer
//! takes every job waiting, writes them in order in one transaction, commits it durably and
//! reports back. Only then may the engine drop the WAL batches those snapshots reflect.

use crate::store::{store_try, Store, StoreError, StoredSeries};
use anomex_stream::LogState;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

/// The snapshot tables (also the names an older version used inside the log's file).
const SERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("series");
const MODELS: TableDefinition<&str, &[u8]> = TableDefinition::new("models");
const PARSERS: TableDefinition<&str, &[u8]> = TableDefinition::new("parsers");
/// Jobs the writer merges into one transaction at most.
const JOBS_PER_COMMIT: usize = 64;
/// redb's page cache for the snapshots: they are written far more often than read.
const CACHE_BYTES: usize = 16 << 20;

/// One series' saved form: its name, its encoded [`StoredSeries`], when it changed its model
/// file, and a log series' encoded parser.
#[derive(Debug, Clone)]
pub struct Saved {
    pub name: String,
    pub snapshot: Vec<u8>,
    pub model: Option<Vec<u8>>,
    pub parser: Option<Vec<u8>>,
}

impl Saved {
    /// Encodes a series' snapshot (and a log series' parser) for the store.
    pub fn encode(
        stored: &StoredSeries,
        model: Option<Vec<u8>>,
        parser: Option<&LogState>,
    ) -> Result<Saved, StoreError> {
        let snapshot = store_try!("encode a snapshot", postcard::to_allocvec(stored));
        let parser = match parser {
            Some(p) => Some(store_try!("encode a parser", postcard::to_allocvec(p))),
            None => None,
        };
        Ok(Saved {
            name: stored.snapshot.config.name.clone(),
            snapshot,
            model,
            parser,
        })
    }
}

/// A stored snapshot with the series' model file and a log series' parser, where it has them.
pub type Restored = (StoredSeries, Option<Vec<u8>>, Option<LogState>);

/// What a job asks of the writer.
#[derive(Debug)]
enum Work {
    Save(Vec<Saved>),
    Delete(String),
}

/// Who is told the outcome: the engine's completion queue (by job number) or a waiting caller.
#[derive(Debug)]
enum Notify {
    Later(u64),
    Now(mpsc::SyncSender<Result<(), StoreError>>),
}

#[derive(Debug)]
struct Job {
    work: Work,
    notify: Notify,
}

/// The snapshot file and its writer thread.
#[derive(Debug)]
pub struct Snapshots {
    db: Arc<Database>,
    jobs: Option<mpsc::Sender<Job>>,
    finished: mpsc::Receiver<(u64, Result<(), StoreError>)>,
    writer: Option<JoinHandle<()>>,
}

impl Snapshots {
    /// Moves the snapshots and models an older version kept in the log's file into this file
    /// (durably), then drops them there; run before recovery reads either.
    pub fn adopt_legacy(&self, store: &Store) -> Result<(), StoreError> {
        let Some(old) = saved_rows(store.database())? else {
            return Ok(());
        };
        tracing::info!(series = old.len(), "moving snapshots to snapshots.redb");
        self.save_now(old)?;
        let txn = store_try!("begin", store.database().begin_write());
        store_try!("drop the old series table", txn.delete_table(SERIES));
        store_try!("drop the old models table", txn.delete_table(MODELS));
        store_try!("commit", txn.commit());
        Ok(())
    }

    /// Opens (or creates) `dir/snapshots.redb` and starts its writer.
    pub fn open(dir: &Path) -> Result<Snapshots, StoreError> {
        store_try!("create the data folder", std::fs::create_dir_all(dir));
        let db = Arc::new(store_try!(
            "open snapshots.redb",
            Database::builder()
                .set_cache_size(CACHE_BYTES)
                .create(dir.join("snapshots.redb"))
        ));
        write_all(&db, &[])?; // creates the tables
        let (jobs, queue) = mpsc::channel::<Job>();
        let (report, finished) = mpsc::channel();
        let writer_db = Arc::clone(&db);
        let writer = store_try!(
            "start the snapshot writer",
            std::thread::Builder::new()
                .name("anomex-snapshots".into())
                .spawn(move || run_writer(&writer_db, &queue, &report))
        );
        Ok(Snapshots {
            db,
            jobs: Some(jobs),
            finished,
            writer: Some(writer),
        })
    }

    /// Every stored snapshot with its model file.
    pub fn read_all(&self) -> Result<Vec<Restored>, StoreError> {
        saved_rows(&self.db)?
            .unwrap_or_default()
            .into_iter()
            .map(|row| {
                let stored: StoredSeries = store_try!(
                    "decode a series snapshot",
                    postcard::from_bytes(&row.snapshot)
                );
                let parser = match &row.parser {
                    Some(bytes) => Some(store_try!(
                        "decode a log parser",
                        postcard::from_bytes::<LogState>(bytes)
                    )),
                    None => None,
                };
                Ok((stored, row.model, parser))
            })
            .collect()
    }

    /// Queues snapshots; [`Snapshots::finished`] reports job `id` once they are durable.
    pub fn save_later(&self, id: u64, saved: Vec<Saved>) -> Result<(), StoreError> {
        self.send(Work::Save(saved), Notify::Later(id))
    }

    /// Saves snapshots durably (after every job queued before them) and waits.
    pub fn save_now(&self, saved: Vec<Saved>) -> Result<(), StoreError> {
        self.wait(Work::Save(saved))
    }

    /// Removes a series' snapshot and model durably (after every job queued before) and waits.
    pub fn delete_now(&self, name: &str) -> Result<(), StoreError> {
        self.wait(Work::Delete(name.to_string()))
    }

    /// The queued jobs whose commit has finished since the last call, in order.
    pub fn finished(&self) -> Vec<(u64, Result<(), StoreError>)> {
        self.finished.try_iter().collect()
    }

    fn wait(&self, work: Work) -> Result<(), StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(work, Notify::Now(tx))?;
        rx.recv().map_err(|_| writer_stopped())?
    }

    fn send(&self, work: Work, notify: Notify) -> Result<(), StoreError> {
        self.jobs
            .as_ref()
            .and_then(|jobs| jobs.send(Job { work, notify }).ok())
            .ok_or_else(writer_stopped)
    }
}

impl Drop for Snapshots {
    /// Lets the writer finish the jobs queued, then joins it.
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// The rows of `db`'s snapshot tables as stored (snapshots still encoded); `None` when it has
/// no such tables.
fn saved_rows(db: &Database) -> Result<Option<Vec<Saved>>, StoreError> {
    let txn = store_try!("begin read", db.begin_read());
    let series = match txn.open_table(SERIES) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
        Err(e) => return Err(StoreError::new(format!("open series: {e}"))),
    };
    let models = txn.open_table(MODELS).ok();
    let parsers = txn.open_table(PARSERS).ok();
    let mut out = Vec::new();
    for item in store_try!("read series", series.iter()) {
        let (name, bytes) = store_try!("read series", item);
        let model = match &models {
            Some(m) => store_try!("read a model", m.get(name.value())).map(|v| v.value().to_vec()),
            None => None,
        };
        let parser = match &parsers {
            Some(p) => store_try!("read a parser", p.get(name.value())).map(|v| v.value().to_vec()),
            None => None,
        };
        out.push(Saved {
            name: name.value().to_string(),
            snapshot: bytes.value().to_vec(),
            model,
            parser,
        });
    }
    Ok(Some(out))
}

fn writer_stopped() -> StoreError {
    StoreError::new("the snapshot writer stopped")
}

/// The writer: takes every job waiting (up to a cap), writes them in one durable commit and
/// reports each; stops when the sender is gone and the queue is empty.
fn run_writer(
    db: &Database,
    queue: &mpsc::Receiver<Job>,
    report: &mpsc::Sender<(u64, Result<(), StoreError>)>,
) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        jobs.extend(queue.try_iter().take(JOBS_PER_COMMIT - 1));
        let works: Vec<&Work> = jobs.iter().map(|j| &j.work).collect();
        let result = write_all(db, &works);
        if let Err(e) = &result {
            tracing::error!(error = %e, jobs = jobs.len(), "snapshot commit failed");
        }
        for job in jobs {
            let outcome = result.clone();
            match job.notify {
                Notify::Later(id) => {
                    let _ = report.send((id, outcome));
                }
                Notify::Now(tx) => {
                    let _ = tx.send(outcome);
                }
            }
        }
    }
}

/// Applies jobs in order in one write transaction, committed durably.
fn write_all(db: &Database, works: &[&Work]) -> Result<(), StoreError> {
    let txn = store_try!("begin", db.begin_write());
    {
        let mut series = store_try!("open series", txn.open_table(SERIES));
        let mut models = store_try!("open models", txn.open_table(MODELS));
        let mut parsers = store_try!("open parsers", txn.open_table(PARSERS));
        for work in works {
            match work {
                Work::Save(saved) => {
                    for s in saved {
                        store_try!(
                            "write a snapshot",
                            series.insert(s.name.as_str(), s.snapshot.as_slice())
                        );
                        if let Some(model) = &s.model {
                            store_try!(
                                "write a model",
                                models.insert(s.name.as_str(), model.as_slice())
                            );
                        }
                        if let Some(parser) = &s.parser {
                            store_try!(
                                "write a parser",
                                parsers.insert(s.name.as_str(), parser.as_slice())
                            );
                        }
                    }
                }
                Work::Delete(name) => {
                    store_try!("remove a snapshot", series.remove(name.as_str()));
                    store_try!("remove a model", models.remove(name.as_str()));
                    store_try!("remove a parser", parsers.remove(name.as_str()));
                }
            }
        }
    }
    store_try!("commit", txn.commit());
    Ok(())
}
