//! The durable store: one redb file under the data folder.
//!
//! | table | key | value |
//! |---|---|---|
//! | `wal` | batch number | the points of one group commit (postcard) |
//! | `series` | name | the series' snapshot and the last batch it reflects (postcard) |
//! | `models` | name | the series' model file |
//! | `events` | (name, point number) | an anomaly (JSON) |
//! | `meta` | key | the last batch number used |
//!
//! Every ingest is one write transaction committed with redb's immediate durability (fsync)
//! before any client is answered: its points go to `wal` and its anomalies to `events`.
//! Checkpoints are rolling: each writes the snapshots of a slice of the changed series and
//! drops the WAL batches that no unsaved series still needs. Recovery restores the snapshots and
//! replays the WAL batches after each series' own snapshot, so acknowledged points are never
//! lost and the replayed state is the one the service had.

use anomex_stream::{Scored, SeriesSnapshot};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use std::path::Path;

const WAL: TableDefinition<u64, &[u8]> = TableDefinition::new("wal");
const SERIES: TableDefinition<&str, &[u8]> = TableDefinition::new("series");
const MODELS: TableDefinition<&str, &[u8]> = TableDefinition::new("models");
const EVENTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("events");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const LAST_BATCH: &str = "last_batch";
/// redb's page cache; the series' state lives in the engine, the store is mostly appended to.
const CACHE_BYTES: usize = 64 << 20;

/// A store failure, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(String);

/// `?` for store calls, naming the step that failed.
macro_rules! store_try {
    ($what:expr, $e:expr) => {
        $e.map_err(|e| StoreError(format!("{}: {e}", $what)))?
    };
}

/// One accepted point, as the WAL keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalPoint {
    pub series: String,
    pub timestamp: i64,
    pub values: Vec<f64>,
}

/// A series' stored snapshot: the state after batch `batch`.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredSeries {
    pub batch: u64,
    pub snapshot: SeriesSnapshot,
}

/// An anomaly to record: series, point number, the point.
pub type Event = (String, u64, Scored);

/// Everything the store held at start-up.
#[derive(Debug, Default)]
pub struct Recovered {
    pub series: Vec<(StoredSeries, Option<Vec<u8>>)>,
    pub wal: Vec<(u64, Vec<WalPoint>)>,
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
            store_try!("open series", txn.open_table(SERIES));
            store_try!("open models", txn.open_table(MODELS));
            store_try!("open events", txn.open_table(EVENTS));
            store_try!("open meta", txn.open_table(META));
        }
        store_try!("commit", txn.commit());
        Ok(Store { db })
    }

    /// Reads the snapshots, models and WAL.
    pub fn recover(&self) -> Result<Recovered, StoreError> {
        let txn = store_try!("begin read", self.db.begin_read());
        let series_t = store_try!("open series", txn.open_table(SERIES));
        let models_t = store_try!("open models", txn.open_table(MODELS));
        let mut out = Recovered::default();
        for item in store_try!("read series", series_t.iter()) {
            let (name, bytes) = store_try!("read series", item);
            let stored: StoredSeries = store_try!(
                "decode a series snapshot",
                postcard::from_bytes(bytes.value())
            );
            let model =
                store_try!("read a model", models_t.get(name.value())).map(|m| m.value().to_vec());
            out.series.push((stored, model));
        }
        let wal_t = store_try!("open wal", txn.open_table(WAL));
        for item in store_try!("read wal", wal_t.iter()) {
            let (batch, bytes) = store_try!("read wal", item);
            let points: Vec<WalPoint> =
                store_try!("decode a WAL batch", postcard::from_bytes(bytes.value()));
            out.wal.push((batch.value(), points));
        }
        let meta_t = store_try!("open meta", txn.open_table(META));
        let last = store_try!("read meta", meta_t.get(LAST_BATCH)).map_or(0, |v| v.value());
        out.last_batch = out.wal.last().map_or(last, |(b, _)| (*b).max(last));
        Ok(out)
    }

    /// Durably records one group commit: its points and anomalies.
    pub fn append(
        &self,
        batch: u64,
        points: &[WalPoint],
        events: &[Event],
    ) -> Result<(), StoreError> {
        let bytes = store_try!("encode a WAL batch", postcard::to_allocvec(points));
        let txn = store_try!("begin", self.db.begin_write());
        {
            let mut wal = store_try!("open wal", txn.open_table(WAL));
            store_try!("append to the wal", wal.insert(batch, bytes.as_slice()));
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

    /// Writes snapshots (and changed models) of series, and drops the WAL up to `trim` (the
    /// batches every series' snapshot already reflects).
    ///
    /// A rolling checkpoint need not be `durable`: redb commits in order, so if it is lost in a
    /// crash, so is its trimming of the WAL, and recovery replays from the older snapshots; the
    /// next durable commit (every ingest is one) makes it durable too. That spares an fsync.
    pub fn checkpoint(
        &self,
        series: &[(StoredSeries, Option<Vec<u8>>)],
        trim: Option<u64>,
        durable: bool,
    ) -> Result<(), StoreError> {
        let mut txn = store_try!("begin", self.db.begin_write());
        if !durable {
            store_try!("set durability", txn.set_durability(redb::Durability::None));
        }
        {
            let mut s = store_try!("open series", txn.open_table(SERIES));
            let mut m = store_try!("open models", txn.open_table(MODELS));
            for (stored, model) in series {
                let name = stored.snapshot.config.name.as_str();
                let bytes = store_try!("encode a snapshot", postcard::to_allocvec(stored));
                store_try!("write a snapshot", s.insert(name, bytes.as_slice()));
                if let Some(model) = model {
                    store_try!("write a model", m.insert(name, model.as_slice()));
                }
            }
            if let Some(trim) = trim {
                let mut wal = store_try!("open wal", txn.open_table(WAL));
                store_try!("trim the wal", wal.retain_in(..=trim, |_, _| false));
            }
        }
        store_try!("commit", txn.commit());
        Ok(())
    }

    /// Removes a series: snapshot, model and anomalies.
    pub fn delete(&self, name: &str) -> Result<(), StoreError> {
        let txn = store_try!("begin", self.db.begin_write());
        {
            let mut s = store_try!("open series", txn.open_table(SERIES));
            store_try!("remove a snapshot", s.remove(name));
            let mut m = store_try!("open models", txn.open_table(MODELS));
            store_try!("remove a model", m.remove(name));
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
