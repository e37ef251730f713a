//! Charts as server-rendered SVG: a line per series over the last minutes (each point placed
//! by its time, now at the right edge), its newest value in the legend. No script and no
//! network: the page works offline.

use std::fmt::Write as _;

use canter_core::escape_html;

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 164.0;
const LEFT: f64 = 44.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 18.0;

/// Colours given to series in turn.
pub const PALETTE: [&str; 6] = [
    "#2563eb", "#16a34a", "#dc2626", "#d97706", "#7c3aed", "#0891b2",
];

/// One line: its label and its points, oldest first (one per time of the chart).
pub struct Line<'a> {
    pub label: &'a str,
    pub values: &'a [f64],
}

/// What the x axis spans: the points' times (seconds since the epoch, oldest first), the
/// newest time (the right edge) and the span in seconds with its label (`"15 min"`).
pub struct Axis<'a> {
    pub times: &'a [f64],
    pub now: f64,
    pub span: f64,
    pub label: &'a str,
}

fn number(value: f64) -> String {
    if value >= 100.0 || value == value.trunc() {
        format!("{value:.0}")
    } else {
        format!("{value:.2}")
    }
}

/// A line chart titled `title` of `lines` over `axis`; `id` names it for scripts and tests
/// (`data-chart`).
pub fn line_chart(id: &str, title: &str, axis: &Axis<'_>, lines: &[Line<'_>]) -> String {
    let max = lines
        .iter()
        .flat_map(|l| l.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0_f64, f64::max);
    let top_value = if max <= 0.0 { 1.0 } else { max * 1.1 };
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg class="ops-chart" data-chart="{id}" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" role="img" aria-label="{title}" xmlns="http://www.w3.org/2000/svg">"#,
        id = escape_html(id),
        title = escape_html(title),
    );
    let _ = write!(
        out,
        r##"<text x="0" y="13" class="ops-chart-title">{}</text><line x1="{LEFT}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#9ca3af"/><line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{y0}" stroke="#9ca3af"/><text x="{lx}" y="{ty}" text-anchor="end" class="ops-axis">{top}</text><text x="{lx}" y="{y0}" text-anchor="end" class="ops-axis">0</text><text x="{LEFT}" y="{HEIGHT}" class="ops-axis">−{span}</text><text x="{x1}" y="{HEIGHT}" text-anchor="end" class="ops-axis">now</text>"##,
        escape_html(title),
        y0 = TOP + plot_h,
        x1 = LEFT + plot_w,
        lx = LEFT - 4.0,
        ty = TOP + 8.0,
        top = number(top_value),
        span = escape_html(axis.label),
    );
    let mut legend_x = LEFT;
    for (i, line) in lines.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let points: Vec<String> = line
            .values
            .iter()
            .zip(axis.times)
            .filter(|(_, t)| axis.now - **t <= axis.span)
            .map(|(v, t)| {
                let age = (axis.now - t).max(0.0) / axis.span.max(1e-3);
                let x = LEFT + plot_w * (1.0 - age);
                let v = if v.is_finite() { v.max(0.0) } else { 0.0 };
                let y = TOP + plot_h - plot_h * v / top_value;
                format!("{x:.1},{y:.1}")
            })
            .collect();
        let _ = write!(
            out,
            r#"<polyline data-series="{label}" fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>"#,
            label = escape_html(line.label),
            points = points.join(" "),
        );
        let newest = line.values.last().copied().unwrap_or(0.0);
        let _ = write!(
            out,
            r#"<rect x="{legend_x}" y="20" width="8" height="8" fill="{colour}"/><text x="{tx}" y="28" class="ops-legend">{label} {value}</text>"#,
            tx = legend_x + 11.0,
            label = escape_html(line.label),
            value = number(newest),
        );
        legend_x += 11.0 + 6.0 * (line.label.chars().count() as f64 + 7.0);
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_each_line_and_escapes_labels() {
        let axis = Axis {
            times: &[100.0, 101.0, 102.0],
            now: 102.0,
            span: 900.0,
            label: "15 min",
        };
        let lines = [
            Line {
                label: "<script>",
                values: &[0.0, 2.0, 1.0],
            },
            Line {
                label: "b",
                values: &[],
            },
        ];
        let svg = line_chart("t", "Tasks <per s>", &axis, &lines);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("&lt;script&gt;") && !svg.contains("<script>"));
        assert!(svg.contains("Tasks &lt;per s&gt;"));
        // The newest point at the right edge, the others by their age over 15 minutes.
        let plot_w = WIDTH - LEFT - 8.0;
        for age in [0.0, 1.0, 2.0] {
            let x = LEFT + plot_w * (1.0 - age / 900.0);
            assert!(svg.contains(&format!("{x:.1},")), "{x} in {svg}");
        }
        // Older than the span: left out.
        let axis = Axis {
            times: &[0.0, 1000.0],
            now: 1000.0,
            span: 900.0,
            label: "15 min",
        };
        let svg = line_chart(
            "t",
            "t",
            &axis,
            &[Line {
                label: "a",
                values: &[5.0, 1.0],
            }],
        );
        assert_eq!(svg.matches(',').count(), 1, "{svg}");
    }
}
