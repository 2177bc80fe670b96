//! Markdown rendering: whatever the text, the HTML carries only the tags CommonMark makes,
//! and every link or image points somewhere safe (http, https, mailto or relative), as a
//! browser would read it.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Tags pulldown-cmark writes for CommonMark with tables and strikethrough.
const TAGS: &[&str] = &[
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "code", "ul", "ol", "li",
    "em", "strong", "del", "a", "img", "hr", "br", "table", "thead", "tbody", "tr", "th", "td",
    "input",
];

/// The attribute value as a browser resolves its scheme: entities decoded, ASCII tabs and
/// newlines removed, leading spaces and controls trimmed, lower case.
fn as_browser_reads(value: &str) -> String {
    value
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect::<String>()
        .trim_start_matches(|c: char| c <= ' ')
        .to_ascii_lowercase()
}

fn scheme_is_safe(url: &str) -> bool {
    match url.find([':', '/', '?', '#']) {
        Some(i) if url[i..].starts_with(':') => {
            matches!(&url[..i], "http" | "https" | "mailto")
        }
        _ => true,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let html = firewatch::markdown::to_html(text);
    // Text escapes `<`, so every `<` opens a tag of the renderer's.
    for (i, _) in html.match_indices('<') {
        let rest = &html[i + 1..];
        let tag = &rest[..rest.find('>').expect("a tag closes")];
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect();
        assert!(TAGS.contains(&name.as_str()), "tag {name:?} from {text:?} -> {html}");
        for attr in [" href=\"", " src=\""] {
            if let Some(at) = tag.find(attr) {
                let value = &tag[at + attr.len()..];
                let value = &value[..value.find('"').expect("a quoted value")];
                assert!(
                    scheme_is_safe(&as_browser_reads(value)),
                    "{attr}{value} from {text:?}"
                );
            }
        }
    }
});
