//! Mastodon HTML to plain text, in time linear in the markup however deep it nests.
//!
//! A status's `content` is HTML written by whichever server sent it. `html2text` (html5ever's
//! tree builder, then a renderer) turns it into text well, but its time grows with the square of
//! the nesting depth: html5ever looks through the open elements for many tags, so 40,000 nested
//! `<ul><li>` (550 kB) took 18 s and 100,000 nested `<div>` 29 s, and one such status stalls a
//! collection. People never nest that deep; only an attacker or a broken server does.
//!
//! So before html2text sees the markup, [`bound_depth`] walks it once and drops the tags that
//! would open elements more than [`MAX_DEPTH`] deep, with their matching end tags, and keeps
//! everything between them: the text stays whole and in order, only its layout below that depth
//! flattens (a dropped tag that breaks a line, like `<p>` or `<li>`, becomes a line break, so
//! that words do not run together). Markup that never goes that deep reaches html2text byte for
//! byte as before, so ordinary posts read exactly as they did.
//!
//! The walk is a loop over the bytes with a bounded stack of open element names, never a
//! recursion, so no markup can exhaust the call stack either.

use std::borrow::Cow;

/// How deep elements may nest in what html2text is given. Mastodon's own markup nests a few
/// levels (a list in a quote in a paragraph); a hundred leaves room for any post a person wrote
/// and keeps html5ever's work per tag small.
pub const MAX_DEPTH: usize = 100;

/// How many elements html2text may be given at most, whatever the depth: a second bound, in case
/// markup ever makes html5ever nest deeper than the model in [`bound_depth`] counts. A long post
/// has a few hundred; past this many, tags are dropped as above.
pub const MAX_ELEMENTS: usize = 5_000;

/// Mastodon HTML → plain text: paragraphs separated by a blank line, `<br>` as a line break,
/// links as the text they show, entities decoded.
pub fn html_to_text(html: &str) -> String {
    if !html.contains(['<', '&']) {
        return html.trim().to_string();
    }
    let html = bound_depth(html);
    let config = html2text::config::with_decorator(html2text::render::TrivialDecorator::new())
        .link_footnotes(false)
        .no_link_wrapping()
        .allow_width_overflow();
    // Wider than any line of the text can be (the text is never longer than its HTML), so
    // html2text never wraps or splits what the author wrote.
    match config.string_from_read(html.as_bytes(), html.len().max(80)) {
        Ok(text) => text.trim_end().to_string(),
        // html2text only fails on pathological markup; fall back to the raw markup rather than
        // lose the post.
        Err(_) => html.into_owned(),
    }
}

/// `html` without the tags that would nest elements deeper than [`MAX_DEPTH`] (or open more
/// than [`MAX_ELEMENTS`]), their text kept; `html` itself, borrowed, when nothing is dropped.
///
/// The walk follows the HTML tokenizer closely where it must (quoted attribute values, comments,
/// the raw text of `<script>`, `<style>`, `<textarea>` and their kin, in which `<` opens no tag)
/// and models the tree builder roughly: an element is open from its start tag until an end tag
/// that surely closes it. The model errs one way only: it may think elements open that
/// html5ever has closed (and then drop tags a little early), never the other way, because that
/// would let markup nest deeper than the bound. Where the markup leaves the tokenizer's state in
/// doubt (a CDATA section, SVG or MathML, a comment inside a script), end tags stop closing
/// anything for the rest of the post.
pub fn bound_depth(html: &str) -> Cow<'_, str> {
    let b = html.as_bytes();
    let mut walk = Walk {
        html,
        out: None,
        copied: 0,
        open: Vec::new(),
        excess: 0,
        elements: 0,
        trusted: true,
    };
    let mut i = 0;
    while let Some(at) = memchr::memchr(b'<', &b[i..]) {
        let lt = i + at;
        i = lt + 1;
        match b.get(lt + 1) {
            Some(c) if c.is_ascii_alphabetic() => {
                let (name, end) = tag(b, lt + 1);
                i = end;
                walk.start(name, lt, end);
                if let Some(rest) = walk.raw_text(name, end) {
                    i = rest;
                }
            }
            Some(b'/') => match b.get(lt + 2) {
                Some(c) if c.is_ascii_alphabetic() => {
                    let (name, end) = tag(b, lt + 2);
                    i = end;
                    walk.end(name, lt, end);
                }
                // `</>` is nothing; `</` and anything else, a bogus comment up to `>`.
                Some(_) => i = after(b, lt + 2, b">"),
                None => {}
            },
            Some(b'!') if b[lt..].starts_with(b"<!--") => i = comment_end(b, lt + 4),
            Some(b'!') => {
                // In HTML a CDATA section is a bogus comment up to `>`; in SVG it runs to `]]>`.
                // Which one html5ever sees depends on where it is: stop trusting end tags.
                if b[lt + 2..].starts_with(b"[CDATA[") {
                    walk.trusted = false;
                }
                i = after(b, lt + 2, b">");
            }
            Some(b'?') => i = after(b, lt + 2, b">"),
            // A `<` that opens nothing is text.
            _ => {}
        }
    }
    walk.finish()
}

