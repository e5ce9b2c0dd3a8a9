//! Themes: code every post against a codebook, with the words that triggered each code.
//!
//! `codebook` reads and checks the TOML codebook and compiles it into one matcher;
//! `pattern` holds the tokenizer and the one-pass matcher; `rollup` codes a corpus and sums the
//! codes up per thread and per branch; `vectors` embeds posts and sentences (kept in the corpus)
//! and `semantic` codes the themes marked `semantic = true` by their closeness to a prototype.

pub mod cluster;
pub mod codebook;
pub mod discover;
pub mod embed;
pub mod eval;
pub mod learn;
pub mod pattern;
pub mod rollup;
pub mod semantic;
pub mod vectors;

pub use codebook::{Codebook, Coder, CoderKind, Evidence};
pub use rollup::{
    code_corpus, code_corpus_with, code_posts_with, rollup_threads, thread_coding, Coding,
    PostCoder, Rollup, ThemeRollup, ThreadCoding,
};
pub use semantic::{semantic_coder, SemanticCoder};
