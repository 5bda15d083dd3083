//! The embedded example: NAB's machine-temperature series (MIT-style licence, see
//! `examples/nab/LICENSE.txt`) and its labelled windows.

use anyhow::{Context, Result};

pub const NAME: &str = "NAB realKnownCause/machine_temperature_system_failure.csv";
pub const CSV: &str = include_str!("../../../examples/nab/machine_temperature_system_failure.csv");
const WINDOWS: &str =
    include_str!("../../../examples/nab/machine_temperature_system_failure.windows.json");

/// Labels from NAB's windows: rows whose timestamp falls inside a window.
pub fn truth(timestamps: &[String]) -> Result<Vec<bool>> {
    let windows: Vec<(String, String)> =
        serde_json::from_str(WINDOWS).context("reading the embedded label windows")?;
    // ISO timestamps of one format compare correctly as text
    Ok(timestamps
        .iter()
        .map(|t| windows.iter().any(|(a, b)| a <= t && t <= b))
        .collect())
}
