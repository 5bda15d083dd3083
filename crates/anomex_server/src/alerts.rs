//! Webhook alerts: each anomaly POSTed as JSON, with retries and exponential backoff, at most
//! one per series per cooldown (later anomalies inside the cooldown are counted, not sent).

use crate::config::Webhook;
use crate::engine::Alert;
use crate::metrics::Metrics;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Delivers alerts until the sending side closes.
pub async fn deliver(
    config: Webhook,
    mut alerts: mpsc::UnboundedReceiver<Arc<Alert>>,
    metrics: Arc<Metrics>,
) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; alerts are off");
            return;
        }
    };
    let cooldown = Duration::from_secs(config.cooldown_secs);
    let mut last_sent: HashMap<String, Instant> = HashMap::new();
    let mut suppressed: HashMap<String, u64> = HashMap::new();
    while let Some(alert) = alerts.recv().await {
        let now = Instant::now();
        if last_sent
            .get(&alert.series)
            .is_some_and(|t| now.duration_since(*t) < cooldown)
        {
            *suppressed.entry(alert.series.clone()).or_default() += 1;
            continue;
        }
        last_sent.insert(alert.series.clone(), now);
        let body = serde_json::json!({
            "series": alert.series,
            "point": alert.point,
            "timestamp": alert.scored.timestamp,
            "values": alert.scored.values,
            "score": alert.scored.score,
            "threshold": alert.scored.threshold,
            "suppressed_since_last": suppressed.remove(&alert.series).unwrap_or(0),
        });
        let mut delay = Duration::from_millis(config.backoff_ms);
        let mut delivered = false;
        for attempt in 1..=config.attempts.max(1) {
            match client.post(&config.url).json(&body).send().await {
                Ok(r) if r.status().is_success() => {
                    delivered = true;
                    break;
                }
                Ok(r) => tracing::warn!(status = %r.status(), attempt, "webhook refused the alert"),
                Err(e) => tracing::warn!(error = %e, attempt, "webhook unreachable"),
            }
            if attempt < config.attempts {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        let counter = if delivered {
            &metrics.alerts_sent
        } else {
            &metrics.alerts_failed
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
