//! Runs of anomalous points.

/// Inclusive `(start, end)` runs of `true`.
pub fn segments(labels: &[bool]) -> Vec<(usize, usize)> {
    anomex_core::spans(labels)
}

/// TSB-AD's `range_convers_new`: like [`segments`], except that a series that is anomalous from
/// its first to its last point has **no** segment (the reference finds runs from `np.diff`, which
/// has no change in that case).
pub fn tsb_segments(labels: &[bool]) -> Vec<(usize, usize)> {
    if labels.iter().all(|&l| l) {
        return Vec::new();
    }
    segments(labels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_anomalous_has_no_tsb_segment() {
        assert_eq!(segments(&[true, true]), vec![(0, 1)]);
        assert!(tsb_segments(&[true, true]).is_empty());
        assert_eq!(tsb_segments(&[true, false, true]), vec![(0, 0), (2, 2)]);
    }
}
