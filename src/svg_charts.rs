//! Server-side SVG line charts: the same picture in the browser, in print and in email,
//! with no JavaScript library. Gaps (no data) break the line instead of being drawn as 0.
//! Ticks fall on round values and round times (UTC); reference lines are dashed, and
//! deployment markers are solid with a flag on top, so the two cannot be mistaken.

/// One series point: x in unix ms, y or None for a gap.
pub type Point = (i64, Option<f64>);

/// What the y values are, for tick labels and the text alternative.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A fraction shown as a percentage.
    Percent,
    PerSecond,
    /// Seconds, shown in ms below one second.
    Seconds,
    Plain,
}

impl Unit {
    /// A value in words, for the text alternative and tooltips.
    pub fn words(self, v: f64) -> String {
        match self {
            Unit::Percent => format!("{}%", trimmed(v * 100.0, 3)),
            Unit::PerSecond => format!("{}/s", trimmed(v, if v >= 100.0 { 0 } else { 2 })),
            Unit::Seconds => seconds(v),
            Unit::Plain => trimmed(v, 3),
        }
    }

    /// A tick label with as many decimals as the tick step needs.
    fn tick(self, v: f64, step: f64, top: f64) -> String {
        let fixed = |v: f64, step: f64| format!("{v:.*}", decimals(step));
        match self {
            Unit::Percent => format!("{}%", fixed(v * 100.0, step * 100.0)),
            Unit::PerSecond => format!("{}/s", fixed(v, step)),
            Unit::Seconds if top < 1.0 => format!("{} ms", fixed(v * 1000.0, step * 1000.0)),
            Unit::Seconds => format!("{} s", fixed(v, step)),
            Unit::Plain => fixed(v, step),
        }
    }
}

