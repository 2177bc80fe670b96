//! The on-call card as a one-page A4 PDF, made in the binary: DejaVu fonts embedded
//! (Latin and Cyrillic), text measured with the fonts' advances and wrapped; when the
//! card does not fit it is set smaller, and at the smallest size what still does not fit
//! is cut with a pointer to `/oncall` — it is always exactly one page.

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::text::{Font, TextDirection};

use super::card::{Card, person};

const PAGE_W: f32 = 595.0;
const PAGE_H: f32 = 842.0;
const MARGIN: f32 = 36.0;
const LARGEST: f32 = 9.5;
const SMALLEST: f32 = 5.5;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Face {
    Regular,
    Bold,
    Mono,
}

struct Fonts {
    data: [&'static [u8]; 3],
    faces: [ttf_parser::Face<'static>; 3],
}

impl Fonts {
    fn load() -> Option<Fonts> {
        let data = [
            dejavu::sans_condensed::regular(),
            dejavu::sans_condensed::bold(),
            dejavu::sans_mono::regular(),
        ];
        let faces = [
            ttf_parser::Face::parse(data[0], 0).ok()?,
            ttf_parser::Face::parse(data[1], 0).ok()?,
            ttf_parser::Face::parse(data[2], 0).ok()?,
        ];
        Some(Fonts { data, faces })
    }

    fn face(&self, f: Face) -> &ttf_parser::Face<'static> {
        &self.faces[f as usize]
    }

    /// The width of `text` at `size` points.
    fn width(&self, f: Face, size: f32, text: &str) -> f32 {
        let face = self.face(f);
        let upem = f32::from(face.units_per_em());
        let units: f32 = text
            .chars()
            .map(|c| {
                face.glyph_index(c)
                    .and_then(|g| face.glyph_hor_advance(g))
                    .map_or(upem / 2.0, f32::from)
            })
            .sum();
        units * size / upem
    }
}

/// One piece of text at a baseline, or a rule.
enum Op {
    Text {
        x: f32,
        y: f32,
        face: Face,
        size: f32,
        grey: bool,
        text: String,
    },
    Rule {
        y: f32,
    },
}

struct Layout<'a> {
    fonts: &'a Fonts,
    size: f32,
    y: f32,
    ops: Vec<Op>,
}

/// The distance between baselines at `size`.
fn line_height(size: f32) -> f32 {
    size * 1.3
}

impl Layout<'_> {
    /// Words of `text` wrapped into lines no wider than `width`; a word wider than a line
    /// is broken by characters.
    fn wrap(&self, face: Face, size: f32, text: &str, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split(' ') {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if self.fonts.width(face, size, &candidate) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // The word alone: break it by characters where it does not fit.
            for c in word.chars() {
                let mut next = line.clone();
                next.push(c);
                if self.fonts.width(face, size, &next) > width && !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line.push(c);
                } else {
                    line = next;
                }
            }
        }
        if !line.is_empty() || lines.is_empty() {
            lines.push(line);
        }
        lines
    }

    /// A paragraph at `indent`, its continuation lines at `hang` more.
    fn para(&mut self, face: Face, size: f32, indent: f32, hang: f32, grey: bool, text: &str) {
        let width = PAGE_W - 2.0 * MARGIN - indent;
        let mut first = true;
        let lines = self.wrap(face, size, text, width - hang);
        for line in lines {
            self.y += line_height(size);
            self.ops.push(Op::Text {
                x: MARGIN + indent + if first { 0.0 } else { hang },
                y: self.y,
                face,
                size,
                grey,
                text: line,
            });
            first = false;
        }
    }

    /// A label in bold and its text after it, wrapped under the text.
    fn labelled(&mut self, label: &str, text: &str) {
        let s = self.size;
        let lw = self.fonts.width(Face::Bold, s, label) + s * 0.6;
        // A label too long to stand beside its text (a long name) gets lines of its own.
        if lw > (PAGE_W - 2.0 * MARGIN) * 0.4 {
            self.para(Face::Bold, s, 0.0, s, false, label);
            if !text.is_empty() {
                self.para(Face::Regular, s, s, 0.0, false, text);
            }
            return;
        }
        let y = self.y + line_height(s);
        self.ops.push(Op::Text {
            x: MARGIN,
            y,
            face: Face::Bold,
            size: s,
            grey: false,
            text: label.to_string(),
        });
        let width = PAGE_W - 2.0 * MARGIN - lw;
        for (i, line) in self
            .wrap(Face::Regular, s, text, width)
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                self.y += line_height(s);
            }
            self.ops.push(Op::Text {
                x: MARGIN + lw,
                y: self.y + line_height(s),
                face: Face::Regular,
                size: s,
                grey: false,
                text: line,
            });
        }
        self.y += line_height(s);
    }

    /// A small grey line (who made the card, what to set first).
    fn note(&mut self, text: &str) {
        self.para(Face::Regular, self.size * 0.9, 0.0, 0.0, true, text);
    }

    fn heading(&mut self, text: &str) {
        let s = self.size * 1.2;
        self.y += s * 0.6;
        self.para(Face::Bold, s, 0.0, 0.0, false, text);
        self.y += s * 0.25;
        self.ops.push(Op::Rule { y: self.y });
    }
}

