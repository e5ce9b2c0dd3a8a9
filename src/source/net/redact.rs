//! Keeping the researcher's secrets out of what servers send back.
//!
//! A server, or a proxy in front of it, may echo the request it received: its headers in an
//! error page, in a JSON "debug" field, even in a `Link` or a post. Whatever it echoes would be
//! printed (errors quote the start of a body), stored (raw posts, API pages, cursors) or both,
//! and our `Authorization: Bearer <token>` is among it. So every body and header value is
//! passed through a [`Redactor`] where it enters (`net::Http::get`), before anything reads it,
//! and every secret the client holds is replaced by `[redacted]` there.
//!
//! An echo does not always show the secret as it was sent: JSON escapes it (`\/`, `\u0041`),
//! a URL or form percent-encodes it, HTML uses character references (`&#x2F;`, `&amp;`), and
//! the echo may itself be escaped again (a percent-encoded header inside a JSON string). The
//! text is therefore searched as written and after undoing these escapes once and twice, each
//! decoded byte remembering the span of the text it came from, so that the span is what gets
//! replaced. A secret that is itself percent-encoded (Twitter's bearer tokens carry `%2B`,
//! `%3D`) is also searched in its decoded form. The search runs on the whole text, before any
//! quote is cut from it, so a secret across the cut is found too.
//!
//! For messages (the quote of an error body) more is removed: anything that looks like a
//! credential in an echoed header (`Bearer xxx`, `Authorization: ...`, `Cookie: ...`), whoever
//! it belongs to (a proxy's own credentials, say). That is not done to 200 bodies, which hold
//! posts whose text may well say "Authorization: pending": those lose only the secrets.
//!
//! Not covered: a server that deliberately disguises a secret it was sent (base64, reversed),
//! which no search can undo; and secrets in bodies over 4 GiB, which are searched as written
//! only.

use memchr::memmem;
use reqwest::header::{HeaderMap, HeaderValue};
use std::borrow::Cow;

/// What a secret is replaced with: valid inside JSON strings, URLs and HTML alike.
pub const REDACTED: &str = "[redacted]";

/// The secrets a client holds, and how to find them in what comes back.
#[derive(Clone, Default)]
pub struct Redactor {
    /// Each secret as written, and decoded once and twice when that differs.
    needles: Vec<Vec<u8>>,
}

/// Never shows the secrets (a `{:?}` of a struct that holds a redactor is safe to print).
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Redactor({} forms of secrets)", self.needles.len())
    }
}

impl Redactor {
    /// A redactor for these secrets (empty ones are ignored).
    pub fn new<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Redactor {
        let mut needles: Vec<Vec<u8>> = Vec::new();
        for s in secrets {
            let s = s.as_ref().as_bytes();
            if s.is_empty() {
                continue;
            }
            let once = decode(s, &identity(s.len())).bytes;
            let twice = decode(&once, &identity(once.len())).bytes;
            for form in [s.to_vec(), once, twice] {
                if !form.is_empty() && !needles.contains(&form) {
                    needles.push(form);
                }
            }
        }
        Redactor { needles }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// `text` with every secret, in any of the forms described above, replaced by
    /// [`REDACTED`]. Borrows when there is nothing to replace.
    pub fn secrets<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.needles.is_empty() {
            return Cow::Borrowed(text);
        }
        let bytes = text.as_bytes();
        let mut spans: Vec<(usize, usize)> = Vec::new();
        for n in &self.needles {
            spans.extend(find_all(bytes, n).map(|s| (s, s + n.len())));
        }
        let escaped = memchr::memchr3(b'\\', b'%', b'&', bytes).is_some();
        if escaped && bytes.len() < u32::MAX as usize {
            let once = decode(bytes, &identity(bytes.len()));
            once.find(&self.needles, &mut spans);
            if once.changed {
                let twice = decode(&once.bytes, &once.spans);
                twice.find(&self.needles, &mut spans);
            }
        }
        if spans.is_empty() {
            return Cow::Borrowed(text);
        }
        Cow::Owned(replace(text, spans))
    }

    /// For a message: the secrets, then every credential an echoed header shows.
    pub fn message(&self, text: &str) -> String {
        credentials(&self.secrets(text))
    }

    /// Header values with the secrets replaced (a `Link` may carry one back).
    pub fn headers(&self, headers: HeaderMap) -> HeaderMap {
        if self.needles.is_empty() {
            return headers;
        }
        let mut out = HeaderMap::with_capacity(headers.len());
        let mut last = None;
        for (name, value) in headers {
            // `None` names continue the previous name (a repeated header).
            let name = match name {
                Some(n) => {
                    last = Some(n.clone());
                    n
                }
                None => last.clone().expect("a header map starts with a name"),
            };
            let text = String::from_utf8_lossy(value.as_bytes());
            let value = match self.secrets(&text) {
                Cow::Borrowed(_) => value,
                Cow::Owned(clean) => HeaderValue::from_str(&clean)
                    .unwrap_or_else(|_| HeaderValue::from_static(REDACTED)),
            };
            out.append(name, value);
        }
        out
    }
}

