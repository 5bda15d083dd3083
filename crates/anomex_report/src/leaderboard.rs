//! The benchmark leaderboard as one self-contained HTML page: the protocol, a table sortable by
//! any column (a few lines of inline script, no network), and per data set the series with its
//! labelled anomalies and the scores of the best methods.

use crate::{escape, svg, Plot};
use anomex_core::{Error, Result};
use plotters::style::RGBColor;
use std::fmt::Write as _;

/// A table cell: text, or a number (sorted numerically, shown with `digits` decimals).
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number { value: Option<f64>, digits: usize },
}

/// One data set's plots.
#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    /// The first channel of the series.
    pub values: Vec<f64>,
    pub truth: Vec<bool>,
    /// Up to three methods' scores, best first, each shown min-max scaled.
    pub scores: Vec<(String, Vec<f64>)>,
}

/// The page.
#[derive(Debug, Clone)]
pub struct Page {
    pub title: String,
    /// Shown above the table (the protocol, the command).
    pub facts: Vec<(String, String)>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    pub sections: Vec<Section>,
}

const COLORS: [RGBColor; 3] = [
    RGBColor(200, 40, 40),
    RGBColor(40, 140, 60),
    RGBColor(120, 60, 170),
];

const SORT_SCRIPT: &str = "document.querySelectorAll('th[data-col]').forEach(function(th){\
th.style.cursor='pointer';th.addEventListener('click',function(){\
var t=th.closest('table'),b=t.tBodies[0],c=+th.dataset.col,d=th.dataset.dir==='asc'?'desc':'asc';\
th.dataset.dir=d;var rows=Array.prototype.slice.call(b.rows);\
rows.sort(function(x,y){var a=x.cells[c].dataset.v,z=y.cells[c].dataset.v;\
var r=(a!==undefined&&z!==undefined)?(+a)-(+z):x.cells[c].textContent.localeCompare(y.cells[c].textContent);\
return d==='asc'?r:-r;});rows.forEach(function(r){b.appendChild(r);});});});";

impl Page {
    /// Renders the page.
    pub fn render(&self) -> Result<String> {
        if let Some(r) = self.rows.iter().find(|r| r.len() != self.header.len()) {
            return Err(Error::input(format!(
                "leaderboard: a row has {} cells for {} columns",
                r.len(),
                self.header.len()
            )));
        }
        let mut html = String::new();
        let _ = write!(
            html,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
             <style>body{{font-family:sans-serif;margin:24px;color:#222}}table{{border-collapse:collapse}}\
             td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}td.n{{text-align:right}}\
             th[data-col]:hover{{background:#eef}}h2{{margin-top:28px}}.key span{{display:inline-block;\
             width:14px;height:4px;margin:0 4px 0 14px}}</style></head><body><h1>{t}</h1><table>",
            t = escape(&self.title)
        );
        for (k, v) in &self.facts {
            let _ = write!(
                html,
                "<tr><th>{}</th><td>{}</td></tr>",
                escape(k),
                escape(v)
            );
        }
        html.push_str(
            "</table><h2>Leaderboard</h2><p>Click a column to sort.</p><table><thead><tr>",
        );
        for (i, h) in self.header.iter().enumerate() {
            let _ = write!(html, "<th data-col=\"{i}\">{}</th>", escape(h));
        }
        html.push_str("</tr></thead><tbody>");
        for row in &self.rows {
            html.push_str("<tr>");
            for cell in row {
                match cell {
                    Cell::Text(t) => {
                        let _ = write!(html, "<td>{}</td>", escape(t));
                    }
                    Cell::Number {
                        value: Some(v),
                        digits,
                    } => {
                        let _ = write!(html, "<td class=\"n\" data-v=\"{v}\">{v:.digits$}</td>");
                    }
                    // missing values sort below every number
                    Cell::Number { value: None, .. } => {
                        html.push_str("<td class=\"n\" data-v=\"-1e308\">–</td>");
                    }
                }
            }
            html.push_str("</tr>");
        }
        html.push_str("</tbody></table>");
        for s in &self.sections {
            self.section(&mut html, s)?;
        }
        let _ = write!(html, "<script>{SORT_SCRIPT}</script></body></html>");
        Ok(html)
    }

    fn section(&self, html: &mut String, s: &Section) -> Result<()> {
        let n = s.values.len();
        if s.truth.len() != n || s.scores.iter().any(|(_, v)| v.len() != n) {
            return Err(Error::input(format!(
                "leaderboard: `{}` has series, labels and scores of different lengths",
                s.title
            )));
        }
        let _ = write!(html, "<h2>{}</h2><p class=\"key\">", escape(&s.title));
        for ((name, _), color) in s.scores.iter().zip(COLORS) {
            let _ = write!(
                html,
                "<span style=\"background:rgb({},{},{})\"></span>{}",
                color.0,
                color.1,
                color.2,
                escape(name)
            );
        }
        html.push_str("</p>");
        let none = vec![false; n];
        html.push_str(&svg(&Plot {
            height: 170,
            caption: "series (first channel) and labelled anomalies".into(),
            line: &s.values,
            color: RGBColor(30, 90, 170),
            level: None,
            flagged: &none,
            truth: Some(&s.truth),
            mark_points: false,
            extra: &[],
            timestamps: None,
        })?);
        if let Some(((_, first), rest)) = s.scores.split_first() {
            let first = anomex_core::stats::min_max_scaled(first);
            let others: Vec<(Vec<f64>, RGBColor)> = rest
                .iter()
                .zip(COLORS.into_iter().skip(1))
                .map(|((_, v), c)| (anomex_core::stats::min_max_scaled(v), c))
                .collect();
            let extra: Vec<(&[f64], RGBColor)> =
                others.iter().map(|(v, c)| (v.as_slice(), *c)).collect();
            html.push_str(&svg(&Plot {
                height: 150,
                caption: "scores of the best methods on this data set (scaled to 0–1)".into(),
                line: &first,
                color: COLORS[0],
                level: None,
                flagged: &none,
                truth: Some(&s.truth),
                mark_points: false,
                extra: &extra,
                timestamps: None,
            })?);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_sortable_table_and_plots() {
        let values: Vec<f64> = (0..300).map(|i| (i as f64 / 9.0).sin()).collect();
        let truth: Vec<bool> = (0..300).map(|i| (100..110).contains(&i)).collect();
        let page = Page {
            title: "bench <nab>".into(),
            facts: vec![("protocol".into(), "z-score".into())],
            header: vec!["method".into(), "VUS-PR".into()],
            rows: vec![
                vec![
                    Cell::Text("a".into()),
                    Cell::Number {
                        value: Some(0.5),
                        digits: 3,
                    },
                ],
                vec![
                    Cell::Text("b".into()),
                    Cell::Number {
                        value: None,
                        digits: 3,
                    },
                ],
            ],
            sections: vec![Section {
                title: "series 1".into(),
                values: values.clone(),
                truth: truth.clone(),
                scores: vec![("a".into(), values.clone()), ("b".into(), vec![1.0; 300])],
            }],
        };
        let html = page.render().unwrap();
        assert!(html.contains("bench &lt;nab&gt;"));
        assert!(html.contains("data-v=\"0.5\">0.500"));
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(html.contains("<script>") && !html.contains("<script src"));
        let mut bad = page.clone();
        bad.rows[0].pop();
        assert!(bad.render().is_err());
        let mut bad = page;
        bad.sections[0].truth.pop();
        assert!(bad.render().unwrap_err().to_string().contains("series 1"));
    }
}
