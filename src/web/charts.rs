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
    /// requests/s).
    pub fn render_with(&self, second: &[Point]) -> String {
        let main = self.render();
        let other = Chart {
            title: self.title,
            points: second,
            from: self.from,
            to: self.to,
            y_min: self.y_min,
            y_max: self.y_max,
            reference: None,
            markers: &[],
            y_label: self.y_label,
        };
        let mut lines = String::new();
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, lines: &mut String| {
            if run.len() == 1 {
                let p: Vec<&str> = run[0].split(',').collect();
                lines.push_str(&format!(
                    "<circle class=\"dot dot-bad\" cx=\"{}\" cy=\"{}\" r=\"2.5\"/>",
                    p[0], p[1]
                ));
            } else if run.len() > 1 {
                lines.push_str(&format!(
                    "<polyline class=\"line line-bad\" points=\"{}\"/>",
                    run.join(" ")
                ));
            }
            run.clear();
        };
        for (t, v) in second {
            match v {
                Some(v) if v.is_finite() => {
                    run.push(format!("{:.1},{:.1}", other.x(*t), other.y(*v)))
                }
                _ => flush(&mut run, &mut lines),
            }
        }
        flush(&mut run, &mut lines);
        main.replacen("</svg>", &(lines + "</svg>"), 1)
    }

    pub fn render(&self) -> String {
        let mut svg = format!(
            "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
            esc(self.title)
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
        // The series, one polyline per run without gaps.
        let mut run: Vec<String> = Vec::new();
        let flush = |run: &mut Vec<String>, svg: &mut String| {
            if run.len() == 1 {
                let p: Vec<&str> = run[0].split(',').collect();
                svg.push_str(&format!(
                    "<circle class=\"dot\" cx=\"{}\" cy=\"{}\" r=\"2.5\"/>",
                    p[0], p[1]
                ));
            } else if run.len() > 1 {
                svg.push_str(&format!(
                    "<polyline class=\"line\" points=\"{}\"/>",
                    run.join(" ")
                ));
            }
            run.clear();
        };
        for (t, v) in self.points {
            match v {
                Some(v) if v.is_finite() => {
                    run.push(format!("{:.1},{:.1}", self.x(*t), self.y(*v)))
                }
                _ => flush(&mut run, &mut svg),
            }
        }
        flush(&mut run, &mut svg);
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
        assert!(svg.contains("aria-label=\"SLI &amp; more\""));
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
}