/// A text's bytes after undoing one level of escapes, each byte with the span of the
/// original text it stands for.
struct Layer {
    bytes: Vec<u8>,
    spans: Vec<(u32, u32)>,
    /// Some escape was undone (else decoding again gives the same).
    changed: bool,
}

impl Layer {
    fn find(&self, needles: &[Vec<u8>], spans: &mut Vec<(usize, usize)>) {
        for n in needles {
            for s in find_all(&self.bytes, n) {
                let start = self.spans[s].0 as usize;
                let end = self.spans[s + n.len() - 1].1 as usize;
                spans.push((start, end));
            }
        }
    }
}

/// Every start of `needle` in `hay`, overlapping ones too (`abab` in `ababab` twice): a
/// secret that overlaps another occurrence must not leave its tail behind.
fn find_all<'a>(hay: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let finder = memmem::Finder::new(needle);
    let mut from = 0;
    std::iter::from_fn(move || {
        let at = from + finder.find(hay.get(from..)?)?;
        from = at + 1;
        Some(at)
    })
}

fn identity(len: usize) -> Vec<(u32, u32)> {
    (0..len as u32).map(|i| (i, i + 1)).collect()
}

fn hex(b: u8) -> Option<u32> {
    (b as char).to_digit(16)
}

fn hex_at(bytes: &[u8], at: usize, n: usize) -> Option<u32> {
    let digits = bytes.get(at..at + n)?;
    digits
        .iter()
        .try_fold(0u32, |acc, &b| acc.checked_mul(16)?.checked_add(hex(b)?))
}

/// The HTML character references an echo uses for the characters of tokens and headers.
fn named_entity(name: &[u8]) -> Option<char> {
    Some(match name {
        b"amp" => '&',
        b"lt" => '<',
        b"gt" => '>',
        b"quot" => '"',
        b"apos" => '\'',
        b"sol" => '/',
        b"plus" => '+',
        b"equals" => '=',
        b"percnt" => '%',
        b"colon" => ':',
        b"bsol" => '\\',
        b"lowbar" => '_',
        b"period" => '.',
        b"hyphen" | b"dash" => '-',
        b"tilde" => '~',
        b"nbsp" => ' ',
        _ => return None,
    })
}

/// One escape at `at`: the character it stands for and how many bytes it takes.
fn escape_at(b: &[u8], at: usize) -> Option<(char, usize)> {
    match b[at] {
        b'\\' => match *b.get(at + 1)? {
            b'u' => {
                let unit = hex_at(b, at + 2, 4)?;
                if (0xD800..0xDC00).contains(&unit) && b.get(at + 6..at + 8) == Some(b"\\u") {
                    let low = hex_at(b, at + 8, 4)?;
                    if (0xDC00..0xE000).contains(&low) {
                        let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        return Some((char::from_u32(c)?, 12));
                    }
                }
                Some((char::from_u32(unit)?, 6))
            }
            c @ (b'"' | b'\\' | b'/') => Some((c as char, 2)),
            b'b' => Some(('\u{8}', 2)),
            b'f' => Some(('\u{c}', 2)),
            b'n' => Some(('\n', 2)),
            b'r' => Some(('\r', 2)),
            b't' => Some(('\t', 2)),
            _ => None,
        },
        b'%' => {
            let v = hex_at(b, at + 1, 2)?;
            // Bytes above ASCII would need the following ones to make a character: a secret
            // with such characters is found as written or JSON-escaped, not percent-encoded.
            (v < 0x80).then_some((v as u8 as char, 3))
        }
        b'&' => {
            let end = at
                + 1
                + b.get(at + 1..(at + 12).min(b.len()))?
                    .iter()
                    .position(|&c| c == b';')?;
            let name = &b[at + 1..end];
            let c = match name {
                [b'#', b'x' | b'X', digits @ ..] if !digits.is_empty() => {
                    char::from_u32(hex_at(digits, 0, digits.len())?)?
                }
                [b'#', digits @ ..] if !digits.is_empty() => {
                    let v = std::str::from_utf8(digits).ok()?.parse::<u32>().ok()?;
                    char::from_u32(v)?
                }
                _ => named_entity(name)?,
            };
            Some((c, end + 1 - at))
        }
        _ => None,
    }
}

