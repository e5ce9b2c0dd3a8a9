//! rethread: rebuild public reply threads from Mastodon, Bluesky and Twitter/X data.
//!
//! The data flows one way through five stages, each a module with one public entry point:
//!
//! ```text
//! source  (read files; collect from APIs)             source::read_file, source::*_api::collect
//!   → corpus (SQLite store, or posts held in memory)  corpus::Corpus / corpus::PostSet
//!   → thread (petgraph reply graph, gaps, metrics)    thread::build
//!   → themes (codebook, patterns, semantic, learned)  themes::code_corpus
//!   → export (transcripts, tables, graphs, ...)       export::markdown::write, export::table, ...
//! ```
//!
//! A stage only ever uses the types of the stages before it (and [`model`]), never reaches back.
//! The collectors' HTTP (timeouts, retries, rate limits, redaction) is `source::net`. The
//! `rethread` binary turns command-line flags into calls of these stages.

pub mod corpus;
pub mod export;
pub mod model;
pub mod source;
pub mod themes;
pub mod thread;
