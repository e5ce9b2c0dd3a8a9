//! The semantic coder: themes coded by meaning, for the ideas people rarely name with a fixed
//! word ("they try to design for the average" is about rigid systems without saying "rigid").
//!
//! Each `semantic = true` theme of the codebook gets a prototype: the normalised mean of the
//! embeddings of its label, its description and each of its examples, so that the researcher's
//! own words define it and editing them changes what it codes. A post is coded with the theme
//! when one of its sentences (or, failing that, its whole text) has a cosine similarity to the
//! prototype at least the theme's threshold. The evidence is the closest sentence, its offsets
//! and its similarity: one piece of evidence per theme and post, which a researcher can read and
//! judge as they judge a pattern's match.
//!
//! Why sentences and not only the whole post: a long post that makes a point in one sentence
//! among five has a whole-text vector diluted by the other four; the sentence stands alone.

use super::codebook::{Codebook, CoderKind, Evidence};
use super::embed::{dot, normalize, Embed};
use super::rollup::PostCoder;
use super::vectors::{embedded_text_of, TextVectors};
use anyhow::{bail, Result};

/// One semantic theme, ready to code.
#[derive(Debug, Clone)]
struct Prototype {
    /// Index of the theme in the codebook.
    theme: usize,
    threshold: f32,
    /// Unit length.
    vector: Vec<f32>,
}

/// Codes posts with the codebook's semantic themes.
#[derive(Debug, Clone)]
pub struct SemanticCoder {
    prototypes: Vec<Prototype>,
    model: String,
}

/// The semantic coder of `book`, or `None` when it has no semantic theme (nothing is embedded
/// then).
pub fn semantic_coder(book: &Codebook, model: &dyn Embed) -> Result<Option<SemanticCoder>> {
    SemanticCoder::new(book, model)
}