/// Undo one level of JSON, percent and HTML escapes in `b`, whose byte `i` stands for
/// `spans[i]` of the original text.
fn decode(b: &[u8], spans: &[(u32, u32)]) -> Layer {
    let mut out = Layer {
        bytes: Vec::with_capacity(b.len()),
        spans: Vec::with_capacity(b.len()),
        changed: false,
    };
    let mut i = 0;
    while i < b.len() {
        if matches!(b[i], b'\\' | b'%' | b'&') {
            if let Some((c, len)) = escape_at(b, i) {
                let span = (spans[i].0, spans[i + len - 1].1);
                let mut buf = [0u8; 4];
                for &byte in c.encode_utf8(&mut buf).as_bytes() {
                    out.bytes.push(byte);
                    out.spans.push(span);
                }
                out.changed = true;
                i += len;
                continue;
            }
        }
        out.bytes.push(b[i]);
        out.spans.push(spans[i]);
        i += 1;
    }
    out
}

/// `text` with the byte spans replaced by [`REDACTED`], overlapping spans merged and each
/// widened to whole characters.
fn replace(text: &str, mut spans: Vec<(usize, usize)>) -> String {
    spans.sort_unstable();
    let mut out = String::with_capacity(text.len());
    // `text[..at]` is written; `at` is the end of the last span replaced, if any.
    let mut at = 0;
    let mut replaced = false;
    for (start, end) in spans {
        let mut start = start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = end.min(text.len());
        while !text.is_char_boundary(end) {
            end += 1;
        }
        if replaced && start <= at {
            // Overlaps (or touches) the span just replaced: one mark for both.
            at = at.max(end);
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(REDACTED);
        at = end;
        replaced = true;
    }
    out.push_str(&text[at..]);
    out
}

/// Header names whose echoed value is a credential.
const CREDENTIAL_HEADERS: [&str; 5] = [
    "authorization",
    "cookie",
    "x-api-key",
    "api_key",
    "access_token",
];

/// The shortest run after `Bearer ` taken for a token (configured secrets of any length are
/// found as such; this is for credentials we do not know).
const MIN_BEARER: usize = 8;

fn token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=' | b'%')
}