fn lay_out<'a>(card: &Card, fonts: &'a Fonts, size: f32) -> Layout<'a> {
    let mut l = Layout {
        fonts,
        size,
        y: MARGIN,
        ops: Vec::new(),
    };
    l.para(Face::Bold, size * 2.0, 0.0, 0.0, false, "On-call card");
    l.note(&format!("Made {} by Firewatch", card.made));
    l.heading("On call");
    match &card.oncall {
        Some((p, s, until, reason)) => {
            l.labelled("Primary", &person(p));
            if let Some(s) = s {
                l.labelled("Secondary", &person(s));
            }
            let mut until = until.clone();
            if let Some(r) = reason {
                until.push_str(&format!(" (override: {r})"));
            }
            l.labelled("Until", &until);
            if let Some(h) = &card.handover {
                l.labelled("Handover", h);
            }
        }
        None => l.para(
            Face::Regular,
            size,
            0.0,
            0.0,
            false,
            "No rotation is configured ([oncall]).",
        ),
    }
    l.heading("Escalation contacts");
    if card.contacts.is_empty() {
        l.para(
            Face::Regular,
            size,
            0.0,
            0.0,
            false,
            "No contacts are configured ([[contact]]).",
        );
    }
    for c in &card.contacts {
        let rest: Vec<&str> = [&c.role, &c.phone, &c.email, &c.slack]
            .into_iter()
            .map(String::as_str)
            .filter(|v| !v.is_empty())
            .collect();
        l.labelled(&c.name, &rest.join(" · "));
    }
    l.heading("Severity");
    for (row, to) in card.severities.iter().zip(&card.reaches) {
        l.labelled(
            row[0],
            &format!(
                "{}. Response: {}. Paged: {}. Channel: {}. Sent to: {to}.",
                row[1], row[2], row[3], row[4]
            ),
        );
    }
    l.heading("The first five minutes");
    for (i, step) in card.first_five.iter().enumerate() {
        l.labelled(&format!("{}.", i + 1), step);
    }
    l.heading("Key commands (P0 runbook)");
    l.note(
        "Set NS (namespace), SVC (service), HOST (database host), FW (Firewatch's URL) and TOKEN first.",
    );
    for (heading, code) in &card.commands {
        l.para(Face::Bold, size * 0.9, 0.0, 0.0, true, heading);
        for line in code.lines() {
            l.para(Face::Mono, size * 0.85, size * 0.8, size * 2.0, false, line);
        }
    }
    l.heading("Incident commander");
    for d in &card.commander {
        l.labelled("•", d);
    }
    l.heading("Links");
    for (label, url) in &card.links {
        l.labelled(label, url);
    }
    l
}

/// The card as a one-page A4 PDF.
pub fn render(card: &Card) -> Result<Vec<u8>, String> {
    let fonts = Fonts::load().ok_or("the embedded fonts cannot be read")?;
    let bottom = PAGE_H - MARGIN;
    let mut size = LARGEST;
    let mut layout = lay_out(card, &fonts, size);
    while layout.y > bottom && size > SMALLEST {
        size = (size - 0.25).max(SMALLEST);
        layout = lay_out(card, &fonts, size);
    }
    if layout.y > bottom {
        // Still too long at the smallest size: cut, and say where the rest is.
        let keep_until = bottom - size * 1.5;
        layout.ops.retain(|op| match op {
            Op::Text { y, .. } | Op::Rule { y } => y <= &keep_until,
        });
        layout.ops.push(Op::Text {
            x: MARGIN,
            y: bottom,
            face: Face::Bold,
            size,
            grey: false,
            text: "… the rest of this card is at /oncall".into(),
        });
    }
    draw(&layout, &fonts)
}

fn draw(layout: &Layout, fonts: &Fonts) -> Result<Vec<u8>, String> {
    let font = |f: Face| {
        Font::new(fonts.data[f as usize].into(), 0)
            .ok_or_else(|| "a font cannot be loaded".to_string())
    };
    let faces = [font(Face::Regular)?, font(Face::Bold)?, font(Face::Mono)?];
    let mut document = Document::new();
    document.set_metadata(
        krilla::metadata::Metadata::new()
            .title("On-call card".to_string())
            .creator("Firewatch".to_string()),
    );
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or("bad page size")?;
    let mut page = document.start_page_with(settings);
    let mut surface = page.surface();
    let fill = |g: u8| Fill {
        paint: rgb::Color::new(g, g, g).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    };
    for op in &layout.ops {
        match op {
            Op::Text {
                x,
                y,
                face,
                size,
                grey,
                text,
            } => {
                surface.set_fill(Some(fill(if *grey { 90 } else { 17 })));
                surface.draw_text(
                    Point::from_xy(*x, *y),
                    faces[*face as usize].clone(),
                    *size,
                    text,
                    false,
                    TextDirection::Auto,
                );
            }
            Op::Rule { y } => {
                surface.set_fill(Some(fill(200)));
                let mut pb = PathBuilder::new();
                if let Some(rect) = Rect::from_xywh(MARGIN, *y, PAGE_W - 2.0 * MARGIN, 0.6) {
                    pb.push_rect(rect);
                }
                if let Some(path) = pb.finish() {
                    surface.draw_path(&path);
                }
            }
        }
    }
    surface.finish();
    page.finish();
    document.finish().map_err(|e| format!("{e:?}"))
}
