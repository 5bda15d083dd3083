//! `anomex serve`: the HTTP streaming service (see `anomex_server`).

use crate::ServeArgs;
use anyhow::{anyhow, Context, Result};

pub fn serve(args: ServeArgs) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ANOMEX_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if args.json_logs {
        logs.json().init();
    } else {
        logs.init();
    }
    let config =
        anomex_server::Config::load(&args.data, args.config.as_deref()).map_err(|e| anyhow!(e))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener.local_addr()?;
        let data = args.data.display().to_string();
        anomex_server::serve_ready(config, listener, shutdown_signal(), move || {
            tracing::info!(%address, %data, "serving");
            // The bound address on stdout, for scripts and tests that ask for port 0; printed
            // once the store is open, so a refused start never says it is listening.
            println!("listening on http://{address}");
        })
        .await
        .map_err(|e| anyhow!(e))
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests and checkpointing");
}
