//! Simple A4 PDF documents made in the binary (krilla): DejaVu fonts embedded (Latin and
//! Cyrillic), text measured with the fonts' advances and wrapped, rules, line charts,
//! and pages that break where the text reaches the bottom margin. The on-call card (one
//! page, set smaller until it fits) and the monthly report (many pages) are made with it.

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};

pub const PAGE_W: f32 = 595.0;
pub const PAGE_H: f32 = 842.0;
pub const MARGIN: f32 = 36.0;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Face {
    Regular,
    Bold,
    Mono,
}

pub struct Fonts {
    data: [&'static [u8]; 3],
    faces: [ttf_parser::Face<'static>; 3],
}

impl Fonts {
    pub fn load() -> Option<Fonts> {
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
    pub fn width(&self, f: Face, size: f32, text: &str) -> f32 {
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
pub enum Op {
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
    /// A polyline (a chart's series) of `width` points in grey `grey` (0 black).
    Line {
        points: Vec<(f32, f32)>,
        width: f32,
        grey: u8,
    },
}

pub struct Layout<'a> {
    pub fonts: &'a Fonts,
    pub size: f32,
    pub y: f32,
    pub ops: Vec<Op>,
    /// Full pages so far (with `paginate`); `ops` is the page being filled.
    pub pages: Vec<Vec<Op>>,
    /// Start a new page when a line would pass the bottom margin.
    pub paginate: bool,
}

/// The distance between baselines at `size`.
pub fn line_height(size: f32) -> f32 {
    size * 1.3
}

impl<'a> Layout<'a> {
    pub fn new(fonts: &'a Fonts, size: f32, paginate: bool) -> Self {
        Layout {
            fonts,
            size,
            y: MARGIN,
            ops: Vec::new(),
            pages: Vec::new(),
            paginate,
        }
    }

    /// Makes room for `height` more: a new page when it would pass the bottom margin.
    pub fn room(&mut self, height: f32) {
        if self.paginate && self.y + height > PAGE_H - MARGIN && !self.ops.is_empty() {
            self.pages.push(std::mem::take(&mut self.ops));
            self.y = MARGIN;
        }
    }

    /// Every page, the last one included.
    pub fn finish(mut self) -> Vec<Vec<Op>> {
        if !self.ops.is_empty() || self.pages.is_empty() {
            self.pages.push(std::mem::take(&mut self.ops));
        }
        self.pages
    }

    /// Words of `text` wrapped into lines no wider than `width`; a word wider than a line
    /// is broken by characters.
    pub fn wrap(&self, face: Face, size: f32, text: &str, width: f32) -> Vec<String> {
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
    pub fn para(&mut self, face: Face, size: f32, indent: f32, hang: f32, grey: bool, text: &str) {
        let width = PAGE_W - 2.0 * MARGIN - indent;
        let mut first = true;
        let lines = self.wrap(face, size, text, width - hang);
        for line in lines {
            self.room(line_height(size));
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
    pub fn labelled(&mut self, label: &str, text: &str) {
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
        self.room(line_height(s));
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
                self.room(line_height(s));
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
    pub fn note(&mut self, text: &str) {
        self.para(Face::Regular, self.size * 0.9, 0.0, 0.0, true, text);
    }

    pub fn heading(&mut self, text: &str) {
        let s = self.size * 1.2;
        // A heading is not left alone at the bottom of a page.
        self.room(s * 2.0 + line_height(self.size) * 3.0);
        self.y += s * 0.6;
        self.para(Face::Bold, s, 0.0, 0.0, false, text);
        self.y += s * 0.25;
        self.ops.push(Op::Rule { y: self.y });
    }
}

/// The pages as an A4 PDF titled `title`.
pub fn draw(pages: &[Vec<Op>], fonts: &Fonts, title: &str) -> Result<Vec<u8>, String> {
    let font = |f: Face| {
        Font::new(fonts.data[f as usize].into(), 0)
            .ok_or_else(|| "a font cannot be loaded".to_string())
    };
    let faces = [font(Face::Regular)?, font(Face::Bold)?, font(Face::Mono)?];
    let mut document = Document::new();
    document.set_metadata(
        krilla::metadata::Metadata::new()
            .title(title.to_string())
            .creator("Firewatch".to_string()),
    );
    let fill = |g: u8| Fill {
        paint: rgb::Color::new(g, g, g).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    };
    for ops in pages {
        let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or("bad page size")?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        for op in ops {
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
                Op::Line {
                    points,
                    width,
                    grey,
                } => {
                    let mut pb = PathBuilder::new();
                    for (i, (x, y)) in points.iter().enumerate() {
                        if i == 0 {
                            pb.move_to(*x, *y);
                        } else {
                            pb.line_to(*x, *y);
                        }
                    }
                    if let Some(path) = pb.finish() {
                        surface.set_fill(None);
                        surface.set_stroke(Some(Stroke {
                            paint: rgb::Color::new(*grey, *grey, *grey).into(),
                            width: *width,
                            ..Default::default()
                        }));
                        surface.draw_path(&path);
                        surface.set_stroke(None);
                    }
                }
            }
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| format!("{e:?}"))
}