/// The state of [`bound_depth`]'s walk.
struct Walk<'a> {
    html: &'a str,
    /// The markup kept so far, once a tag has been dropped; until then nothing is copied.
    out: Option<String>,
    /// `html[copied..]` is not in `out` yet.
    copied: usize,
    /// The elements open in what html2text is given, innermost last; never more than MAX_DEPTH.
    open: Vec<&'a str>,
    /// Elements opened by dropped tags and not closed yet: while there are any, every tag is dropped.
    excess: usize,
    /// Elements given to html2text so far.
    elements: usize,
    /// Whether end tags may close elements in the model (see `bound_depth`).
    trusted: bool,
}

impl<'a> Walk<'a> {
    fn start(&mut self, name: &'a str, from: usize, to: usize) {
        if is_void(name) {
            return;
        }
        if is(name, &["svg", "math"]) {
            self.trusted = false;
        }
        // A new paragraph, list item or block closes an open paragraph or item at the top,
        // as html5ever does: keeps unclosed `<p>` and `<li>`, which people write, from piling up.
        if self.excess == 0 && self.trusted {
            if let Some(&top) = self.open.last() {
                let closes = (is(top, &["p"]) && closes_p(name))
                    || (is(top, &["li"]) && is(name, &["li"]))
                    || (is(top, &["dd", "dt"]) && is(name, &["dd", "dt"]))
                    || (is(top, &["option"]) && is(name, &["option"]));
                if closes {
                    self.open.pop();
                }
            }
        }
        if self.excess == 0 && self.open.len() < MAX_DEPTH && self.elements < MAX_ELEMENTS {
            self.open.push(name);
            self.elements += 1;
        } else {
            self.excess += 1;
            self.drop_tag(name, from, to);
        }
    }

    fn end(&mut self, name: &str, from: usize, to: usize) {
        if self.excess > 0 {
            self.excess -= 1;
            self.drop_tag(name, from, to);
            return;
        }
        let top = self.open.last().is_some_and(|t| is(t, &[name]));
        if !self.trusted || (is_formatting(name) && !top) {
            // A formatting element (`</b>`) is closed by html5ever's adoption agency, which may
            // keep the depth as it was: only one at the top surely closes.
            return;
        }
        // `</x>` closes `x` when it is open and only elements that html5ever closes on their
        // own (`p`, `li`, ...) are open inside it; else the model leaves it open.
        if let Some(k) = self.open.iter().rposition(|t| is(t, &[name])) {
            if self.open[k + 1..].iter().all(|t| closes_implicitly(t)) {
                self.open.truncate(k);
            }
        }
    }

    /// After the start tag of an element whose content is raw text (`<script>`, `<style>`, …),
    /// where the content ends: no tag opens inside it. `None` for other elements, or when the
    /// tag was dropped (then html5ever never sees the element and reads its content as markup).
    fn raw_text(&mut self, name: &str, from: usize) -> Option<usize> {
        let raw = is(
            name,
            &[
                "script",
                "style",
                "xmp",
                "iframe",
                "noembed",
                "noframes",
                "noscript",
                "textarea",
                "title",
                "plaintext",
            ],
        );
        if !raw || self.excess > 0 || !self.trusted {
            return None;
        }
        let b = self.html.as_bytes();
        if is(name, &["plaintext"]) {
            return Some(b.len());
        }
        let mut i = from;
        while let Some(at) = memchr::memchr(b'<', &b[i..]) {
            let lt = i + at;
            i = lt + 1;
            let close = b[lt + 1..].starts_with(b"/")
                && b.len() >= lt + 2 + name.len()
                && b[lt + 2..lt + 2 + name.len()].eq_ignore_ascii_case(name.as_bytes())
                && b.get(lt + 2 + name.len()).is_none_or(|c| {
                    matches!(c, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ' | b'/' | b'>')
                });
            if close {
                // Inside a script, `<!--` starts escapes in which `</script>` may not end it.
                if is(name, &["script"]) && memchr::memmem::find(&b[from..lt], b"<!--").is_some() {
                    self.trusted = false;
                }
                self.open.pop();
                return Some(tag(b, lt + 2).1);
            }
        }
        Some(b.len())
    }

    /// Leave the tag at `from..to` out, with a line break for a tag that breaks lines.
    fn drop_tag(&mut self, name: &str, from: usize, to: usize) {
        let out = self
            .out
            .get_or_insert_with(|| String::with_capacity(self.html.len()));
        out.push_str(&self.html[self.copied..from]);
        if breaks_line(name) {
            out.push('\n');
        }
        self.copied = to;
    }

    fn finish(self) -> Cow<'a, str> {
        match self.out {
            None => Cow::Borrowed(self.html),
            Some(mut out) => {
                out.push_str(&self.html[self.copied..]);
                Cow::Owned(out)
            }
        }
    }
}

