//! The codebook: themes a researcher can read and edit, in TOML.
//!
//! ```toml
//! [meta]
//! name = "customer-service"
//! language = "en"
//!
//! [[theme]]
//! id = "rigid-systems"
//! label = "Over-designed, rigid systems"
//! description = "Rules and processes too rigid for the case in hand"
//! patterns = ["one size fits all", "inflexib*", "rigid NEAR/3 rule"]
//! exclude = ["rigid plastic"]
//! examples = ["Providing rigid and inflexible rules does wonders for consistency"]
//!
//! [[theme]]
//! id = "empowerment"
//! label = "Empowering staff"
//! description = "Front-line staff allowed to use their own judgement"
//! semantic = true      # also coded by meaning (a sentence-embedding model)
//! threshold = 0.45     # optional; else [meta] semantic_threshold, else 0.5
//! patterns = []        # optional for a semantic theme
//! examples = ["let the agent decide what is fair for this customer"]
//! ```
//!
//! A semantic theme codes a post when one of its sentences is at least `threshold` close (cosine
//! similarity) to the theme's prototype, made from its label, description and examples: see
//! [`super::semantic`]. Its patterns, if any, keep coding as before.
//!
//! The names are fixed so that codebooks can be shared. Unknown keys are errors: a misspelt
//! `pattern =` must not silently code nothing.

use super::pattern::{Hit, Matcher};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The codebook built into rethread: customer service, from the seeds the project grew from.
pub const DEFAULT: &str = include_str!("default_codebook.toml");

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Codebook {
    pub meta: Meta,
    #[serde(rename = "theme")]
    pub themes: Vec<Theme>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub name: String,
    #[serde(default = "english")]
    pub language: String,
    /// The threshold of semantic themes that do not set their own
    /// ([`DEFAULT_SEMANTIC_THRESHOLD`] when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub semantic_threshold: Option<f64>,
}

/// The cosine similarity a sentence needs to a semantic theme's prototype when neither the
/// theme nor `[meta]` says.
///
/// Chosen from what all-MiniLM-L6-v2 (the model rethread is tested with) gives, not from any
/// labelled set: between unrelated sentences its cosines sit around 0 to 0.2, between sentences
/// on the same topic around 0.3 to 0.5, and between paraphrases from about 0.6 up. A prototype is
/// a mean of several texts, which pulls it towards what they share, so a sentence that says the
/// theme in other words lands about where related sentences do. 0.5 sits at the top of the
/// same-topic range: a post must be about the theme, not merely near its subject. Lower it (in
/// `[meta]` or per theme) for more recall, after reading what it codes.
pub const DEFAULT_SEMANTIC_THRESHOLD: f64 = 0.5;

fn english() -> String {
    "en".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub description: String,
    /// Coded by meaning too (see [`super::semantic`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub semantic: bool,
    /// A semantic theme's own threshold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// Required, unless the theme is semantic.
    #[serde(default)]
    pub patterns: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub examples: Vec<String>,
}

impl Theme {
    /// The threshold this theme codes at, if it is semantic.
    pub fn semantic_threshold(&self, meta: &Meta) -> Option<f64> {
        self.semantic.then(|| {
            self.threshold
                .or(meta.semantic_threshold)
                .unwrap_or(DEFAULT_SEMANTIC_THRESHOLD)
        })
    }
}

impl Codebook {
    pub fn default_codebook() -> Codebook {
        Codebook::parse(DEFAULT, "the built-in codebook").expect("the built-in codebook is valid")
    }

    /// The codebook at `path` (a `--codebook` flag), or the built-in one without it.
    pub fn load_or_default(path: Option<&Path>) -> Result<Codebook> {
        match path {
            Some(path) => Codebook::load(path),
            None => Ok(Codebook::default_codebook()),
        }
    }

