//! Annotations that differ by more than the alerts' labels: a description naming the
//! pod and the value that fired it ("… on pod \0pod\0. Current value is 37. Check …").
//! The text before and after the part that differs is shared as a template around it,
//! and each alert keeps only its own middle ("37."). The cut is moved to the edge of
//! the word or number it falls in, so that the next notification of the same alert
//! rule, with other values, finds the same template.

use super::{Map, fill};

/// Shared text worth a template around the alerts' own parts (bytes, before and after).
const MIN_SHARED: usize = 16;

/// Characters of a word or a number: a cut never falls between two of them.
fn is_word(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '.' | ',' | '_' | '-' | '+')
}

/// The pieces of a template with where each starts: literal text at even places, label
/// names at odd ones (between the NULs).
fn pieces(template: &str) -> Vec<(usize, &str)> {
    let mut at = 0;
    template
        .split('\0')
        .map(|p| {
            let piece = (at, p);
            at += p.len() + 1;
            piece
        })
        .collect()
}

/// Bytes `a` and `b` share at their start, cut to a character boundary.
fn common_prefix(a: &str, b: &str) -> usize {
    let n = a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count();
    (0..=n).rev().find(|&i| a.is_char_boundary(i)).unwrap_or(0)
}

/// Bytes `a` and `b` share at their end, cut to a character boundary.
fn common_suffix(a: &str, b: &str) -> usize {
    let n = a
        .bytes()
        .rev()
        .zip(b.bytes().rev())
        .take_while(|(x, y)| x == y)
        .count();
    (0..=n)
        .rev()
        .find(|&i| a.is_char_boundary(a.len() - i))
        .unwrap_or(0)
}

/// How much of the template (a byte offset into it, never inside a label's name), filled
/// with `labels`, `value` starts with.
fn prefix_in(template: &[(usize, &str)], labels: &Map, value: &str) -> usize {
    let mut rest = value;
    for (i, (at, piece)) in template.iter().enumerate() {
        if i % 2 == 0 {
            let n = common_prefix(piece, rest);
            if n < piece.len() {
                return at + n;
            }
            rest = &rest[n..];
        } else {
            match labels.get(*piece) {
                Some(v) if rest.starts_with(v.as_str()) => rest = &rest[v.len()..],
                _ => return at - 1,
            }
        }
    }
    template.last().map_or(0, |(at, p)| at + p.len())
}

/// Where the part of the template that `value` ends with (filled with `labels`) starts:
/// a byte offset into it, never inside a label's name.
fn suffix_in(template: &[(usize, &str)], labels: &Map, value: &str) -> usize {
    let mut rest = value;
    for (i, (at, piece)) in template.iter().enumerate().rev() {
        if i % 2 == 0 {
            let n = common_suffix(piece, rest);
            if n < piece.len() {
                return at + piece.len() - n;
            }
            rest = &rest[..rest.len() - n];
        } else {
            match labels.get(*piece) {
                Some(v) if rest.ends_with(v.as_str()) => rest = &rest[..rest.len() - v.len()],
                _ => return at + piece.len() + 1,
            }
        }
    }
    0
}

/// A template around the alerts' own parts: the text before and after (templates with
/// `\0label\0`), and each alert's part as a byte range of its value. `template` is the
/// first alert's value with its own labels' values made placeholders (it fills back to
/// that value); `alerts` are every alert's labels and value, the first included. None
/// when they share too little.
pub fn around(
    template: &str,
    alerts: &[(&Map, &str)],
) -> Option<(String, String, Vec<std::ops::Range<usize>>)> {
    let t = pieces(template);
    let mut start = template.len();
    let mut end = 0;
    for (labels, value) in alerts {
        start = start.min(prefix_in(&t, labels, value));
        end = end.max(suffix_in(&t, labels, value));
    }
    // Cut at the edges of words and numbers (a NUL, never a word character, stops both).
    while let Some(c) = template[..start]
        .chars()
        .next_back()
        .filter(|c| is_word(*c))
    {
        start -= c.len_utf8();
    }
    while let Some(c) = template[end..].chars().next().filter(|c| is_word(*c)) {
        end += c.len_utf8();
    }
    let (before, after) = (&template[..start], &template[end.max(start)..]);
    if before.len() + after.len() < MIN_SHARED {
        return None;
    }
    let mut own = Vec::with_capacity(alerts.len());
    for (labels, value) in alerts {
        let (b, a) = (fill(before, *labels)?, fill(after, *labels)?);
        if b.len() + a.len() > value.len() || !value.starts_with(&b) || !value.ends_with(&a) {
            return None;
        }
        own.push(b.len()..value.len() - a.len());
    }
    Some((before.to_string(), after.to_string(), own))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pod: &str) -> Map {
        Map::from([("pod".to_string(), pod.to_string())])
    }

    #[test]
    fn the_value_that_differs_is_cut_out_whole() {
        let t = "Pod \0pod\0 is at 37.5 % of its limit; see the dashboard";
        let (a, b) = (labels("api-1"), labels("api-22"));
        let values = [
            "Pod api-1 is at 37.5 % of its limit; see the dashboard",
            "Pod api-22 is at 38 % of its limit; see the dashboard",
        ];
        let (before, after, own) = around(t, &[(&a, values[0]), (&b, values[1])]).unwrap();
        assert_eq!(before, "Pod \0pod\0 is at ");
        assert_eq!(after, " % of its limit; see the dashboard");
        assert_eq!(&values[0][own[0].clone()], "37.5");
        assert_eq!(&values[1][own[1].clone()], "38");
    }

    #[test]
    fn too_little_in_common_gives_none() {
        let (a, b) = (labels("x"), labels("y"));
        assert!(around("value 1", &[(&a, "value 1"), (&b, "value 2")]).is_none());
    }

    #[test]
    fn a_label_one_alert_lacks_stays_in_the_alerts_own_part() {
        let t = "Pod \0pod\0 is down; value 1, check the pod";
        let (a, none) = (labels("x"), Map::new());
        let values = [
            "Pod x is down; value 1, check the pod",
            "Pod y is down; value 2, check the pod",
        ];
        let (before, after, own) = around(t, &[(&a, values[0]), (&none, values[1])]).unwrap();
        assert_eq!(
            (before.as_str(), after.as_str()),
            ("Pod ", " check the pod")
        );
        assert_eq!(&values[1][own[1].clone()], "y is down; value 2,");
    }

    #[test]
    fn overlapping_matches_keep_each_alert_whole() {
        // The second value repeats the first: what both start and end with overlaps.
        let a = Map::new();
        let one = "abcabcabcabcabcabc";
        let two = "abcabcabcabcabcabcabcabcabcabcabcabc";
        if let Some((before, after, own)) = around(one, &[(&a, one), (&a, two)]) {
            for (v, r) in [one, two].iter().zip(own) {
                assert_eq!(format!("{before}{}{after}", &v[r]), *v);
            }
        }
    }
}
