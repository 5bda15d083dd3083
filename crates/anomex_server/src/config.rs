//! Service configuration: API tokens, limits, checkpointing and the alert webhook.
//!
//! Read from an optional JSON file (`--config`) and the environment: `ANOMEX_ADMIN_TOKEN` and
//! `ANOMEX_INGEST_TOKEN` add one token each. The service refuses to start without a token.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a token may do. `Ingest` sends points and reads; `Admin` also creates, deletes, fits
/// and imports series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Admin,
    Ingest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    pub token: String,
    pub scope: Scope,
}

/// Shortest accepted token: long enough that guessing is hopeless.
pub const MIN_TOKEN_LEN: usize = 16;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Most points in one ingest request.
    pub max_batch_points: usize,
    /// Most series the service holds.
    pub max_series: usize,
    /// Points per second each series may receive (token bucket, one second of burst); 0 = no limit.
    pub rate_per_series: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 << 20,
            max_batch_points: 100_000,
            max_series: 100_000,
            rate_per_series: 10_000.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    /// `http://` address that receives each anomaly as a JSON POST.
    pub url: String,
    /// Seconds after an alert during which a series sends no other.
    #[serde(default = "default_cooldown")]
    pub cooldown_secs: u64,
    /// Attempts per alert, with exponential backoff from `backoff_ms`.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    #[serde(default = "default_backoff")]
    pub backoff_ms: u64,
}

fn default_cooldown() -> u64 {
    60
}
fn default_attempts() -> u32 {
    5
}
fn default_backoff() -> u64 {
    200
}

/// The file form of the configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FileConfig {
    pub tokens: Vec<Token>,
    pub limits: Limits,
    /// Recent points kept per series for queries and the dashboard.
    pub keep_recent: Option<usize>,
    /// Seconds between checkpoints of the series' state.
    pub checkpoint_secs: Option<u64>,
    pub webhook: Option<Webhook>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub tokens: Vec<Token>,
    pub limits: Limits,
    pub keep_recent: usize,
    pub checkpoint_every: Duration,
    pub webhook: Option<Webhook>,
}

impl Config {
    /// Builds the configuration from an optional file and the environment.
    pub fn load(data_dir: &Path, file: Option<&Path>) -> Result<Config, String> {
        let fc: FileConfig = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                serde_json::from_str(&text)
                    .map_err(|e| format!("config {}: {e}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let mut tokens = fc.tokens;
        for (var, scope) in [
            ("ANOMEX_ADMIN_TOKEN", Scope::Admin),
            ("ANOMEX_INGEST_TOKEN", Scope::Ingest),
        ] {
            if let Ok(token) = std::env::var(var) {
                tokens.push(Token { token, scope });
            }
        }
        let config = Config {
            data_dir: data_dir.to_path_buf(),
            tokens,
            limits: fc.limits,
            keep_recent: fc.keep_recent.unwrap_or(256),
            checkpoint_every: Duration::from_secs(fc.checkpoint_secs.unwrap_or(10)),
            webhook: fc.webhook,
        };
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.tokens.is_empty() {
            return Err(
                "no API token: set ANOMEX_ADMIN_TOKEN (and ANOMEX_INGEST_TOKEN) or list tokens in --config"
                    .into(),
            );
        }
        if let Some(t) = self.tokens.iter().find(|t| t.token.len() < MIN_TOKEN_LEN) {
            return Err(format!(
                "a {:?} token has {} characters; tokens need at least {MIN_TOKEN_LEN}",
                t.scope,
                t.token.len()
            ));
        }
        if let Some(w) = &self.webhook {
            // The client is built without TLS: alerts go to a local relay or collector.
            if !w.url.starts_with("http://") {
                return Err(format!("webhook url `{}` is not http://", w.url));
            }
        }
        if !(self.limits.rate_per_series >= 0.0 && self.limits.rate_per_series.is_finite()) {
            return Err("limits.rate_per_series must be a non-negative number".into());
        }
        Ok(())
    }
}
