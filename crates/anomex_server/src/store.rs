//! The durable log: `anomex.redb` under the data folder.
//!
//! | table | key | value |
//! |---|---|---|
//! | `wal` | batch number | the points of one group commit (postcard) |
//! | `wal_lines` | batch number | the log lines of one group commit, when it had any (postcard) |
//! | `events` | (name, point number) | an anomaly (JSON) |
//! | `meta` | key | the last batch number used |
//!
//! Every ingest is one write transaction committed with redb's immediate durability (fsync)
//! before any client is answered: its points go to `wal` and its anomalies to `events`. The
//! series' snapshots live in a second file ([`crate::snapshots`]); once a snapshot is durable
//! there, the next ingest's transaction drops the WAL batches that no unsaved series still
//! needs. Recovery restores the snapshots and replays the WAL batches after each series' own
//! snapshot, so acknowledged points are never lost and the replayed state is the one the
//! service had.

use anomex_stream::{Scored, SeriesSnapshot};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;

const WAL: TableDefinition<u64, &[u8]> = TableDefinition::new("wal");
/// Log lines sit in their own table, so the points' rows keep the form older versions wrote.
const WAL_LINES: TableDefinition<u64, &[u8]> = TableDefinition::new("wal_lines");
const EVENTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("events");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const LAST_BATCH: &str = "last_batch";
/// redb's page cache; the series' state lives in the engine, the store is mostly appended to.
const CACHE_BYTES: usize = 64 << 20;

/// A store failure, with what was being done.
#[derive(Debug, Clone, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(String);

impl StoreError {
    pub fn new(what: impl Into<String>) -> StoreError {
        StoreError(what.into())
    }
}

/// `?` for store calls, naming the step that failed.
macro_rules! store_try {
    ($what:expr, $e:expr) => {
        $e.map_err(|e| $crate::store::StoreError::new(format!("{}: {e}", $what)))?
    };
}
pub(crate) use store_try;

/// One accepted point, as the WAL keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalPoint {
    pub series: String,
    pub timestamp: i64,
    pub values: Vec<f64>,
}

/// One accepted log line (its message, as the format cut it out), as the WAL keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalLine {
    pub series: String,
    pub message: String,
}

/// A series' stored snapshot: the state after batch `batch`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredSeries {
    pub batch: u64,
    pub snapshot: SeriesSnapshot,
}

/// An anomaly to record: series, point number, the point.
pub type Event = (String, u64, Scored);

/// What the log held at start-up.
#[derive(Debug, Default)]
pub struct Recovered {
    /// Every batch's points and log lines, in batch order.
    pub wal: Vec<(u64, Vec<WalPoint>, Vec<WalLine>)>,
    /// The last batch number used.
    pub last_batch: u64,
}

#[derive(Debug)]
pub struct Store {
    db: Database,
}