/// The tag whose name starts at `at`: its name, and where the tag ends (after its `>`, or the
/// end of the input). Attribute values in quotes may hold `>`; elsewhere `>` ends the tag, as in
/// the HTML tokenizer, which this follows state by state.
fn tag(b: &[u8], at: usize) -> (&str, usize) {
    let space = |c: u8| matches!(c, b'\t' | b'\n' | b'\x0C' | b'\r' | b' ');
    let mut i = at;
    while i < b.len() && !space(b[i]) && b[i] != b'/' && b[i] != b'>' {
        i += 1;
    }
    // Only ASCII bytes end a name, so this is a whole number of characters.
    let name = std::str::from_utf8(&b[at..i]).unwrap_or("");
    loop {
        // Before an attribute name (white space and `/` are passed over).
        while i < b.len() && (space(b[i]) || b[i] == b'/') {
            i += 1;
        }
        match b.get(i) {
            None => return (name, b.len()),
            Some(b'>') => return (name, i + 1),
            Some(_) => {}
        }
        // The name: a first `=` belongs to it.
        i += 1;
        while i < b.len() && !space(b[i]) && !matches!(b[i], b'/' | b'>' | b'=') {
            i += 1;
        }
        while i < b.len() && space(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while i < b.len() && space(b[i]) {
            i += 1;
        }
        match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => i = after(b, i + 1, &[q]),
            // `<a href=>`: no value, the tag ends here.
            Some(b'>') => return (name, i + 1),
            _ => {
                while i < b.len() && !space(b[i]) && b[i] != b'>' {
                    i += 1;
                }
            }
        }
    }
}

/// Where a comment whose text starts at `at` ends: after the first `-->` or `--!>`, or at once
/// for `<!-->` and `<!--->`, or at the end of the input, as the HTML tokenizer ends it.
fn comment_end(b: &[u8], at: usize) -> usize {
    let rest = &b[at.min(b.len())..];
    if rest.starts_with(b">") {
        return at + 1;
    }
    if rest.starts_with(b"->") {
        return at + 2;
    }
    let ends = [
        memchr::memmem::find(rest, b"-->").map(|i| i + 3),
        memchr::memmem::find(rest, b"--!>").map(|i| i + 4),
    ];
    ends.into_iter().flatten().min().map_or(b.len(), |e| at + e)
}

/// After the first `end` at or past `at`, or the end of the input.
fn after(b: &[u8], at: usize, end: &[u8]) -> usize {
    let at = at.min(b.len());
    memchr::memmem::find(&b[at..], end).map_or(b.len(), |i| at + i + end.len())
}

fn is(name: &str, names: &[&str]) -> bool {
    names.iter().any(|n| name.eq_ignore_ascii_case(n))
}

/// Elements that never have content or an end tag.
fn is_void(name: &str) -> bool {
    is(
        name,
        &[
            "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image",
            "img", "input", "keygen", "link", "meta", "param", "source", "track", "wbr",
        ],
    )
}

/// Elements whose end tag goes through html5ever's adoption agency.
fn is_formatting(name: &str) -> bool {
    is(
        name,
        &[
            "a", "b", "big", "code", "em", "font", "i", "nobr", "s", "small", "strike", "strong",
            "tt", "u",
        ],
    )
}

/// Elements html5ever closes by itself when an end tag of an element around them comes.
fn closes_implicitly(name: &str) -> bool {
    is(
        name,
        &[
            "dd", "dt", "li", "optgroup", "option", "p", "rb", "rp", "rt", "rtc",
        ],
    )
}

/// Start tags that close an open `<p>` in html5ever.
fn closes_p(name: &str) -> bool {
    is(
        name,
        &[
            "address",
            "article",
            "aside",
            "blockquote",
            "center",
            "details",
            "dialog",
            "dir",
            "div",
            "dl",
            "fieldset",
            "figcaption",
            "figure",
            "footer",
            "header",
            "hgroup",
            "main",
            "menu",
            "nav",
            "ol",
            "p",
            "section",
            "summary",
            "ul",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "pre",
            "listing",
        ],
    )
}

