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
//! ```
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

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub name: String,
    #[serde(default = "english")]
    pub language: String,
}

fn english() -> String {
    "en".into()
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub description: String,
    pub patterns: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub examples: Vec<String>,
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
            if t.patterns.is_empty() {
                bail!("{name}: theme {:?} has no patterns", t.id);
            }
        }
        // Compiling checks every pattern.
        Coder::new(&book).with_context(|| format!("{name}: bad pattern"))?;
        Ok(book)
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a codebook serializes")
    }
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
