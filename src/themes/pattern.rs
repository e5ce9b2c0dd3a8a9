//! Codebook patterns and the one-pass matcher.
//!
//! Text is split into word tokens on white space and punctuation, lowercased, and each token is
//! reduced to its English Snowball stem, so `train` matches training and trained, and
//! `over-designed` reads as `over designed`. URLs and @mentions are not tokens at all: they never
//! match. A hashtag is read as the words it is made of (`#CustomerService` → customer service).
//!
//! A pattern is a plain word (matched by stem), `word*` (any token beginning with `word`), a
//! phrase (consecutive tokens), or `a NEAR/n b` (both within n tokens, in either order).
//!
//! Why one pass: a codebook has hundreds of patterns and a corpus millions of posts. Each token
//! is looked up once, by stem in a hash map and by each of its prefixes in another, giving the
//! patterns that can start there; only those are checked further. The cost is per token, not
//! per token × pattern.

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap as HashMap;
use std::cell::RefCell;
use std::rc::Rc;

/// Lowercased word → (the word, its stem), per thread, and a buffer to lowercase into.
#[derive(Default)]
struct StemCache {
    words: HashMap<Box<str>, (Rc<str>, Rc<str>)>,
    lower: String,
}

thread_local! {
    /// Cleared when it grows past `STEM_CACHE` entries, so that a corpus of rare words cannot
    /// grow it without bound.
    static STEMS: RefCell<StemCache> = RefCell::new(StemCache::default());
}

const STEM_CACHE: usize = 200_000;

/// A word token of a text. The strings are shared with the stem cache: a corpus says the same
/// few thousand words millions of times, and stemming each again would be most of the cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// Lowercased.
    pub lower: Rc<str>,
    pub stem: Rc<str>,
    /// Offsets in characters of the text, end exclusive.
    pub start: usize,
    pub end: usize,
}

/// Split `text` into tokens (see the module documentation).
pub fn tokenize(text: &str, stemmer: &Stemmer) -> Vec<Token> {
    let mut out = Vec::new();
    tokenize_into(text, stemmer, &mut Vec::new(), &mut out);
    out
}

/// [`tokenize`] into buffers the caller keeps, so that coding a corpus allocates nothing per
/// post once the buffers have grown.
pub fn tokenize_into(text: &str, stemmer: &Stemmer, chars: &mut Vec<char>, out: &mut Vec<Token>) {
    chars.clear();
    chars.extend(text.chars());
    out.clear();
    let chars = &chars[..];
    let mut i = 0;
    let word = |c: char| c.is_alphanumeric();
    while i < chars.len() {
        let c = chars[i];
        // URLs: from the scheme (or `www.`) to the next white space. Only looked for where an
        // `h` or `w` starts a word: this runs for every character of every post.
        let url_start = matches!(c, 'h' | 'H' | 'w' | 'W') && (i == 0 || !word(chars[i - 1]));
        if url_start
            && (starts_with(chars, i, "http://")
                || starts_with(chars, i, "https://")
                || starts_with(chars, i, "www."))
        {
            while i < chars.len() && !chars[i].is_whitespace() {
                i += 1;
            }
            continue;
        }
        // @mentions (`@user`, `@user@server`), when the `@` starts a word.
        if c == '@'
            && (i == 0 || !word(chars[i - 1]))
            && chars.get(i + 1).is_some_and(|&n| word(n) || n == '_')
        {
            while i < chars.len() && (word(chars[i]) || matches!(chars[i], '_' | '@' | '.' | '-')) {
                i += 1;
            }
            continue;
        }
        if c == '#' && chars.get(i + 1).is_some_and(|&n| word(n)) {
            // A hashtag: its words, split where lowercase turns to uppercase (#CustomerService),
            // after an acronym (#NHSstaff), between letters and digits, and at `_`.
            let start = i + 1;
            let mut end = start;
            while end < chars.len() && (word(chars[end]) || chars[end] == '_') {
                end += 1;
            }
            let mut s = start;
            for k in start..=end {
                let boundary = k == end
                    || chars[k] == '_'
                    || (k > s
                        && ((chars[k].is_uppercase() && chars[k - 1].is_lowercase())
                            || (chars[k].is_numeric() != chars[k - 1].is_numeric())
                            // An acronym run before a lowercase word: #NHSstaff, #AIrevolution.
                            || (chars[k].is_lowercase()
                                && k >= s + 2
                                && chars[k - 1].is_uppercase()
                                && chars[k - 2].is_uppercase())));
                if boundary {
                    if k > s {
                        push(out, &chars[s..k], s, stemmer);
                    }
                    s = if k < end && chars[k] == '_' { k + 1 } else { k };
                }
            }
            i = end;
            continue;
        }
        if word(c) {
            let start = i;
            while i < chars.len() && word(chars[i]) {
                i += 1;
            }
            push(out, &chars[start..i], start, stemmer);
            continue;
        }
        i += 1;
    }
}

