//! The HTML report: one self-contained file (inline SVG, inline CSS, no script, no network) with
//! the series, the score, the threshold and the flagged spans for every channel.
//!
//! Long series are decimated to the plot's pixel width by keeping each bucket's minimum and
//! maximum, so a spike is never lost and a million-point report stays a few hundred kilobytes.

use anomex_core::{spans, Error, Result};
use plotters::prelude::*;
use std::fmt::Write as _;

pub mod leaderboard;

const WIDTH: u32 = 1100;
const SERIES_HEIGHT: u32 = 220;
const SCORE_HEIGHT: u32 = 150;
const MAX_SPANS_LISTED: usize = 50;
const MAX_MARKED_POINTS: usize = 5_000;

/// One plotted channel: its values and, where the detector scores channels separately, its own
/// score.
#[derive(Debug, Clone)]
pub struct Channel<'a> {
    pub name: &'a str,
    pub values: &'a [f64],
    pub score: Option<&'a [f64]>,
}

/// Everything the report shows.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub title: &'a str,
    pub detector: &'a str,
    pub params: Vec<(String, String)>,
    pub threshold_policy: &'a str,
    pub timestamps: Option<&'a [String]>,
    pub channels: Vec<Channel<'a>>,
    pub score: &'a [f64],
    pub thresholds: &'a [f64],
    pub flagged: &'a [bool],
    /// Ground-truth labels, drawn as a second kind of span when known.
    pub truth: Option<&'a [bool]>,
}

/// `(x, y)` points that keep each bucket's extremes in their original order.
fn decimate(values: &[f64], buckets: usize) -> Vec<(f64, f64)> {
    let n = values.len();
    if n <= buckets * 2 {
        return values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as f64, v))
            .collect();
    }
    let mut out = Vec::with_capacity(buckets * 2);
    for b in 0..buckets {
        let lo = b * n / buckets;
        let hi = ((b + 1) * n / buckets).max(lo + 1);
        let (mut imin, mut imax) = (lo, lo);
        for i in lo..hi {
            if values[i] < values[imin] {
                imin = i;
            }
            if values[i] > values[imax] {
                imax = i;
            }
        }
        let (a, c) = if imin <= imax {
            (imin, imax)
        } else {
            (imax, imin)
        };
        out.push((a as f64, values[a]));
        if c != a {
            out.push((c as f64, values[c]));
        }
    }
    out
}

fn range(values: &[f64]) -> (f64, f64) {
    let (lo, hi) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(1e-9 * (1.0 + hi.abs()));
    (lo - pad, hi + pad)
}

fn draw_err<E: std::fmt::Debug>(e: E) -> Error {
    Error::Unsupported(format!("drawing the report failed: {e:?}"))
}

struct Plot<'a> {
    height: u32,
    caption: String,
    line: &'a [f64],
    color: RGBColor,
    /// Extra step line (the threshold).
    level: Option<&'a [f64]>,
    flagged: &'a [bool],
    truth: Option<&'a [bool]>,
    /// Marks each flagged point on the line (on value plots).
    mark_points: bool,
    /// More lines on the same axes.
    extra: &'a [(&'a [f64], RGBColor)],
    timestamps: Option<&'a [String]>,
}

/// Spans as `[start, end]` in plot units, at least `min_width` wide so that a one-point anomaly in
/// a long series stays visible.
fn visible_spans(labels: &[bool], min_width: f64) -> Vec<(f64, f64)> {
    spans(labels)
        .into_iter()
        .map(|(a, b)| {
            let (a, b) = (a as f64 - 0.5, b as f64 + 0.5);
            let pad = ((min_width - (b - a)) / 2.0).max(0.0);
            (a - pad, b + pad)
        })
        .collect()
}

/// An x-axis label: the row's timestamp (to the minute) when known, else the row number.
fn x_label(timestamps: Option<&[String]>, x: f64) -> String {
    let i = x.round().max(0.0) as usize;
    match timestamps.and_then(|t| t.get(i)) {
        Some(t) => t.chars().take(16).collect(),
        None => format!("{i}"),
    }
}