impl Store {
    /// Opens (or creates) `dir/anomex.redb`.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        store_try!("create the data folder", std::fs::create_dir_all(dir));
        let db = store_try!(
            "open anomex.redb",
            Database::builder()
                .set_cache_size(CACHE_BYTES)
                .create(dir.join("anomex.redb"))
        );
        let txn = store_try!("begin", db.begin_write());
        {
            store_try!("open wal", txn.open_table(WAL));
            store_try!("open wal_lines", txn.open_table(WAL_LINES));
            store_try!("open events", txn.open_table(EVENTS));
            store_try!("open meta", txn.open_table(META));
        }
        store_try!("commit", txn.commit());
        Ok(Store { db })
    }

    /// Reads the WAL.
    pub fn recover(&self) -> Result<Recovered, StoreError> {
        let txn = store_try!("begin read", self.db.begin_read());
        let mut out = Recovered::default();
        let wal_t = store_try!("open wal", txn.open_table(WAL));
        let lines_t = store_try!("open wal_lines", txn.open_table(WAL_LINES));
        for item in store_try!("read wal", wal_t.iter()) {
            let (batch, bytes) = store_try!("read wal", item);
            let points: Vec<WalPoint> =
                store_try!("decode a WAL batch", postcard::from_bytes(bytes.value()));
            let lines: Vec<WalLine> = match store_try!("read wal_lines", lines_t.get(batch.value()))
            {
                Some(b) => store_try!("decode WAL lines", postcard::from_bytes(b.value())),
                None => Vec::new(),
            };
            out.wal.push((batch.value(), points, lines));
        }
        let meta_t = store_try!("open meta", txn.open_table(META));
        let last = store_try!("read meta", meta_t.get(LAST_BATCH)).map_or(0, |v| v.value());
        out.last_batch = out.wal.last().map_or(last, |(b, _, _)| (*b).max(last));
        Ok(out)
    }

    /// The log's database, for the snapshot module to move what an older version kept here.
    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    /// Durably records one group commit: its points, log lines and anomalies; drops the WAL
    /// batches up to `trim` in the same transaction (the batches every series' durable snapshot
    /// reflects).
    pub fn append(
        &self,
        batch: u64,
        points: &[WalPoint],
        lines: &[WalLine],
        events: &[Event],
        trim: Option<u64>,
    ) -> Result<(), StoreError> {
        let bytes = store_try!("encode a WAL batch", postcard::to_allocvec(points));
        let txn = store_try!("begin", self.db.begin_write());
        {
            let mut wal = store_try!("open wal", txn.open_table(WAL));
            let mut wal_lines = store_try!("open wal_lines", txn.open_table(WAL_LINES));
            if let Some(trim) = trim {
                store_try!("trim the wal", wal.retain_in(..=trim, |_, _| false));
                store_try!("trim the wal", wal_lines.retain_in(..=trim, |_, _| false));
            }
            store_try!("append to the wal", wal.insert(batch, bytes.as_slice()));
            if !lines.is_empty() {
                let bytes = store_try!("encode WAL lines", postcard::to_allocvec(lines));
                store_try!(
                    "append to the wal",
                    wal_lines.insert(batch, bytes.as_slice())
                );
            }
            let mut meta = store_try!("open meta", txn.open_table(META));
            store_try!("write meta", meta.insert(LAST_BATCH, batch));
            let mut ev = store_try!("open events", txn.open_table(EVENTS));
            for (name, seq, point) in events {
                let json = store_try!("encode an event", serde_json::to_vec(point));
                store_try!(
                    "record an event",
                    ev.insert((name.as_str(), *seq), json.as_slice())
                );
            }
        }
        store_try!("commit", txn.commit());
        Ok(())
    }

    /// Durably drops the WAL batches up to `trim` (at shutdown, when no ingest follows).
    pub fn trim(&self, trim: u64) -> Result<(), StoreError> {
        let txn = store_try!("begin", self.db.begin_write());
        {
            let mut wal = store_try!("open wal", txn.open_table(WAL));
            store_try!("trim the wal", wal.retain_in(..=trim, |_, _| false));
            let mut wal_lines = store_try!("open wal_lines", txn.open_table(WAL_LINES));
            store_try!("trim the wal", wal_lines.retain_in(..=trim, |_, _| false));
        }
        store_try!("commit", txn.commit());
        Ok(())
    }

    /// Removes a series' anomalies.
    pub fn delete_events(&self, name: &str) -> Result<(), StoreError> {
        let txn = store_try!("begin", self.db.begin_write());
        {
            let mut ev = store_try!("open events", txn.open_table(EVENTS));
            store_try!(
                "remove events",
                ev.retain_in((name, 0)..=(name, u64::MAX), |_, _| false)
            );
        }
        store_try!("commit", txn.commit());
        Ok(())
    }

    /// The last `limit` anomalies of a series, oldest first.
    pub fn anomalies(&self, name: &str, limit: usize) -> Result<Vec<Scored>, StoreError> {
        let txn = store_try!("begin read", self.db.begin_read());
        let ev = store_try!("open events", txn.open_table(EVENTS));
        let mut out = Vec::new();
        for item in store_try!("read events", ev.range((name, 0)..=(name, u64::MAX))).rev() {
            let (_, bytes) = store_try!("read events", item);
            out.push(store_try!(
                "decode an event",
                serde_json::from_slice(bytes.value())
            ));
            if out.len() == limit {
                break;
            }
        }
        out.reverse();
        Ok(out)
    }
}