    pub fn load(path: &Path) -> Result<Codebook> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read codebook", path.display()))?;
        Codebook::parse(&text, &path.display().to_string())
    }

    /// Parse and check a codebook; errors name the source, and the theme and pattern at fault.
    pub fn parse(text: &str, name: &str) -> Result<Codebook> {
        let book: Codebook = toml::from_str(text)
            .map_err(|e| anyhow::anyhow!("{name}: not a valid codebook: {e}"))?;
        if book.meta.language != "en" {
            bail!(
                "{name}: language {:?}: only English (\"en\") stemming is built in",
                book.meta.language
            );
        }
        if book.themes.is_empty() {
            bail!("{name}: no [[theme]]");
        }
        let mut seen = std::collections::HashSet::new();
        for t in &book.themes {
            let ok = !t.id.is_empty()
                && t.id.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_'
                });
            if !ok {
                bail!(
                    "{name}: theme id {:?}: use lowercase letters, digits, - and _",
                    t.id
                );
            }
            if !seen.insert(t.id.as_str()) {
                bail!("{name}: theme id {:?} appears twice", t.id);
            }
            if t.patterns.is_empty() && !t.semantic {
                bail!(
                    "{name}: theme {:?} has no patterns (give it patterns, or `semantic = true` to code it by meaning)",
                    t.id
                );
            }
            if let Some(th) = t.threshold {
                if !t.semantic {
                    bail!(
                        "{name}: theme {:?} has a threshold but is not semantic (add `semantic = true`)",
                        t.id
                    );
                }
                check_threshold(name, &format!("theme {:?}: threshold", t.id), th)?;
            }
        }
        if let Some(th) = book.meta.semantic_threshold {
            check_threshold(name, "[meta] semantic_threshold", th)?;
        }
        // Compiling checks every pattern.
        Coder::new(&book).with_context(|| format!("{name}: bad pattern"))?;
        Ok(book)
    }

    /// The indices of the semantic themes.
    pub fn semantic_themes(&self) -> Vec<usize> {
        (0..self.themes.len())
            .filter(|&i| self.themes[i].semantic)
            .collect()
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a codebook serializes")
    }
}

/// A cosine-similarity threshold must say something: above 0 (a threshold of 0 or below codes
/// almost everything) and at most 1.
fn check_threshold(name: &str, what: &str, th: f64) -> Result<()> {
    if !(th > 0.0 && th <= 1.0) {
        bail!("{name}: {what} {th}: give a cosine similarity above 0 and at most 1 (e.g. 0.5)");
    }
    Ok(())
}

/// Which coder made a code: a researcher reading an export must be able to tell a pattern
/// that matched words from a judgement made by a model.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum CoderKind {
    /// A codebook pattern matched the words.
    #[default]
    Pattern,
    /// A sentence of the post is close to the theme's prototype (`semantic = true` themes).
    Semantic,
    /// A classifier learned from a coded sample (`themes learn`) gave the theme.
    Learned,
}

impl CoderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CoderKind::Pattern => "pattern",
            CoderKind::Semantic => "semantic",
            CoderKind::Learned => "learned",
        }
    }
}

/// Evidence for one code on one post.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// Index of the theme in the codebook.
    #[serde(skip)]
    pub theme: usize,
    /// Which coder made the code.
    pub coder: CoderKind,
    /// The pattern that matched, as written in the codebook (pattern codes); empty for the
    /// other coders.
    pub pattern: String,
    /// The matched text, as written in the post: the words a pattern matched, or the sentence
    /// a semantic or learned coder found closest.
    pub text: String,
    /// Character offsets in the post's plain text, end exclusive.
    pub start: usize,
    pub end: usize,
    /// Semantic codes: cosine similarity of that sentence to the theme's prototype.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub similarity: Option<f64>,
    /// Learned codes: the classifier's probability for the theme.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub probability: Option<f64>,
    /// Learned codes: the most similar labelled example of the theme, as written in the sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub example: Option<String>,
}

impl Evidence {
    /// A pattern code: `pattern` matched `text` at `start..end`.
    pub fn pattern(
        theme: usize,
        pattern: String,
        text: String,
        start: usize,
        end: usize,
    ) -> Evidence {
        Evidence {
            theme,
            coder: CoderKind::Pattern,
            pattern,
            text,
            start,
            end,
            similarity: None,
            probability: None,
            example: None,
        }
    }
}

