//! Export stage: write threads out in the formats researchers read and load elsewhere.
//!
//! Every writer takes the same [`Input`]: the posts, the threads built from them, which threads
//! to write, each post's codes, and whether the accounts are pseudonymised. Markdown rolls its
//! theme tables up from those codes itself, so every format shows the same codes. Two rules
//! hold for all of them, because post text and ids come from strangers on the internet:
//! - text is escaped for the target format, so a post cannot forge structure in it;
//! - file names are made by [`file_stem`], never by pasting an id into a path, and every file
//!   is written by [`atomic`]: beside its target and renamed into place, never through a link.

pub mod atomic;
pub mod codes;
pub mod convokit;
pub mod graph;
pub mod html;
pub mod markdown;
pub mod parquet;
pub mod pseudonym;
pub mod qdpx;
pub mod table;
pub mod twarc2;

use crate::corpus::PostSet;
use crate::themes::{Codebook, Evidence};
use crate::thread::Threads;
use sha2::{Digest, Sha256};

/// What every writer takes, the same for all: the posts, their threads, which threads to
/// write, each post's codes with the codebook they refer to (when coded), and whether the
/// accounts were pseudonymised (then every format says so).
#[derive(Clone, Copy)]
pub struct Input<'a> {
    pub set: &'a PostSet,
    pub threads: &'a Threads,
    /// Indices into `threads.threads`, in the order to write them.
    pub selected: &'a [usize],
    /// The codebook and each post's codes, indexed like `set.posts()`.
    pub codes: Option<(&'a Codebook, &'a [Vec<Evidence>])>,
    pub pseudonymised: bool,
}

/// What a pseudonymised export says at its top.
pub const PSEUDONYMISED_NOTE: &str = "Pseudonymised: every account is a salted hash (the same account, the same hash); post links are left out.";

impl Input<'_> {
    /// The line a readable export shows at its top, if any.
    pub fn note(&self) -> Option<&'static str> {
        self.pseudonymised.then_some(PSEUDONYMISED_NOTE)
    }
}
use std::collections::HashSet;

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

/// One file name per id, `STEM.EXT`, distinct from each other and from `index.EXT`, in the
/// order of `ids`: what markdown and html name their per-thread files with.
///
/// [`file_stem`] keeps an id that is already a safe stem as it is, and adds a hash to one it had
/// to change, so two ids can still meet on one stem: thread `a/b` becomes `a_b-d3ec82acbc`, which
/// is also the stem of a thread whose id is literally `a_b-d3ec82acbc`. And `Abc` and `abc` are
/// two files on Linux but one on macOS and Windows, whose file systems ignore case. So names
/// are reserved case-insensitively, and a later id whose name is taken gets `-2`, `-3`, ...
/// (first come, in `ids` order, keeps the plain name: a non-colliding id's name never changes).
pub fn unique_file_names<'a>(ids: impl IntoIterator<Item = &'a str>, ext: &str) -> Vec<String> {
    let mut namer = FileNamer::new(ext);
    ids.into_iter().map(|id| namer.name(id)).collect()
}

/// [`unique_file_names`] one id at a time, for writers that meet their threads a batch at a
/// time: each name depends only on the ids before it.
pub struct FileNamer {
    used: HashSet<String>,
    ext: String,
}

impl FileNamer {
    pub fn new(ext: &str) -> FileNamer {
        let mut used = HashSet::new();
        used.insert(format!("index.{ext}").to_ascii_lowercase());
        FileNamer {
            used,
            ext: ext.to_string(),
        }
    }

    /// The file name of the next id.
    pub fn name(&mut self, id: &str) -> String {
        let ext = &self.ext;
        let base = file_stem(id);
        let mut name = format!("{base}.{ext}");
        let mut n = 1;
        // Stems are ASCII (see `file_stem`), so ASCII lowercase is the whole of case folding.
        while !self.used.insert(name.to_ascii_lowercase()) {
            n += 1;
            name = format!("{base}-{n}.{ext}");
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_unique_whatever_the_case() {
        let hashed = file_stem("a/b");
        let names = unique_file_names(
            ["a/b", hashed.as_str(), "Abc", "abc", "ABC-2", "INDEX", "x"],
            "md",
        );
        assert_eq!(names[0], format!("{hashed}.md"));
        assert_eq!(names[1], format!("{hashed}-2.md"));
        assert_eq!(names[2], "Abc.md");
        assert_eq!(names[3], "abc-2.md");
        assert_eq!(names[4], "ABC-2-2.md");
        assert_eq!(names[5], "INDEX-2.md");
        assert_eq!(names[6], "x.md");
        let folded: HashSet<String> = names.iter().map(|n| n.to_lowercase()).collect();
        assert_eq!(folded.len(), names.len());
    }

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