fn starts_with(chars: &[char], i: usize, prefix: &str) -> bool {
    let mut k = i;
    for p in prefix.chars() {
        match chars.get(k) {
            Some(c) if c.to_lowercase().eq(p.to_lowercase()) => k += 1,
            _ => return false,
        }
    }
    true
}

fn push(out: &mut Vec<Token>, word: &[char], start: usize, stemmer: &Stemmer) {
    let (lower, stem) = STEMS.with_borrow_mut(|cache| {
        let StemCache { words, lower } = cache;
        lower.clear();
        if word.iter().all(char::is_ascii) {
            lower.extend(word.iter().map(char::to_ascii_lowercase));
        } else {
            lower.extend(word.iter().flat_map(|c| c.to_lowercase()));
        }
        if let Some((l, s)) = words.get(lower.as_str()) {
            return (l.clone(), s.clone());
        }
        if words.len() >= STEM_CACHE {
            words.clear();
        }
        let l: Rc<str> = Rc::from(lower.as_str());
        let s: Rc<str> = Rc::from(stemmer.stem(lower).as_ref());
        words.insert(Box::from(lower.as_str()), (l.clone(), s.clone()));
        (l, s)
    });
    out.push(Token {
        lower,
        stem,
        start,
        end: start + word.len(),
    });
}

/// One element of a phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Elem {
    Stem(String),
    Prefix(String),
}

impl Elem {
    fn matches(&self, t: &Token) -> bool {
        match self {
            Elem::Stem(s) => *t.stem == **s,
            Elem::Prefix(p) => t.lower.starts_with(p.as_str()),
        }
    }
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Compiled {
    Phrase(usize),
    /// Two phrases within `n` tokens of each other, in either order.
    Near(usize, usize, usize),
}

/// Where a pattern matched, in tokens and characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The pattern, as numbered when added to the matcher.
    pub pattern: usize,
    /// Character offsets in the text, end exclusive.
    pub start: usize,
    pub end: usize,
}

/// Many patterns, matched together in one pass over a text's tokens.
pub struct Matcher {
    stemmer: Stemmer,
    phrases: Vec<Vec<Elem>>,
    patterns: Vec<Compiled>,
    /// First element → phrases starting with it.
    by_stem: HashMap<String, Vec<usize>>,
    by_prefix: HashMap<String, Vec<usize>>,
    /// The lengths (in characters) of the prefixes in `by_prefix`, ascending: a token is looked
    /// up once per length, not once per character.
    prefix_lengths: Vec<usize>,
    /// For each phrase, the patterns that use it (a phrase pattern, or either side of a NEAR).
    users: Vec<Vec<usize>>,
}

impl Default for Matcher {
    fn default() -> Self {
        Matcher::new()
    }
}

impl Matcher {
    pub fn new() -> Matcher {
        Matcher {
            stemmer: Stemmer::create(Algorithm::English),
            phrases: Vec::new(),
            patterns: Vec::new(),
            by_stem: HashMap::default(),
            by_prefix: HashMap::default(),
            prefix_lengths: Vec::new(),
            users: Vec::new(),
        }
    }

    pub fn stemmer(&self) -> &Stemmer {
        &self.stemmer
    }

    /// Add a pattern; returns its number, or why it is not a pattern.
    pub fn add(&mut self, pattern: &str) -> Result<usize, String> {
        let words: Vec<&str> = pattern.split_whitespace().collect();
        let near: Vec<usize> = words
            .iter()
            .enumerate()
            .filter(|(_, w)| w.starts_with("NEAR/"))
            .map(|(i, _)| i)
            .collect();
        let id = self.patterns.len();
        let compiled = match near.as_slice() {
            [] => Compiled::Phrase(self.phrase(&words)?),
            [k] => {
                let n: usize = words[*k]["NEAR/".len()..].parse().map_err(|_| {
                    format!(
                        "{:?}: NEAR/ needs a number of tokens, e.g. NEAR/3",
                        words[*k]
                    )
                })?;
                if n == 0 {
                    return Err("NEAR/0 can never match: use a phrase".into());
                }
                let a = self.phrase(&words[..*k])?;
                let b = self.phrase(&words[k + 1..])?;
                Compiled::Near(a, b, n)
            }
            _ => return Err("only one NEAR/n per pattern".into()),
        };
        match &compiled {
            Compiled::Phrase(p) => self.users[*p].push(id),
            Compiled::Near(a, b, _) => {
                self.users[*a].push(id);
                if b != a {
                    self.users[*b].push(id);
                }
            }
        }
        self.patterns.push(compiled);
        Ok(id)
    }

