//! Post and sentence vectors: what the model coders and discovery read.
//!
//! A post's text is embedded once as a whole (with URLs and @mentions left out: they name
//! places and people, not what is said) and once per sentence, so that a code can point at the
//! sentence that earned it. Offsets are character offsets in the post's plain text, as the
//! pattern coder's are, so every coder's evidence can be shown the same way.

/// One sentence of a text and its vector.
#[derive(Debug, Clone, PartialEq)]
pub struct SentenceVector {
    /// Character offsets of the sentence in the text, end exclusive.
    pub start: usize,
    pub end: usize,
    /// Unit length.
    pub vector: Vec<f32>,
}

/// The vectors of one text (a post, or a labelled example).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TextVectors {
    /// The whole text's vector; `None` when nothing is left to embed (a post of only links,
    /// mentions or media).
    pub text: Option<Vec<f32>>,
    /// Its sentences, in order; empty when `text` is `None`.
    pub sentences: Vec<SentenceVector>,
}
