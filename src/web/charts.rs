//! Server-side SVG line charts: the same picture in the browser, in print and in email,
//! with no JavaScript library. Gaps (no data) break the line instead of being drawn as 0.

/// One series point: x in unix ms, y or None for a gap.
pub type Point = (i64, Option<f64>);

pub struct Chart<'a> {
    pub title: &'a str,
    pub points: &'a [Point],
    pub from: i64,
    pub to: i64,
    /// y range; values outside are clamped to the frame.
    pub y_min: f64,
    pub y_max: f64,
    /// A dashed horizontal reference line (e.g. the objective) with its label.
    pub reference: Option<(f64, String)>,
    /// Vertical markers (e.g. deployments): x and a tooltip.
    pub markers: &'a [(i64, String)],
    pub y_label: fn(f64) -> String,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const W: f64 = 640.0;
const H: f64 = 200.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

impl Chart<'_> {
    fn x(&self, t: i64) -> f64 {
        let span = (self.to - self.from).max(1) as f64;
        LEFT + (t - self.from) as f64 / span * (W - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        let span = (self.y_max - self.y_min).max(f64::EPSILON);
        let v = v.clamp(self.y_min, self.y_max);
        TOP + (1.0 - (v - self.y_min) / span) * (H - TOP - BOTTOM)
    }

    /// The chart with a second series drawn in the error colour (e.g. errors/s over
    /// requests/s), named `second_name` in the text alternative.
    pub fn render_with(&self, second: &[Point], second_name: &str) -> String {
        let lines = polylines(
            second,
            |t| self.x(t),
            |v| self.y(v),
            " line-bad",
            " dot-bad",
        );
        let label = format!(
            "{}; {second_name}: {}",
            self.label(),
            summary(second, self.y_label)
        );
        self.svg(&label).replacen("</svg>", &(lines + "</svg>"), 1)
    }

    pub fn render(&self) -> String {
        self.svg(&self.label())
    }

    /// The text alternative: the title and the numbers the line shows.
    fn label(&self) -> String {
        format!("{}: {}", self.title, summary(self.points, self.y_label))
    }

    fn svg(&self, label: &str) -> String {
        let mut svg = format!(
            "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
            esc(label)
        );
        // Frame and y ticks.
        for i in 0..=4 {
            let v = self.y_min + (self.y_max - self.y_min) * i as f64 / 4.0;
            let y = self.y(v);
            svg.push_str(&format!(
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
                 <text class=\"tick\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                W - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                esc(&(self.y_label)(v))
            ));
        }
        // x ticks: start, middle, end.
        for (i, anchor) in [(0, "start"), (1, "middle"), (2, "end")] {
            let t = self.from + (self.to - self.from) * i / 2;
            svg.push_str(&format!(
                "<text class=\"tick\" x=\"{:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
                self.x(t),
                H - 8.0,
                esc(&crate::time::short(t).replace(" UTC", ""))
            ));
        }
        if let Some((v, label)) = &self.reference {
            let y = self.y(*v);
            svg.push_str(&format!(
                "<line class=\"ref\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"><title>{}</title></line>",
                W - RIGHT,
                esc(label)
            ));
        }
        for (t, label) in self.markers {
            if *t < self.from || *t > self.to {
                continue;
            }
            let x = self.x(*t);
            svg.push_str(&format!(
                "<line class=\"marker\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{}\"><title>{}</title></line>",
                H - BOTTOM,
                esc(label)
            ));
        }
        svg.push_str(&polylines(
            self.points,
            |t| self.x(t),
            |v| self.y(v),
            "",
            "",
        ));
        if self.points.iter().all(|(_, v)| v.is_none()) {
            svg.push_str(&format!(
                "<text class=\"nodata\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data</text>",
                W / 2.0,
                H / 2.0
            ));
        }
        svg.push_str("</svg>");
        svg
    }
}

/// What a series shows, in words for a screen reader: latest, lowest and highest value,
/// or that there is no data.
pub fn summary(points: &[Point], y_label: fn(f64) -> String) -> String {
    let values: Vec<f64> = points
        .iter()
        .filter_map(|p| p.1)
        .filter(|v| v.is_finite())
        .collect();
    let (Some(latest), Some(low), Some(high)) = (
        values.last(),
        values.iter().copied().reduce(f64::min),
        values.iter().copied().reduce(f64::max),
    ) else {
        return "no data".into();
    };
    format!(
        "latest {}, lowest {}, highest {}",
        y_label(*latest),
        y_label(low),
        y_label(high)
    )
}

