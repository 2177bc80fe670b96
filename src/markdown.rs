//! Markdown to HTML for text people write (runbooks; post-mortems and notes later): raw
//! HTML is shown as text, never passed through, and links and images keep only safe
//! destinations, so rendered Markdown can go into a page as it is.

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, html};

/// Whether a link destination is safe to put in a page: http(s), mailto, or a relative or
/// in-page reference. `javascript:`, `data:` and every other scheme are not.
fn safe_destination(url: &str) -> bool {
    let trimmed = url.trim_start();
    let scheme_end = trimmed.find([':', '/', '?', '#']);
    match scheme_end {
        Some(i) if trimmed[i..].starts_with(':') => {
            let scheme = trimmed[..i].to_ascii_lowercase();
            matches!(scheme.as_str(), "http" | "https" | "mailto")
        }
        _ => true,
    }
}

/// Renders `text` (CommonMark with tables and strikethrough) to HTML.
pub fn to_html(text: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let parser = Parser::new_ext(text, options).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_destination(&dest_url) => Event::Start(Tag::Link {
            link_type,
            dest_url: CowStr::Borrowed("#"),
            title,
            id,
        }),
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) if !safe_destination(&dest_url) => Event::Start(Tag::Image {
            link_type,
            dest_url: CowStr::Borrowed(""),
            title,
            id,
        }),
        other => other,
    });
    let mut out = String::with_capacity(text.len() * 2);
    html::push_html(&mut out, parser);
    // Code blocks may scroll sideways: focusable, so the keyboard can scroll them. Every
    // `<` of the text is escaped, so each `<pre>` is the renderer's own.
    out.replace("<pre>", "<pre tabindex=\"0\">")
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn raw_html_is_text_and_unsafe_links_go_nowhere() {
        let html = to_html(
            "<script>alert(1)</script>\n\n[a](javascript:alert(1)) [b](JaVaScRiPt:x) \
             [c](https://example.com/x?y=1) [d](/runbooks/x) [e](#top) \
             ![i](data:image/png;base64,AAAA) ![j](/static/x.png) <img src=x onerror=alert(1)>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img src=x"), "{html}");
        assert!(!html.to_lowercase().contains("javascript:"), "{html}");
        assert!(!html.contains("src=\"data:"), "{html}");
        assert!(
            html.contains(r#"<img src="/static/x.png" alt="j" />"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<a href="https://example.com/x?y=1">c</a>"#),
            "{html}"
        );
        assert!(html.contains(r#"<a href="/runbooks/x">d</a>"#), "{html}");
        assert!(html.contains(r##"<a href="#top">e</a>"##), "{html}");
    }

    #[test]
    fn code_blocks_can_be_scrolled_from_the_keyboard_and_raw_pre_stays_text() {
        let html = to_html("```\nkubectl get pods\n```\n\n<pre>x</pre>");
        assert!(
            html.starts_with("<pre tabindex=\"0\"><code>kubectl"),
            "{html}"
        );
        assert!(html.contains("&lt;pre&gt;x&lt;/pre&gt;"), "{html}");
    }

    #[test]
    fn tables_render() {
        let html = to_html("| a | b |\n|---|---|\n| 1 | 2 |\n");
        assert!(
            html.contains("<table>") && html.contains("<td>2</td>"),
            "{html}"
        );
    }
}
