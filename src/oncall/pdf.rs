//! The on-call card as a one-page A4 PDF (see `crate::pdf`): when the card does not fit
//! it is set smaller, and at the smallest size what still does not fit is cut with a
//! pointer to `/oncall` — it is always exactly one page.

use super::card::{Card, person};
use crate::pdf::{Face, Fonts, Layout, MARGIN, Op, PAGE_H};

const LARGEST: f32 = 9.5;
const SMALLEST: f32 = 5.5;

fn lay_out<'a>(card: &Card, fonts: &'a Fonts, size: f32) -> Layout<'a> {
    let mut l = Layout::new(fonts, size, false);
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
            Op::Line { points, .. } => points.iter().all(|(_, y)| y <= &keep_until),
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
    crate::pdf::draw(&layout.finish(), &fonts, "On-call card")
}