    /// Compile the words of a phrase (each may hold punctuation, or end with `*`).
    fn phrase(&mut self, words: &[&str]) -> Result<usize, String> {
        let mut elems = Vec::new();
        for w in words {
            if let Some(prefix) = w.strip_suffix('*') {
                let toks = tokenize(prefix, &self.stemmer);
                match toks.as_slice() {
                    [] => return Err(format!("{w:?}: a prefix needs letters before the *")),
                    [rest @ .., last] => {
                        elems.extend(rest.iter().map(|t| Elem::Stem(t.stem.to_string())));
                        elems.push(Elem::Prefix(last.lower.to_string()));
                    }
                }
            } else {
                if w.contains('*') {
                    return Err(format!("{w:?}: * is only allowed at the end of a word"));
                }
                let toks = tokenize(w, &self.stemmer);
                if toks.is_empty() {
                    return Err(format!("{w:?} has no word in it"));
                }
                elems.extend(toks.into_iter().map(|t| Elem::Stem(t.stem.to_string())));
            }
        }
        if elems.is_empty() {
            return Err("empty pattern".into());
        }
        if let Some(i) = self.phrases.iter().position(|p| *p == elems) {
            return Ok(i);
        }
        let id = self.phrases.len();
        match &elems[0] {
            Elem::Stem(s) => self.by_stem.entry(s.clone()).or_default().push(id),
            Elem::Prefix(p) => {
                let n = p.chars().count();
                if let Err(k) = self.prefix_lengths.binary_search(&n) {
                    self.prefix_lengths.insert(k, n);
                }
                self.by_prefix.entry(p.clone()).or_default().push(id)
            }
        }
        self.phrases.push(elems);
        self.users.push(Vec::new());
        Ok(id)
    }

    /// Every match of every pattern in `text`, by character offsets, in text order.
    pub fn find(&self, text: &str) -> Vec<Hit> {
        thread_local! {
            static BUFFERS: RefCell<(Vec<char>, Vec<Token>)> = const { RefCell::new((Vec::new(), Vec::new())) };
        }
        BUFFERS.with_borrow_mut(|(chars, tokens)| {
            tokenize_into(text, &self.stemmer, chars, tokens);
            let hits = self.find_in(tokens);
            // Let go of the shared strings now, not at the next post.
            tokens.clear();
            hits
        })
    }

