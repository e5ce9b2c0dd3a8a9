//! Export stage: write threads out in the formats researchers read and load elsewhere.
//!
//! Every exporter takes the [`PostSet`](crate::corpus::PostSet) and the
//! [`Threads`](crate::thread::Threads) built from it, and writes files. Two rules hold for all
//! of them, because post text and ids come from strangers on the internet:
//! - text is escaped for the target format, so a post cannot forge structure in it;
//! - file names are made by [`file_stem`], never by pasting an id into a path, and every file
//!   is written by [`atomic`]: beside its target and renamed into place, never through a link.

pub mod atomic;
pub mod convokit;
pub mod gexf;
pub mod graph;
pub mod html;
pub mod markdown;
pub mod pseudonym;
pub mod table;
pub mod twarc2;

use sha2::{Digest, Sha256};

/// A file name stem for an id from the data: ASCII letters, digits, `-` and `_` only, at most
/// 80 characters. When the id had to be changed to fit, a short hash of the original is added so
/// that two different ids never share a file. The stem can never contain a path separator or be
/// `.`/`..`, so a file made from it stays inside the output directory.
pub fn file_stem(id: &str) -> String {
    const MAX: usize = 80;
    let clean: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(MAX)
        .collect();
    if clean == id && !clean.is_empty() && clean != "index" {
        return clean;
    }
    let hash = Sha256::digest(id.as_bytes());
    let hex: String = hash[..5].iter().map(|b| format!("{b:02x}")).collect();
    format!("{clean}-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_safe_and_distinct() {
        assert_eq!(file_stem("twitter-123"), "twitter-123");
        for hostile in [
            "../../etc/passwd",
            "/abs",
            "a/b",
            "..",
            ".",
            "",
            "index",
            "x\0y",
            "C:\\win",
            "é",
        ] {
            let s = file_stem(hostile);
            assert!(!s.is_empty());
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "{s}"
            );
            assert_ne!(s, "index");
        }
        assert_ne!(file_stem("a/b"), file_stem("a_b"));
        assert_ne!(file_stem("a/b"), file_stem("a?b"));
        assert!(file_stem(&"x".repeat(500)).len() <= 91);
    }
}