/// The series as SVG: one polyline per run without gaps, a dot for a lone point.
fn polylines(
    points: &[Point],
    x: impl Fn(i64) -> f64,
    y: impl Fn(f64) -> f64,
    line_class: &str,
    dot_class: &str,
) -> String {
    let mut out = String::new();
    let mut run: Vec<(f64, f64)> = Vec::new();
    let mut flush = |run: &mut Vec<(f64, f64)>| {
        match run.as_slice() {
            [] => {}
            [(px, py)] => out.push_str(&format!(
                "<circle class=\"dot{dot_class}\" cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"2.5\"/>"
            )),
            _ => {
                let pts: Vec<String> = run.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
                out.push_str(&format!(
                    "<polyline class=\"line{line_class}\" points=\"{}\"/>",
                    pts.join(" ")
                ));
            }
        }
        run.clear();
    };
    for (t, v) in points {
        match v {
            Some(v) if v.is_finite() => run.push((x(*t), y(*v))),
            _ => flush(&mut run),
        }
    }
    flush(&mut run);
    out
}

const SW: f64 = 120.0;
const SH: f64 = 28.0;

/// A small line without axes for a table cell (e.g. an SLO's last 24 hours), scaled to
/// `y_min..y_max`; gaps break the line, and no data at all says so.
pub fn sparkline(
    label: &str,
    points: &[Point],
    from: i64,
    to: i64,
    (y_min, y_max): (f64, f64),
    y_label: fn(f64) -> String,
) -> String {
    let span_x = (to - from).max(1) as f64;
    let span_y = (y_max - y_min).max(f64::EPSILON);
    let x = |t: i64| 2.0 + (t - from) as f64 / span_x * (SW - 4.0);
    let y = |v: f64| 3.0 + (1.0 - (v.clamp(y_min, y_max) - y_min) / span_y) * (SH - 6.0);
    let body = if points.iter().any(|(_, v)| v.is_some()) {
        polylines(points, x, y, "", "")
    } else {
        format!(
            "<text class=\"nodata\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data</text>",
            SW / 2.0,
            SH / 2.0 + 4.0
        )
    };
    format!(
        "<svg class=\"spark\" viewBox=\"0 0 {SW} {SH}\" role=\"img\" aria-label=\"{}\" \
         xmlns=\"http://www.w3.org/2000/svg\">{body}</svg>",
        esc(&format!("{label}: {}", summary(points, y_label)))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_break_the_line_and_labels_are_escaped() {
        let points = [
            (0, Some(0.99)),
            (1, Some(0.98)),
            (2, None),
            (3, Some(0.97)),
            (4, Some(0.99)),
        ];
        let markers = [(2, "<deploy> v2".to_string())];
        let svg = Chart {
            title: "SLI & more",
            points: &points,
            from: 0,
            to: 4,
            y_min: 0.9,
            y_max: 1.0,
            reference: Some((0.999, "objective".into())),
            markers: &markers,
            y_label: |v| format!("{:.1}%", v * 100.0),
        }
        .render();
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains("&lt;deploy&gt; v2"));
        assert!(
            svg.contains(
                "aria-label=\"SLI &amp; more: latest 99.0%, lowest 97.0%, highest 99.0%\""
            ),
            "{svg}"
        );
        assert!(!svg.contains("no data"));
    }

    #[test]
    fn no_points_says_no_data() {
        let svg = Chart {
            title: "x",
            points: &[(0, None)],
            from: 0,
            to: 1,
            y_min: 0.0,
            y_max: 1.0,
            reference: None,
            markers: &[],
            y_label: |v| format!("{v}"),
        }
        .render();
        assert!(svg.contains("no data"));
    }

    #[test]
    fn a_sparkline_scales_into_its_box_and_breaks_at_gaps() {
        let points = [
            (0, Some(1.0)),
            (1, Some(0.5)),
            (2, None),
            (3, Some(0.0)),
            (4, Some(0.2)),
        ];
        let svg = sparkline("SLI <24h>", &points, 0, 4, (0.0, 1.0), |v| format!("{v}"));
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains("points=\"2.0,3.0 31.0,14.0\""), "{svg}");
        assert!(
            svg.contains("aria-label=\"SLI &lt;24h&gt;: latest 0.2, lowest 0, highest 1\""),
            "{svg}"
        );
        let empty = sparkline("x", &[(0, None)], 0, 1, (0.0, 1.0), |v| format!("{v}"));
        assert!(empty.contains("no data") && empty.contains("aria-label=\"x: no data\""));
    }
}
