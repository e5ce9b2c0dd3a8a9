//! Themes: code every post against a codebook, with the words that triggered each code.
//!
//! `codebook` reads and checks the TOML codebook and compiles it into one matcher;
//! `pattern` holds the tokenizer and the one-pass matcher.

pub mod codebook;
pub mod pattern;

pub use codebook::{Codebook, Coder, Evidence};