/// The distinct themes of a post's evidence, in the order they first matched.
pub fn themes_of(ev: &[Evidence]) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    for e in ev {
        if !out.contains(&e.theme) {
            out.push(e.theme);
        }
    }
    out
}

impl Codebook {
    /// The ids of a post's themes, as `a;b`, in the order they first matched.
    pub fn ids_of(&self, ev: &[Evidence]) -> String {
        themes_of(ev)
            .into_iter()
            .map(|t| self.themes[t].id.as_str())
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// A codebook compiled into one matcher.
pub struct Coder {
    matcher: Matcher,
    /// Matcher pattern number → (theme, pattern text, is an exclude).
    owners: Vec<(usize, String, bool)>,
    themes: usize,
}

impl Coder {
    pub fn new(book: &Codebook) -> Result<Coder> {
        let mut matcher = Matcher::new();
        let mut owners = Vec::new();
        for (ti, t) in book.themes.iter().enumerate() {
            for (list, exclude) in [(&t.patterns, false), (&t.exclude, true)] {
                for p in list {
                    let id = matcher
                        .add(p)
                        .map_err(|e| anyhow::anyhow!("theme {:?}, pattern {p:?}: {e}", t.id))?;
                    debug_assert_eq!(id, owners.len());
                    owners.push((ti, p.clone(), exclude));
                }
            }
        }
        Ok(Coder {
            matcher,
            owners,
            themes: book.themes.len(),
        })
    }

    /// The codes of one text, with their evidence, in text order. A match that overlaps a match
    /// of its theme's `exclude` patterns is dropped.
    pub fn code(&self, text: &str) -> Vec<Evidence> {
        let hits = self.matcher.find(text);
        if hits.is_empty() {
            return Vec::new();
        }
        let mut excluded: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.themes];
        for h in &hits {
            let (theme, _, exclude) = &self.owners[h.pattern];
            if *exclude {
                excluded[*theme].push((h.start, h.end));
            }
        }
        let chars: Vec<char> = text.chars().collect();
        let mut seen = std::collections::HashSet::new();
        hits.iter()
            .filter(|h| !self.owners[h.pattern].2)
            .filter(|h: &&Hit| {
                let theme = self.owners[h.pattern].0;
                !excluded[theme]
                    .iter()
                    .any(|&(s, e)| s < h.end && h.start < e)
            })
            // Two patterns of one theme matching the same words are one piece of evidence.
            .filter(|h| seen.insert((self.owners[h.pattern].0, h.start, h.end)))
            .map(|h| {
                Evidence::pattern(
                    self.owners[h.pattern].0,
                    self.owners[h.pattern].1.clone(),
                    chars[h.start..h.end].iter().collect(),
                    h.start,
                    h.end,
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOK: &str = r#"
        [meta]
        name = "t"
        language = "en"

        [[theme]]
        id = "rigid-systems"
        label = "Rigid"
        patterns = ["one size fits all", "inflexib*", "rigid NEAR/3 rule"]
        exclude = ["rigid plastic"]

        [[theme]]
        id = "training"
        label = "Training"
        patterns = ["train"]
    "#;

    #[test]
    fn codes_with_evidence_and_excludes() {
        let book = Codebook::parse(BOOK, "t.toml").unwrap();
        let coder = Coder::new(&book).unwrap();
        let ev =
            coder.code("Rigid plastic rules apply here. Yet rigid, inflexible rules need training");
        let got: Vec<(&str, &str, usize)> = ev
            .iter()
            .map(|e| (book.themes[e.theme].id.as_str(), e.text.as_str(), e.start))
            .collect();
        assert_eq!(
            got,
            [
                ("rigid-systems", "rigid, inflexible rules", 36),
                ("rigid-systems", "inflexible", 43),
                ("training", "training", 65)
            ]
        );
        assert_eq!(ev[0].pattern, "rigid NEAR/3 rule");
    }

    #[test]
    fn bad_codebooks_are_clear_errors() {
        let e = Codebook::parse(
            &BOOK.replace("patterns = [\"train\"]", "pattern = [\"train\"]"),
            "b.toml",
        )
        .unwrap_err();
        assert!(
            format!("{e:#}").contains("b.toml") && format!("{e:#}").contains("pattern"),
            "{e:#}"
        );
        let e = Codebook::parse(&BOOK.replace("\"train\"", "\"tr*ain\""), "b.toml").unwrap_err();
        assert!(
            format!("{e:#}").contains("theme \"training\", pattern \"tr*ain\""),
            "{e:#}"
        );
        let e = Codebook::parse(
            &BOOK.replace("id = \"training\"", "id = \"rigid-systems\""),
            "b.toml",
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("twice"), "{e:#}");
        let e = Codebook::parse(
            &BOOK.replace("language = \"en\"", "language = \"de\""),
            "b.toml",
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("English"), "{e:#}");
    }

    #[test]
    fn semantic_themes_may_go_without_patterns_and_their_keys_are_checked() {
        let semantic = BOOK.replace(
            "patterns = [\"train\"]",
            "semantic = true\nthreshold = 0.4\npatterns = []",
        );
        let book = Codebook::parse(&semantic, "s.toml").unwrap();
        assert_eq!(book.semantic_themes(), [1]);
        assert_eq!(book.themes[1].semantic_threshold(&book.meta), Some(0.4));
        assert_eq!(book.themes[0].semantic_threshold(&book.meta), None);
        // Leaving `patterns` out is the same as `patterns = []`.
        let book2 = Codebook::parse(&semantic.replace("patterns = []", ""), "s.toml").unwrap();
        assert_eq!(book2, book);
        // The new keys round-trip, and are left out when not set.
        let toml = book.to_toml();
        assert!(toml.contains("semantic = true") && toml.contains("threshold = 0.4"), "{toml}");
        assert_eq!(Codebook::parse(&toml, "again").unwrap(), book);
        let plain = Codebook::parse(BOOK, "t").unwrap().to_toml();
        assert!(!plain.contains("semantic") && !plain.contains("threshold"), "{plain}");
        let meta = semantic.replace("language = \"en\"", "language = \"en\"\nsemantic_threshold = 0.6");
        let book = Codebook::parse(&meta, "m.toml").unwrap();
        assert_eq!(book.meta.semantic_threshold, Some(0.6));
        assert_eq!(Codebook::parse(&book.to_toml(), "again").unwrap(), book);

        let err = |text: &str| format!("{:#}", Codebook::parse(text, "b.toml").unwrap_err());
        let e = err(&BOOK.replace("patterns = [\"train\"]", "patterns = []"));
        assert!(e.contains("b.toml") && e.contains("theme \"training\" has no patterns"), "{e}");
        let e = err(&BOOK.replace("patterns = [\"train\"]", "threshold = 0.5\npatterns = [\"train\"]"));
        assert!(e.contains("theme \"training\" has a threshold but is not semantic"), "{e}");
        for bad in ["0.0", "1.5", "-0.2"] {
            let e = err(&semantic.replace("threshold = 0.4", &format!("threshold = {bad}")));
            assert!(e.contains("theme \"training\": threshold") && e.contains("above 0"), "{e}");
        }
        let e = err(&meta.replace("0.6", "2.0"));
        assert!(e.contains("[meta] semantic_threshold 2"), "{e}");
    }

    #[test]
    fn the_built_in_codebook_is_valid_and_codes_its_own_examples() {
        let book = Codebook::default_codebook();
        assert!(book.themes.len() >= 13, "{}", book.themes.len());
        let coder = Coder::new(&book).unwrap();
        for (i, t) in book.themes.iter().enumerate() {
            assert!(!t.examples.is_empty(), "{}: give an example", t.id);
            for ex in &t.examples {
                assert!(
                    coder.code(ex).iter().any(|e| e.theme == i),
                    "{}: its example {ex:?} is not coded with it",
                    t.id
                );
            }
        }
        // It prints as TOML that reads back the same.
        assert_eq!(Codebook::parse(&book.to_toml(), "again").unwrap(), book);
    }
}