/// Tags that break a line in the text, which a dropped one must still do.
fn breaks_line(name: &str) -> bool {
    closes_p(name)
        || is(
            name,
            &[
                "br", "hr", "li", "dd", "dt", "table", "tr", "td", "th", "caption", "tbody",
                "thead", "tfoot", "form",
            ],
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ordinary Mastodon markup is handed on untouched, and reads as it always did.
    #[test]
    fn markup_of_normal_depth_is_not_changed() {
        let html = "<p>First &amp; <em>best</em> <span class=\"h-card\"><a href=\"https://home.example/@bob\" class=\"u-url mention\">@<span>bob</span></a></span></p>\
            <p>Second line<br>third: <a href=\"https://example.com/a/very/long/path\" title='x > y'><span class=\"invisible\">https://</span><span class=\"ellipsis\">example.com/a/very</span><span class=\"invisible\">/long/path</span></a></p>\
            <blockquote><ul><li>one</li><li>two<ol><li>three</li></ol></li></ul></blockquote><!-- a <div> in a comment --><pre>a  b\n c</pre>";
        assert!(matches!(bound_depth(html), Cow::Borrowed(_)));
        let mut deep = String::new();
        for _ in 0..MAX_DEPTH {
            deep.push_str("<div>");
        }
        deep.push('x');
        assert!(
            matches!(bound_depth(&deep), Cow::Borrowed(_)),
            "exactly at the bound"
        );
        assert_eq!(
            html_to_text("<p>First &amp; <em>best</em> <a href=\"https://e.example/x\">the link text</a></p><p>Second line<br>third</p>"),
            "First & best the link text\n\nSecond line\nthird"
        );
    }

    #[test]
    fn tags_past_the_bound_are_dropped_with_their_text_kept() {
        let depth = MAX_DEPTH + 50;
        let html = format!(
            "{}leaf{}<p>after</p>",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        let bounded = bound_depth(&html);
        assert_eq!(bounded.matches("<div>").count(), MAX_DEPTH);
        assert_eq!(bounded.matches("</div>").count(), MAX_DEPTH);
        assert!(
            bounded.ends_with("<p>after</p>"),
            "the end tags dropped are the excess ones"
        );
        let text = html_to_text(&html);
        assert!(
            text.starts_with("leaf") && text.ends_with("after"),
            "{text:?}"
        );
    }

    /// Words in dropped block elements do not run together.
    #[test]
    fn dropped_blocks_still_separate_words() {
        let mut html = "<div>".repeat(MAX_DEPTH);
        for i in 0..10 {
            html.push_str(&format!("<p>w{i}</p>"));
        }
        let text = html_to_text(&html);
        let words: Vec<&str> = text.split_whitespace().collect();
        let want: Vec<String> = (0..10).map(|i| format!("w{i}")).collect();
        assert_eq!(words, want);
    }

    /// What opens no tag opens no element: quoted `>`, comments and the raw text of a script.
    #[test]
    fn only_real_tags_count() {
        let inner = format!(
            "<span title=\"a > b <div>\">x</span><!-- {} --><script>{}</script><textarea>{}</textarea>",
            "<div>".repeat(200),
            "<div>".repeat(200),
            "<div>".repeat(200)
        );
        assert!(matches!(bound_depth(&inner), Cow::Borrowed(_)));
        // End tags inside raw text close nothing: the divs around stay counted.
        let sneaky = "<div><script></div></script>".repeat(MAX_DEPTH + 10);
        let bounded = bound_depth(&sneaky);
        assert_eq!(bounded.matches("<div>").count(), MAX_DEPTH, "{bounded}");
    }

    /// Unclosed paragraphs and list items, which people write, do not pile up.
    #[test]
    fn unclosed_paragraphs_and_items_close_as_in_html() {
        let html = format!(
            "{}<ul>{}</ul>",
            "<p>para".repeat(500),
            "<li>item".repeat(500)
        );
        assert!(matches!(bound_depth(&html), Cow::Borrowed(_)));
    }

    /// A million nested tags: nothing recurses, so this runs on a small stack.
    #[test]
    fn a_million_nested_tags_need_no_stack() {
        let depth = 1_000_000;
        let html = format!(
            "{}deep{}",
            "<div><i>".repeat(depth / 2),
            "</i></div>".repeat(depth / 2)
        );
        let text = std::thread::Builder::new()
            .stack_size(1 << 20)
            .spawn(move || html_to_text(&html))
            .unwrap()
            .join()
            .expect("no stack overflow");
        assert_eq!(text.split_whitespace().collect::<Vec<_>>(), ["deep"]);
    }
}
