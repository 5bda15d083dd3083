//! `anomex serve`: an HTTP service that scores many streaming series as their points arrive.
//!
//! * [`series`] (the `anomex_stream` crate): one series' configuration, phases (warm-up, calibration, live) and state;
//! * [`engine`]: the single owner of every series and of the store; group commit;
//! * [`store`]: the durable log in redb (WAL, anomalies); [`snapshots`]: the series' snapshots
//!   and models in a second redb file, written by their own thread;
//! * [`api`]: routes, tokens, validation; [`alerts`]: webhooks; [`metrics`]: Prometheus text.
//!
//! An acknowledged ingest is durable: its points are in the WAL, fsynced, before the answer
//! leaves. A restarted service restores the last checkpoint and replays the WAL after it, so it
//! continues with exactly the scores it would have given without the restart.

pub mod alerts;
pub mod api;
pub mod config;
pub mod engine;
pub mod error;
pub mod metrics;
pub use anomex_stream as series;
pub mod snapshots;
pub mod store;

pub use config::{Config, Scope, Token};

use std::future::Future;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, oneshot, watch};

/// Requests waiting for the engine before senders wait (back-pressure).
const QUEUE: usize = 4096;

/// Runs the service on `listener` until `shutdown` resolves, then finishes the requests in
/// flight and checkpoints every series.
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    serve_ready(config, listener, shutdown, || {}).await
}

/// [`serve`], calling `ready` once the store is open and the series restored, just before
/// requests are taken: a second service on the same data folder fails before it, so whoever
/// prints "listening" there never announces a service that is not coming.
pub async fn serve_ready(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(),
) -> Result<(), String> {
    config.validate()?;
    let metrics = Arc::new(metrics::Metrics::default());
    let (alerts, _) = broadcast::channel(1024);
    let webhook = config.webhook.clone().map(|w| {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(alerts::deliver(w, rx, metrics.clone()));
        tx
    });
    let engine = engine::Engine::open(config.clone(), metrics.clone(), alerts.clone(), webhook)?;
    let (commands, receiver) = mpsc::channel(QUEUE);
    let worker = std::thread::Builder::new()
        .name("anomex-engine".into())
        .spawn(move || engine.run(receiver))
        .map_err(|e| format!("cannot start the engine thread: {e}"))?;
    let handle = engine::Handle {
        commands: commands.clone(),
        metrics,
        alerts,
    };
    // Event streams never end by themselves; they end when shutdown begins, so the graceful
    // shutdown does not wait for them forever.
    let (closing_tx, closing) = watch::channel(false);
    let shutdown = async move {
        shutdown.await;
        let _ = closing_tx.send(true);
    };
    let app = api::router(api::AppState {
        engine: handle,
        config: Arc::new(config),
        closing,
    });
    ready();
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| format!("server: {e}"));
    let (done, finished) = oneshot::channel();
    if commands.send(engine::Command::Shutdown(done)).await.is_ok() {
        let _ = finished.await;
    }
    drop(commands);
    let _ = tokio::task::spawn_blocking(move || worker.join()).await;
    served
}