    pub fn find_in(&self, tokens: &[Token]) -> Vec<Hit> {
        // Phrase hits as token spans, one pass over the tokens.
        let mut spans: Vec<(usize, usize, usize)> = Vec::new(); // (phrase, first, last+1)
        for (i, t) in tokens.iter().enumerate() {
            let mut check = |cands: &Vec<usize>| {
                for &p in cands {
                    let elems = &self.phrases[p];
                    if i + elems.len() <= tokens.len()
                        && elems[1..]
                            .iter()
                            .zip(&tokens[i + 1..])
                            .all(|(e, t)| e.matches(t))
                    {
                        spans.push((p, i, i + elems.len()));
                    }
                }
            };
            if let Some(c) = self.by_stem.get(&*t.stem) {
                check(c);
            }
            for &n in &self.prefix_lengths {
                // The first n characters of the token, if it has that many.
                let Some(end) = t
                    .lower
                    .char_indices()
                    .nth(n)
                    .map(|(b, _)| b)
                    .or_else(|| (t.lower.chars().count() == n).then_some(t.lower.len()))
                else {
                    break;
                };
                if let Some(c) = self.by_prefix.get(&t.lower[..end]) {
                    check(c);
                }
            }
        }
        let mut hits = Vec::new();
        let mut by_phrase: HashMap<usize, Vec<(usize, usize)>> = HashMap::default();
        let mut near: Vec<usize> = Vec::new();
        let chars = |a: usize, b: usize| (tokens[a].start, tokens[b - 1].end);
        for &(p, a, b) in &spans {
            by_phrase.entry(p).or_default().push((a, b));
            for &pat in &self.users[p] {
                match self.patterns[pat] {
                    Compiled::Phrase(_) => {
                        let (start, end) = chars(a, b);
                        hits.push(Hit {
                            pattern: pat,
                            start,
                            end,
                        });
                    }
                    Compiled::Near(..) => near.push(pat),
                }
            }
        }
        near.sort_unstable();
        near.dedup();
        for pat in near {
            let Compiled::Near(x, y, n) = self.patterns[pat] else {
                continue;
            };
            let (Some(xs), Some(ys)) = (by_phrase.get(&x), by_phrase.get(&y)) else {
                continue;
            };
            for &sx in xs {
                for &sy in ys {
                    // The earlier span and the later one; they must not overlap, and the later
                    // must start within n tokens of the earlier's last token.
                    let (e, l) = if sx.0 <= sy.0 { (sx, sy) } else { (sy, sx) };
                    if l.0 >= e.1 && l.0 - (e.1 - 1) <= n {
                        hits.push(Hit {
                            pattern: pat,
                            start: tokens[e.0].start,
                            end: tokens[l.1 - 1].end,
                        });
                    }
                }
            }
        }
        hits.sort_by_key(|h| (h.start, h.end, h.pattern));
        hits.dedup();
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<String> {
        tokenize(text, &Stemmer::create(Algorithm::English))
            .into_iter()
            .map(|t| t.lower.to_string())
            .collect()
    }

    fn matched(patterns: &[&str], text: &str) -> Vec<(usize, String)> {
        let mut m = Matcher::new();
        for p in patterns {
            m.add(p).unwrap();
        }
        let chars: Vec<char> = text.chars().collect();
        m.find(text)
            .into_iter()
            .map(|h| (h.pattern, chars[h.start..h.end].iter().collect()))
            .collect()
    }

    #[test]
    fn tokens_split_on_punctuation_and_skip_urls_and_mentions() {
        assert_eq!(
            toks("over-designed, Over designed!"),
            ["over", "designed", "over", "designed"]
        );
        assert_eq!(
            toks("@nz_rob see https://ex.am/ple?a=b and www.x.org @ana@social.example ok"),
            ["see", "and", "ok"]
        );
        assert_eq!(
            toks("#CustomerService #NHSstaff #covid19 #a_b"),
            ["customer", "service", "nhs", "staff", "covid", "19", "a", "b"]
        );
        assert_eq!(
            toks("e-mail me@example.org"),
            ["e", "mail", "me", "example", "org"]
        );
    }

    #[test]
    fn plain_words_match_by_stem() {
        assert_eq!(
            matched(&["train"], "Training, trained and trains")
                .iter()
                .map(|m| m.1.as_str())
                .collect::<Vec<_>>(),
            ["Training", "trained", "trains"]
        );
        assert!(
            matched(&["train"], "a trainee").is_empty(),
            "a different stem"
        );
    }

    #[test]
    fn prefixes_phrases_and_near() {
        assert_eq!(
            matched(&["inflexib*"], "rigid and INFLEXIBLE rules")[0].1,
            "INFLEXIBLE"
        );
        assert_eq!(
            matched(
                &["one size fits all"],
                "expects 1 size fits all; one size fits all"
            )
            .iter()
            .map(|m| m.1.as_str())
            .collect::<Vec<_>>(),
            ["one size fits all"]
        );
        assert_eq!(
            matched(&["over-designed"], "it is over designed")[0].1,
            "over designed"
        );
        assert_eq!(
            matched(&["design* for the average"], "they design for the average")[0].1,
            "design for the average"
        );
        assert_eq!(
            matched(
                &["rigid NEAR/3 rule"],
                "Providing rigid and inflexible rules"
            )[0]
            .1,
            "rigid and inflexible rules"
        );
        assert_eq!(
            matched(&["rigid NEAR/3 rule"], "rules that are rigid")[0].1,
            "rules that are rigid"
        );
        assert!(matched(&["rigid NEAR/3 rule"], "rigid one two three four rules").is_empty());
        assert!(
            matched(&["customer service"], "customer. Service").len() == 1,
            "phrases run across punctuation"
        );
    }

    #[test]
    fn offsets_are_in_characters() {
        let text = "Très “rigid” système";
        let mut m = Matcher::new();
        m.add("rigid").unwrap();
        let h = m.find(text);
        assert_eq!((h[0].start, h[0].end), (6, 11));
        let chars: Vec<char> = text.chars().collect();
        assert_eq!(chars[6..11].iter().collect::<String>(), "rigid");
    }

    #[test]
    fn bad_patterns_say_why() {
        let mut m = Matcher::new();
        assert!(m.add("a NEAR/x b").unwrap_err().contains("NEAR/"));
        assert!(m
            .add("a NEAR/2 b NEAR/2 c")
            .unwrap_err()
            .contains("one NEAR"));
        assert!(m.add("*").unwrap_err().contains("prefix"));
        assert!(m.add("in*ex").unwrap_err().contains("end of a word"));
        assert!(m.add("!!").unwrap_err().contains("no word"));
        assert!(m.add("").is_err());
    }

    #[test]
    fn hashtags_match_as_words_and_mentions_never_do() {
        assert_eq!(
            matched(&["customer service"], "Love #CustomerService today")[0].1,
            "CustomerService"
        );
        assert!(matched(&["training"], "@training is an account").is_empty());
    }
}