/// `Bearer xxx` and the values of credential headers (`Authorization: ...`, `"cookie": "..."`,
/// `<th>Authorization</th><td>...</td>`), replaced by [`REDACTED`]. Works on ASCII
/// positions only, so the result stays valid UTF-8.
fn credentials(text: &str) -> String {
    let b = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    let lower = lower.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    // Credential headers: the name, then separators that include an assignment (`:`, `=`, or
    // the end of a tag between name and value), then the value up to where it ends.
    for name in CREDENTIAL_HEADERS {
        for at in memmem::find_iter(lower, name.as_bytes()) {
            let mut i = at + name.len();
            let mut assigned = false;
            loop {
                match b.get(i) {
                    Some(b' ' | b'\t' | b'"' | b'\'') => i += 1,
                    Some(b':' | b'=') => {
                        assigned = true;
                        i += 1;
                    }
                    Some(b'\\') if b.get(i + 1) == Some(&b'"') => i += 2,
                    Some(b'%') if matches!(lower.get(i + 1..i + 3), Some(b"3a" | b"3d")) => {
                        assigned = true;
                        i += 3;
                    }
                    Some(b'%') if lower.get(i + 1..i + 3) == Some(b"20") => i += 3,
                    Some(b'<') => match b[i..].iter().take(64).position(|&c| c == b'>') {
                        Some(close) => {
                            assigned = true;
                            i += close + 1;
                        }
                        None => break,
                    },
                    _ => break,
                }
            }
            if !assigned {
                continue;
            }
            let end = b[i..]
                .iter()
                .position(|&c| {
                    matches!(
                        c,
                        b'"' | b'\'' | b'<' | b'\\' | b'\r' | b'\n' | b',' | b';' | b'}' | b'&'
                    )
                })
                .map_or(b.len(), |p| i + p);
            if end > i && &text[i..end] != REDACTED {
                spans.push((i, end));
            }
        }
    }
    // `Bearer xxx` anywhere (an echo under another header's name).
    for at in memmem::find_iter(lower, b"bearer") {
        let mut i = at + "bearer".len();
        let start = i;
        loop {
            match b.get(i) {
                Some(b' ' | b'\t' | b'\r' | b'\n') => i += 1,
                Some(b'%') if lower.get(i + 1..i + 3) == Some(b"20") => i += 3,
                Some(b'+') if i == start => i += 1,
                _ => break,
            }
        }
        if i == start {
            continue;
        }
        let end = b[i..]
            .iter()
            .position(|&c| !token_byte(c))
            .map_or(b.len(), |p| i + p);
        // Tokens are long; "the bearer is" is not one.
        if end >= i + MIN_BEARER {
            spans.push((i, end));
        }
    }
    if spans.is_empty() {
        return text.to_string();
    }
    replace(text, spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "rt-S3cr3t/ab+cd%2Bef=QW42";

    fn r() -> Redactor {
        Redactor::new([T])
    }

    #[test]
    fn every_form_of_a_secret_is_replaced_and_nothing_else() {
        let pct: String = url::form_urlencoded::byte_serialize(T.as_bytes()).collect();
        let pct2: String = url::form_urlencoded::byte_serialize(pct.as_bytes()).collect();
        let json_u: String = T.chars().map(|c| format!("\\u{:04X}", c as u32)).collect();
        let html: String = T
            .chars()
            .map(|c| match c {
                '/' => "&#x2F;".to_string(),
                '+' => "&#43;".to_string(),
                '=' => "&equals;".to_string(),
                c => c.to_string(),
            })
            .collect();
        let decoded = T.replace("%2B", "+");
        for form in [
            T.to_string(),
            T.replace('/', "\\/"),
            pct,
            pct2,
            json_u.clone(),
            // JSON-escaped inside JSON: two levels.
            json_u.replace('\\', "\\\\"),
            html,
            decoded,
        ] {
            let text = format!("before {form} after é");
            assert_eq!(
                r().secrets(&text),
                format!("before {REDACTED} after é"),
                "{form}"
            );
        }
        let plain = r#"{"content":"<p>caf\u00e9 &amp; 100% sure</p>"}"#;
        assert!(matches!(r().secrets(plain), Cow::Borrowed(_)));
        assert!(matches!(Redactor::default().secrets(T), Cow::Borrowed(_)));
    }

    #[test]
    fn overlapping_and_repeated_secrets_leave_one_mark_each() {
        let r = Redactor::new(["abcabc", "cab"]);
        assert_eq!(r.secrets("xabcabcabcy"), format!("x{REDACTED}y"));
        assert_eq!(r.secrets("abcabc-abcabc"), format!("{REDACTED}-{REDACTED}"));
    }

    #[test]
    fn a_secret_among_multibyte_text_leaves_valid_text() {
        // A percent escape of a byte above ASCII is not decoded; the text stays whole.
        let r = Redactor::new(["\u{e9}t\u{e9}"]);
        assert_eq!(r.secrets("l'\u{e9}t\u{e9}!"), format!("l'{REDACTED}!"));
        assert_eq!(r.secrets("\\u00e9t\\u00E9"), REDACTED);
        assert_eq!(r.secrets("%C3%A9t%C3%A9"), "%C3%A9t%C3%A9");
    }

    #[test]
    fn messages_lose_credentials_of_anybody() {
        let r = r();
        for (text, want) in [
            (
                format!("Authorization: Bearer {T}\nHost: x"),
                format!("Authorization: {REDACTED}\nHost: x"),
            ),
            (
                r#"{"proxy-authorization":"Basic cHJveHk6cGFzcw==","host":"x"}"#.into(),
                format!(r#"{{"proxy-authorization":"{REDACTED}","host":"x"}}"#),
            ),
            (
                "<tr><th>Authorization</th><td>Bearer abc.def</td></tr>".into(),
                format!("<tr><th>Authorization</th><td>{REDACTED}</td></tr>"),
            ),
            (
                "X-Upstream: Bearer upstream123, next".into(),
                format!("X-Upstream: Bearer {REDACTED}, next"),
            ),
            (
                "cookie=session%3Dabc&x=1".into(),
                format!("cookie={REDACTED}&x=1"),
            ),
            // Words that only look like it stay.
            (
                "Authorization required; the bearer is unknown".into(),
                "Authorization required; the bearer is unknown".into(),
            ),
            ("Unauthorized".into(), "Unauthorized".into()),
        ] {
            assert_eq!(r.message(&text), want, "{text}");
        }
    }

    #[test]
    fn a_header_that_carries_a_secret_back_is_cleaned() {
        let mut h = HeaderMap::new();
        h.insert(
            "link",
            HeaderValue::from_str(&format!("<https://m.example/x?t={T}>; rel=\"next\"")).unwrap(),
        );
        h.append("x-a", HeaderValue::from_static("1"));
        h.append("x-a", HeaderValue::from_static("2"));
        let h = r().headers(h);
        assert_eq!(
            h.get("link").unwrap(),
            &format!("<https://m.example/x?t={REDACTED}>; rel=\"next\"")
        );
        assert_eq!(h.get_all("x-a").iter().count(), 2);
    }

    #[test]
    fn debug_does_not_show_the_secrets() {
        assert!(!format!("{:?}", r()).contains("S3cr3t"));
    }
}