/// `v` with at most `max` decimals, trailing zeros dropped.
fn trimmed(v: f64, max: usize) -> String {
    let s = format!("{v:.max$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// "4.2 ms", "240 ms", "1.25 s".
pub fn seconds(v: f64) -> String {
    if v < 0.01 {
        format!("{:.1} ms", v * 1000.0)
    } else if v < 1.0 {
        format!("{:.0} ms", v * 1000.0)
    } else {
        format!("{v:.2} s")
    }
}

/// Decimals that show a multiple of `step` exactly (0 for whole steps).
fn decimals(step: f64) -> usize {
    (0..8)
        .find(|d| {
            let scaled = step * 10f64.powi(*d);
            (scaled - scaled.round()).abs() < 1e-6 * scaled.max(1.0)
        })
        .unwrap_or(8) as usize
}

/// A round step (1, 2, 2.5 or 5 times a power of ten) dividing `span` in about `n`.
fn nice_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(f64::MIN_POSITIVE);
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = match norm {
        x if x <= 1.0 => 1.0,
        x if x <= 2.0 => 2.0,
        x if x <= 2.5 => 2.5,
        x if x <= 5.0 => 5.0,
        _ => 10.0,
    };
    nice * mag
}

/// Round bounds around `lo..hi` and the ticks between them.
fn nice_range(lo: f64, hi: f64) -> (f64, f64, f64) {
    let (lo, hi) = if hi - lo > f64::EPSILON * hi.abs().max(1.0) {
        (lo, hi)
    } else {
        (lo - 0.5 * lo.abs().max(1e-9), hi + 0.5 * hi.abs().max(1e-9))
    };
    let step = nice_step(hi - lo, 4.0);
    let (a, b) = ((lo / step).floor() * step, (hi / step).ceil() * step);
    (a, b, step)
}

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;
/// Round distances between time ticks.
const TIME_STEPS: [i64; 18] = [
    10_000,
    15_000,
    30_000,
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    7 * DAY,
    14 * DAY,
];

/// Time ticks on round times (UTC) between `from` and `to`, at most six: (t, label).
/// Midnight shows the date, other times the hour and minute.
pub fn time_ticks(from: i64, to: i64) -> Vec<(i64, String)> {
    let span = (to - from).max(1);
    let step = TIME_STEPS
        .into_iter()
        .find(|s| span / s <= 5)
        .unwrap_or(30 * DAY);
    let first = from - from.rem_euclid(step) + if from.rem_euclid(step) == 0 { 0 } else { step };
    let fmt = |t: i64, f: &str| {
        jiff::Timestamp::from_millisecond(t)
            .map(|ts| ts.strftime(f).to_string())
            .unwrap_or_default()
    };
    (0..)
        .map(|i| first + i * step)
        .take_while(|t| *t <= to)
        .map(|t| {
            let label = if t.rem_euclid(DAY) == 0 && span > 12 * HOUR {
                fmt(t, "%b %-d")
            } else if step < MINUTE {
                fmt(t, "%H:%M:%S")
            } else {
                fmt(t, "%H:%M")
            };
            (t, label)
        })
        .collect()
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub points: &'a [Point],
    pub from: i64,
    pub to: i64,
    /// The values to show at least (the frame is rounded outwards to tick values);
    /// values outside are clamped to the frame.
    pub y_min: f64,
    pub y_max: f64,
    /// Dashed horizontal reference lines (the objective, a latency threshold) with
    /// their labels.
    pub references: &'a [(f64, String)],
    /// Vertical markers (deployments): x and a tooltip.
    pub markers: &'a [(i64, String)],
    pub unit: Unit,
    /// Said instead of drawing when set (e.g. "too early to judge the period").
    pub withheld: Option<&'a str>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const W: f64 = 640.0;
const H: f64 = 200.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 28.0;

struct Frame {
    from: i64,
    to: i64,
    lo: f64,
    hi: f64,
}

impl Frame {
    fn x(&self, t: i64) -> f64 {
        let span = (self.to - self.from).max(1) as f64;
        LEFT + (t - self.from) as f64 / span * (W - LEFT - RIGHT)
    }

    fn y(&self, v: f64) -> f64 {
        let span = (self.hi - self.lo).max(f64::EPSILON);
        let v = v.clamp(self.lo, self.hi);
        TOP + (1.0 - (v - self.lo) / span) * (H - TOP - BOTTOM)
    }
}

impl Chart<'_> {
    /// The chart with a second series drawn in the error colour (e.g. errors/s over
    /// requests/s), named `second_name` in the text alternative.
    pub fn render_with(&self, second: &[Point], second_name: &str) -> String {
        let (frame, _) = self.frame();
        let lines = if self.withheld.is_some() {
            String::new()
        } else {
            polylines(
                second,
                |t| frame.x(t),
                |v| frame.y(v),
                " line-bad",
                " dot-bad",
            )
        };
        let label = format!(
            "{}; {second_name}: {}",
            self.label(),
            summary(second, self.unit)
        );
        self.svg(&label).replacen("</svg>", &(lines + "</svg>"), 1)
    }

    pub fn render(&self) -> String {
        self.svg(&self.label())
    }

    /// The text alternative: the title and the numbers the line shows.
    fn label(&self) -> String {
        match self.withheld {
            Some(why) => format!("{}: {why}", self.title),
            None => format!("{}: {}", self.title, summary(self.points, self.unit)),
        }
    }

    fn frame(&self) -> (Frame, f64) {
        let (lo, hi) = if self.y_min <= self.y_max {
            (self.y_min, self.y_max)
        } else {
            (self.y_max, self.y_min)
        };
        let (lo, hi, step) = nice_range(lo, hi);
        (
            Frame {
                from: self.from,
                to: self.to.max(self.from + 1),
                lo,
                hi,
            },
            step,
        )
    }

    fn svg(&self, label: &str) -> String {
        let (f, step) = self.frame();
        let mut svg = format!(
            "<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
            esc(label)
        );
        // y grid and ticks on round values.
        let count = ((f.hi - f.lo) / step).round() as i64;
        for i in 0..=count {
            let v = f.lo + step * i as f64;
            let y = f.y(v);
            svg.push_str(&format!(
                "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
                 <text class=\"tick\" x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                W - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                esc(&self.unit.tick(v, step, f.hi))
            ));
        }
        // x ticks on round times; labels near an edge are anchored inside the frame.
        for (t, text) in time_ticks(f.from, f.to) {
            let x = f.x(t);
            let anchor = if x - LEFT < 24.0 {
                "start"
            } else if W - RIGHT - x < 24.0 {
                "end"
            } else {
                "middle"
            };
            svg.push_str(&format!(
                "<line class=\"grid\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{}\" y2=\"{}\"/>\
                 <text class=\"tick\" x=\"{x:.1}\" y=\"{}\" text-anchor=\"{anchor}\">{}</text>",
                H - BOTTOM,
                H - BOTTOM + 4.0,
                H - 10.0,
                esc(&text)
            ));
        }
        if let Some(why) = self.withheld {
            svg.push_str(&format!(
                "<text class=\"nodata\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text></svg>",
                (LEFT + W - RIGHT) / 2.0,
                (TOP + H - BOTTOM) / 2.0 + 5.0,
                esc(why)
            ));
            return svg;
        }
        for (v, label) in self.references {
            let y = f.y(*v);
            svg.push_str(&format!(
                "<line class=\"ref\" x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\"><title>{}</title></line>",
                W - RIGHT,
                esc(label)
            ));
        }
        for (t, label) in self.markers {
            if *t < f.from || *t > f.to {
                continue;
            }
            let x = f.x(*t);
            svg.push_str(&format!(
                "<g class=\"marker\"><title>{}</title>\
                 <line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{}\"/>\
                 <path d=\"M{:.1} {} l5 -3.5 l-5 -3.5 z\"/></g>",
                esc(label),
                H - BOTTOM,
                x,
                TOP
            ));
        }
        svg.push_str(&polylines(self.points, |t| f.x(t), |v| f.y(v), "", ""));
        if self
            .points
            .iter()
            .all(|(_, v)| !v.is_some_and(f64::is_finite))
        {
            svg.push_str(&format!(
                "<text class=\"nodata\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">no data</text>",
                (LEFT + W - RIGHT) / 2.0,
                (TOP + H - BOTTOM) / 2.0 + 5.0
            ));
        }
        svg.push_str("</svg>");
        svg
    }
}

/// What a series shows, in words for a screen reader: latest, lowest and highest value,
/// or that there is no data.
pub fn summary(points: &[Point], unit: Unit) -> String {
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
        unit.words(*latest),
        unit.words(low),
        unit.words(high)
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
    unit: Unit,
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
        esc(&format!("{label}: {}", summary(points, unit)))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chart<'a>(points: &'a [Point], markers: &'a [(i64, String)]) -> Chart<'a> {
        Chart {
            title: "SLI & more",
            points,
            from: 0,
            to: 4,
            y_min: 0.9,
            y_max: 1.0,
            references: &[],
            markers,
            unit: Unit::Percent,
            withheld: None,
        }
    }

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
        let svg = chart(&points, &markers).render();
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains("<g class=\"marker\"><title>&lt;deploy&gt; v2</title>"));
        assert!(
            svg.contains("aria-label=\"SLI &amp; more: latest 99%, lowest 97%, highest 99%\""),
            "{svg}"
        );
        assert!(!svg.contains("no data"));
    }

    #[test]
    fn no_points_says_no_data_and_a_withheld_chart_says_why() {
        let svg = chart(&[(0, None)], &[]).render();
        assert!(svg.contains(">no data</text>"));
        let points = [(0, Some(-27.0)), (4, Some(-28.0))];
        let svg = Chart {
            withheld: Some("too early to judge the period"),
            ..chart(&points, &[])
        }
        .render();
        assert!(!svg.contains("<polyline"), "{svg}");
        assert!(svg.contains(">too early to judge the period</text>"));
        assert!(svg.contains("aria-label=\"SLI &amp; more: too early to judge the period\""));
    }

    #[test]
    fn y_ticks_fall_on_round_values_with_the_decimals_they_need() {
        let ticks = |lo: f64, hi: f64, unit: Unit| {
            let svg = Chart {
                y_min: lo,
                y_max: hi,
                unit,
                ..chart(&[(0, Some(lo))], &[])
            }
            .render();
            svg.split("text-anchor=\"end\">")
                .skip(1)
                .map(|s| s.split('<').next().unwrap().to_string())
                .filter(|s| !s.contains(':'))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ticks(0.9975, 1.0, Unit::Percent),
            ["99.7%", "99.8%", "99.9%", "100.0%"]
        );
        assert_eq!(
            ticks(0.0, 37.3, Unit::PerSecond),
            ["0/s", "10/s", "20/s", "30/s", "40/s"]
        );
        assert_eq!(
            ticks(0.0, 0.3, Unit::Seconds),
            ["0 ms", "100 ms", "200 ms", "300 ms"]
        );
        assert_eq!(ticks(-0.3, 1.0, Unit::Percent).first().unwrap(), "-50%");
    }

    #[test]
    fn time_ticks_fall_on_round_times() {
        // 2026-11-30T09:47:00Z to 24 hours later: every 6 hours, midnight as the date.
        let from = 1_796_032_020_000;
        let ticks = time_ticks(from, from + DAY);
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(labels, ["12:00", "18:00", "Dec 1", "06:00"]);
        assert!(ticks.iter().all(|(t, _)| t % (6 * HOUR) == 0));
        let hour = time_ticks(from, from + HOUR);
        assert_eq!(
            hour.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(),
            ["10:00", "10:15", "10:30", "10:45"]
        );
        assert!(time_ticks(from, from + 7 * DAY).len() <= 6);
        let minute = time_ticks(from + 5_000, from + 65_000);
        assert_eq!(
            minute.iter().map(|t| t.1.as_str()).collect::<Vec<_>>(),
            ["09:47:15", "09:47:30", "09:47:45", "09:48:00"]
        );
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
        let svg = sparkline("SLI <24h>", &points, 0, 4, (0.0, 1.0), Unit::Plain);
        assert_eq!(svg.matches("<polyline").count(), 2, "{svg}");
        assert!(svg.contains("points=\"2.0,3.0 31.0,14.0\""), "{svg}");
        assert!(
            svg.contains("aria-label=\"SLI &lt;24h&gt;: latest 0.2, lowest 0, highest 1\""),
            "{svg}"
        );
        let empty = sparkline("x", &[(0, None)], 0, 1, (0.0, 1.0), Unit::Plain);
        assert!(empty.contains("no data") && empty.contains("aria-label=\"x: no data\""));
    }
}