fn svg(plot: &Plot<'_>) -> Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (WIDTH, plot.height)).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let n = plot.line.len().max(2) as f64;
        let mut all: Vec<f64> = plot.line.to_vec();
        if let Some(l) = plot.level {
            all.extend(l.iter().filter(|v| v.is_finite()));
        }
        for (line, _) in plot.extra {
            all.extend(line.iter());
        }
        let (lo, hi) = range(&all);
        let mut chart = ChartBuilder::on(&root)
            .caption(&plot.caption, ("sans-serif", 14))
            .margin(6)
            .x_label_area_size(22)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..n - 1.0, lo..hi)
            .map_err(draw_err)?;
        let format_x = |x: &f64| x_label(plot.timestamps, *x);
        chart
            .configure_mesh()
            .light_line_style(RGBColor(235, 235, 235))
            .x_labels(6)
            .y_labels(5)
            .x_label_formatter(&format_x)
            .draw()
            .map_err(draw_err)?;
        // three pixels, in data units
        let min_width = 3.0 * n / f64::from(WIDTH);
        if let Some(truth) = plot.truth {
            chart
                .draw_series(visible_spans(truth, min_width).into_iter().map(|(a, b)| {
                    Rectangle::new(
                        [(a, lo), (b, hi)],
                        RGBColor(120, 180, 255).mix(0.25).filled(),
                    )
                }))
                .map_err(draw_err)?;
        }
        chart
            .draw_series(
                visible_spans(plot.flagged, min_width)
                    .into_iter()
                    .map(|(a, b)| {
                        Rectangle::new([(a, lo), (b, hi)], RGBColor(230, 60, 60).mix(0.45).filled())
                    }),
            )
            .map_err(draw_err)?;
        chart
            .draw_series(LineSeries::new(
                decimate(plot.line, WIDTH as usize),
                plot.color.stroke_width(1),
            ))
            .map_err(draw_err)?;
        for (line, color) in plot.extra {
            chart
                .draw_series(LineSeries::new(
                    decimate(line, WIDTH as usize),
                    color.stroke_width(1),
                ))
                .map_err(draw_err)?;
        }
        if plot.mark_points {
            chart
                .draw_series(
                    plot.flagged
                        .iter()
                        .enumerate()
                        .filter(|(_, &f)| f)
                        .take(MAX_MARKED_POINTS)
                        .map(|(i, _)| {
                            Circle::new((i as f64, plot.line[i]), 2, RGBColor(200, 20, 20).filled())
                        }),
                )
                .map_err(draw_err)?;
        }
        if let Some(level) = plot.level {
            chart
                .draw_series(LineSeries::new(
                    decimate(level, WIDTH as usize),
                    RGBColor(200, 30, 30).stroke_width(1),
                ))
                .map_err(draw_err)?;
        }
        root.present().map_err(draw_err)?;
    }
    Ok(out)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