impl SemanticCoder {
    /// Embed every semantic theme's label, description and examples and make its prototype.
    pub fn new(book: &Codebook, model: &dyn Embed) -> Result<Option<SemanticCoder>> {
        let semantic = book.semantic_themes();
        if semantic.is_empty() {
            return Ok(None);
        }
        let mut texts: Vec<String> = Vec::new();
        let mut owner: Vec<usize> = Vec::new();
        for (k, &ti) in semantic.iter().enumerate() {
            let t = &book.themes[ti];
            let sources = std::iter::once(&t.label)
                .chain(std::iter::once(&t.description))
                .chain(&t.examples);
            for s in sources {
                let s = embedded_text_of(s);
                if !s.is_empty() {
                    texts.push(s);
                    owner.push(k);
                }
            }
            if !owner.contains(&k) {
                bail!(
                    "theme {:?} is semantic but has no label, description or example to make its prototype from",
                    t.id
                );
            }
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let vectors = model.embed(&refs)?;
        let mut sums = vec![vec![0f32; model.dim()]; semantic.len()];
        for (v, &k) in vectors.iter().zip(&owner) {
            if v.len() != model.dim() {
                bail!(
                    "model {} gave a vector of {} values, not {}",
                    model.id(),
                    v.len(),
                    model.dim()
                );
            }
            sums[k].iter_mut().zip(v).for_each(|(s, x)| *s += x);
        }
        let prototypes = semantic
            .iter()
            .zip(sums)
            .map(|(&ti, mut vector)| {
                normalize(&mut vector);
                Prototype {
                    theme: ti,
                    threshold: book.themes[ti]
                        .semantic_threshold(&book.meta)
                        .expect("a semantic theme has a threshold") as f32,
                    vector,
                }
            })
            .collect();
        Ok(Some(SemanticCoder {
            prototypes,
            model: model.id().to_string(),
        }))
    }

    /// The codebook indices of the themes this coder codes.
    pub fn themes(&self) -> Vec<usize> {
        self.prototypes.iter().map(|p| p.theme).collect()
    }

    /// The id of the model the prototypes were made with (vectors of another model cannot be
    /// compared with them).
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The codes of one text whose vectors are `v` (computed from `text` by
    /// [`super::vectors::embed_texts`] or [`super::vectors::post_vectors`]), in theme order.
    pub fn code_vectors(&self, text: &str, v: &TextVectors) -> Vec<Evidence> {
        let Some(whole) = &v.text else {
            return Vec::new();
        };
        let mut chars: Option<Vec<char>> = None;
        let mut out = Vec::new();
        for p in &self.prototypes {
            // The closest sentence; the whole text only when no sentence is close enough.
            let best = v
                .sentences
                .iter()
                .map(|s| (dot(&s.vector, &p.vector), s.start, s.end))
                .max_by(|a, b| a.0.total_cmp(&b.0));
            let chosen = match best {
                Some(b) if b.0 >= p.threshold => b,
                _ => {
                    let (start, end) = v.span().unwrap_or((0, 0));
                    let w = dot(whole, &p.vector);
                    if w < p.threshold {
                        continue;
                    }
                    (w, start, end)
                }
            };
            let (similarity, start, end) = chosen;
            let chars = chars.get_or_insert_with(|| text.chars().collect());
            let end = end.min(chars.len());
            let start = start.min(end);
            out.push(Evidence {
                theme: p.theme,
                coder: CoderKind::Semantic,
                pattern: String::new(),
                text: chars[start..end].iter().collect(),
                start,
                end,
                similarity: Some(round4(similarity.clamp(-1.0, 1.0) as f64)),
                probability: None,
                example: None,
            });
        }
        out
    }

    /// A [`PostCoder`] over posts whose vectors are `vectors` (indexed like the `PostSet`).
    pub fn for_posts<'a>(&'a self, vectors: &'a [TextVectors]) -> SemanticPosts<'a> {
        SemanticPosts {
            coder: self,
            vectors,
        }
    }
}

/// Similarities to four decimals: enough to compare with a threshold, short enough to read.
fn round4(x: f64) -> f64 {
    (x * 1e4).round() / 1e4
}

/// The semantic coder with the vectors of a set of posts.
pub struct SemanticPosts<'a> {
    coder: &'a SemanticCoder,
    vectors: &'a [TextVectors],
}

impl PostCoder for SemanticPosts<'_> {
    fn code(&self, index: usize, text: &str) -> Vec<Evidence> {
        match self.vectors.get(index) {
            Some(v) => self.coder.code_vectors(text, v),
            None => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::themes::vectors::embed_texts;
    use crate::themes::vectors::tests::Letters;
    use indicatif::ProgressBar;

    const BOOK: &str = r#"
        [meta]
        name = "t"
        semantic_threshold = 0.9

        [[theme]]
        id = "aaa"
        label = "aaaa"
        description = "aa aa"
        semantic = true
        patterns = []
        examples = ["a a a", "aaab"]

        [[theme]]
        id = "bbb"
        label = "bbb"
        semantic = true
        threshold = 0.99
        patterns = ["bee"]

        [[theme]]
        id = "plain"
        label = "ccc"
        patterns = ["ccc"]
    "#;

    fn code(book: &Codebook, text: &str) -> Vec<Evidence> {
        let model = Letters::new();
        let coder = semantic_coder(book, &model).unwrap().unwrap();
        let v = embed_texts(&[text], &model, &ProgressBar::hidden()).unwrap();
        coder.code_vectors(text, &v[0])
    }

    #[test]
    fn the_closest_sentence_is_the_evidence_with_its_similarity() {
        let book = Codebook::parse(BOOK, "t.toml").unwrap();
        let text = "@ana ccc ccc. Aha, a banana! ccc";
        let ev = code(&book, text);
        assert_eq!(ev.len(), 1, "{ev:?}");
        let e = &ev[0];
        assert_eq!((e.theme, e.coder, e.pattern.as_str()), (0, CoderKind::Semantic, ""));
        assert_eq!(e.text, "Aha, a banana!");
        assert_eq!((e.start, e.end), (14, 28));
        let chars: Vec<char> = text.chars().collect();
        assert_eq!(chars[e.start..e.end].iter().collect::<String>(), e.text);
        // "Aha, a banana!" has a: 5 (one capital A is not a), b: 1.
        let model = Letters::new();
        let proto = &semantic_coder(&book, &model).unwrap().unwrap().prototypes[0].vector;
        let v = model.embed(&["Aha, a banana!"]).unwrap();
        let want = dot(&v[0], proto) as f64;
        assert!((e.similarity.unwrap() - want).abs() < 1e-4, "{e:?} {want}");
        assert!(want >= 0.9);
    }

    #[test]
    fn thresholds_come_from_the_theme_then_meta_then_the_default() {
        let book = Codebook::parse(BOOK, "t.toml").unwrap();
        let model = Letters::new();
        let coder = semantic_coder(&book, &model).unwrap().unwrap();
        let th: Vec<(usize, f32)> = coder.prototypes.iter().map(|p| (p.theme, p.threshold)).collect();
        assert_eq!(th, [(0, 0.9), (1, 0.99)]);
        // "abbb": close to bbb (0.95) but under its 0.99.
        assert!(code(&book, "abbb").is_empty());
        let lower = Codebook::parse(&BOOK.replace("threshold = 0.99", "threshold = 0.9"), "t").unwrap();
        assert_eq!(code(&lower, "abbb").len(), 1);
        let no_meta = Codebook::parse(&BOOK.replace("semantic_threshold = 0.9", ""), "t").unwrap();
        assert_eq!(
            no_meta.themes[0].semantic_threshold(&no_meta.meta),
            Some(crate::themes::codebook::DEFAULT_SEMANTIC_THRESHOLD)
        );
        assert_eq!(no_meta.themes[2].semantic_threshold(&no_meta.meta), None);
    }

    #[test]
    fn the_whole_text_codes_when_no_sentence_is_close_enough() {
        // Each sentence alone is half a's, half c's; the whole is mostly a's.
        let book = Codebook::parse(&BOOK.replace("semantic_threshold = 0.9", "semantic_threshold = 0.95"), "t").unwrap();
        let text = "aaac. aaac. aaac. aaa.";
        let ev = code(&book, text);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].text, "aaa.", "a sentence close enough wins over the whole");
        // "ab." and "ac." are each under 0.8 (about 0.76 and 0.71); together they are 0.84.
        let book = Codebook::parse(&BOOK.replace("semantic_threshold = 0.9", "semantic_threshold = 0.8"), "t").unwrap();
        let ev = code(&book, "ab. ac.");
        assert_eq!(ev.len(), 1);
        assert_eq!((ev[0].start, ev[0].end, ev[0].text.as_str()), (0, 7, "ab. ac."), "{ev:?}");
        assert!(ev[0].similarity.unwrap() > 0.8);
        assert!(code(&book, "ab.").is_empty());
    }

    #[test]
    fn nothing_to_embed_codes_nothing_and_a_book_without_semantic_themes_needs_no_model() {
        let book = Codebook::parse(BOOK, "t.toml").unwrap();
        assert!(code(&book, "@aaaa https://aaaa.example").is_empty());
        let plain = Codebook::parse(
            &BOOK.replace("semantic = true\n", "").replace("patterns = []", "patterns = [\"a\"]").replace("threshold = 0.99", ""),
            "t",
        )
        .unwrap();
        let model = Letters::new();
        assert!(semantic_coder(&plain, &model).unwrap().is_none());
        assert_eq!(model.embedded(), 0);
    }
}