impl Report<'_> {
    fn label_at(&self, i: usize) -> String {
        match self.timestamps {
            Some(t) => format!("{} (row {i})", t[i]),
            None => format!("row {i}"),
        }
    }

    /// Renders the report as one HTML document.
    pub fn render(&self) -> Result<String> {
        let n = self.score.len();
        if self.flagged.len() != n || self.thresholds.len() != n {
            return Err(Error::input(
                "report: score, threshold and label lengths differ",
            ));
        }
        if let Some(c) = self.channels.iter().find(|c| c.values.len() != n) {
            return Err(Error::input(format!(
                "report: channel `{}` has a different length",
                c.name
            )));
        }
        let found = spans(self.flagged);
        let mut html = String::new();
        let _ = write!(
            html,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
             <style>body{{font-family:sans-serif;margin:24px;color:#222}}table{{border-collapse:collapse}}\
             td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}h2{{margin-top:28px}}\
             .key span{{display:inline-block;width:14px;height:10px;margin:0 4px 0 14px}}</style></head><body>\
             <h1>{t}</h1><table><tr><th>detector</th><td>{d}</td></tr><tr><th>parameters</th><td>{p}</td></tr>\
             <tr><th>threshold</th><td>{th}</td></tr><tr><th>rows × channels</th><td>{n} × {c}</td></tr>\
             <tr><th>flagged</th><td>{f} points in {s} spans</td></tr></table>\
             <p class=\"key\"><span style=\"background:rgba(230,60,60,.3)\"></span>flagged\
             <span style=\"background:rgba(120,180,255,.25)\"></span>labelled anomaly (when known)\
             <span style=\"background:#c81e1e;height:2px\"></span>threshold</p>",
            t = escape(self.title),
            d = escape(self.detector),
            p = escape(
                &self
                    .params
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            th = escape(self.threshold_policy),
            c = self.channels.len(),
            f = self.flagged.iter().filter(|&&l| l).count(),
            s = found.len(),
        );
        html.push_str("<h2>Score</h2>");
        html.push_str(&svg(&Plot {
            height: SCORE_HEIGHT + 40,
            caption: "anomaly score and threshold".into(),
            line: self.score,
            color: RGBColor(40, 40, 40),
            level: Some(self.thresholds),
            flagged: self.flagged,
            truth: self.truth,
            mark_points: false,
            extra: &[],
            timestamps: self.timestamps,
        })?);
        for ch in &self.channels {
            let _ = write!(html, "<h2>Channel {}</h2>", escape(ch.name));
            html.push_str(&svg(&Plot {
                height: SERIES_HEIGHT,
                caption: ch.name.to_string(),
                line: ch.values,
                color: RGBColor(30, 90, 170),
                level: None,
                flagged: self.flagged,
                truth: self.truth,
                mark_points: true,
                extra: &[],
                timestamps: self.timestamps,
            })?);
            if let (Some(score), true) = (ch.score, self.channels.len() > 1) {
                html.push_str(&svg(&Plot {
                    height: SCORE_HEIGHT,
                    caption: format!("{} channel score", ch.name),
                    line: score,
                    color: RGBColor(90, 90, 90),
                    level: None,
                    flagged: self.flagged,
                    truth: None,
                    mark_points: false,
                    extra: &[],
                    timestamps: self.timestamps,
                })?);
            }
        }
        html.push_str("<h2>Flagged spans</h2><table><tr><th>#</th><th>start</th><th>end</th><th>points</th><th>peak score</th></tr>");
        for (k, &(a, b)) in found.iter().take(MAX_SPANS_LISTED).enumerate() {
            let peak = self.score[a..=b]
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max);
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{peak:.4}</td></tr>",
                k + 1,
                escape(&self.label_at(a)),
                escape(&self.label_at(b)),
                b - a + 1
            );
        }
        html.push_str("</table>");
        if found.len() > MAX_SPANS_LISTED {
            let _ = write!(
                html,
                "<p>… and {} more spans (see the score file).</p>",
                found.len() - MAX_SPANS_LISTED
            );
        }
        html.push_str("</body></html>\n");
        Ok(html)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimation_keeps_extremes() {
        let mut v: Vec<f64> = (0..100_000).map(|i| (i % 7) as f64).collect();
        v[54_321] = 1000.0;
        let d = decimate(&v, 500);
        assert!(d.len() <= 1000);
        assert!(d.iter().any(|&(x, y)| x == 54_321.0 && y == 1000.0));
        assert!(d.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn one_point_spans_stay_visible() {
        let mut l = vec![false; 10];
        l[4] = true;
        assert_eq!(visible_spans(&l, 0.5), vec![(3.5, 4.5)]);
        assert_eq!(visible_spans(&l, 3.0), vec![(2.5, 5.5)]);
        assert_eq!(x_label(None, 3.2), "3");
        let ts = vec!["2014-02-09 11:45:00".to_string()];
        assert_eq!(x_label(Some(&ts), 0.0), "2014-02-09 11:45");
    }

    #[test]
    fn renders_a_self_contained_page() {
        let values: Vec<f64> = (0..500).map(|i| (i as f64 * 0.1).sin()).collect();
        let mut flagged = vec![false; 500];
        flagged[200..210].iter_mut().for_each(|f| *f = true);
        let th = vec![0.8; 500];
        let html = Report {
            title: "test <report>",
            detector: "zscore",
            params: vec![("window".into(), "50".into())],
            threshold_policy: "pot",
            timestamps: None,
            channels: vec![Channel {
                name: "value",
                values: &values,
                score: None,
            }],
            score: &values,
            thresholds: &th,
            flagged: &flagged,
            truth: None,
        }
        .render()
        .unwrap();
        assert!(html.contains("<svg"));
        assert!(html.contains("test &lt;report&gt;"));
        assert!(html.contains("row 200") && html.contains("row 209"));
        assert!(!html.contains("<script"));
    }
}
