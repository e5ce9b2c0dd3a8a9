//! Corpus stage: where posts are kept between reading and analysis.
//!
//! Two stores with one meaning:
//! - [`Corpus`], an SQLite file (`--db`, default `rethread.db`): the researcher's durable
//!   collection. Imports upsert into it, so the same post read from two files, or from two
//!   overlapping API pages, is stored once, and importing a file again changes nothing.
//! - [`PostSet`], posts held in memory, for `--input FILE...` runs that never touch a database.
//!
//! Both apply the same identity rule: a post is `(platform, id)`; on Mastodon the ActivityPub
//! `uri` identifies it too, because every server gives the same remote post its own local id.
//! A second local id for a known `uri` is kept as an *alias* of the first, so replies that point
//! at either id find the post.
//!
//! Reading commands load a [`PostSet`] from either store, then hand it to the thread stage.

mod collect;
mod embeddings;
mod index;
mod packed;
mod sqlite;

pub use collect::{
    job_key, match_key, Cursor, FrontierState, Job, MatchCounts, PageGuard, PageStop, Warnings,
    MAX_EMPTY_PAGES,
};
pub use embeddings::{PostEmbedding, StoredEmbedding};
pub use index::Groups;
pub use packed::PackedPost;
pub use sqlite::{Corpus, CorpusError, ImportWriter};

use crate::model::Author;
use crate::model::{Missing, Platform, Post, Record};
use crate::source::{self, FileReport, ReadOptions};
use anyhow::Result;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use std::path::PathBuf;
use std::sync::Arc;

/// What storing one post did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Inserted,
    Updated,
    Unchanged,
    /// A Mastodon post already stored under another local id (same `uri`): kept as an alias.
    Alias,
}

/// Counts of outcomes, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub inserted: u64,
    pub updated: u64,
    pub unchanged: u64,
    pub aliases: u64,
    pub missing: u64,
}

impl Tally {
    pub fn count(&mut self, o: Outcome) {
        match o {
            Outcome::Inserted => self.inserted += 1,
            Outcome::Updated => self.updated += 1,
            Outcome::Unchanged => self.unchanged += 1,
            Outcome::Alias => self.aliases += 1,
        }
    }
}

/// Posts in memory, deduplicated by the corpus identity rule, with what the sources said about
/// posts they could not deliver. Posts are kept packed ([`PackedPost`]): a reading command holds
/// every post of a corpus at once, and a million posts must fit in well under a gigabyte.
#[derive(Debug, Default)]
pub struct PostSet {
    posts: Vec<PackedPost>,
    /// `(platform, id)` → index, keyed by a 64-bit hash of the pair so that the id is not stored
    /// twice; the post found is checked, and the rare pair whose hash is taken goes to `collided`.
    by_key: HashMap<u64, u32>,
    by_uri: HashMap<u64, u32>,
    collided: HashMap<(Platform, String), u32>,
    collided_uri: HashMap<(Platform, String), u32>,
    /// Other local ids of a post (Mastodon): `(platform, alias id)` → index into `posts`.
    aliases: HashMap<(Platform, String), u32>,
    missing: HashMap<(Platform, String), Missing>,
    /// One shared copy of each distinct author.
    authors: HashSet<Arc<Author>>,
    /// The files (or URLs) posts came from; provenance points into this table.
    sources: Vec<Arc<str>>,
    /// Tests only: every key hashes alike, so that the collision path is the one taken.
    #[cfg(test)]
    all_collide: bool,
}

fn hash_pair(platform: Platform, id: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    platform.hash(&mut h);
    id.hash(&mut h);
    h.finish()
}

impl PostSet {
    fn key_hash(&self, platform: Platform, id: &str) -> u64 {
        #[cfg(test)]
        if self.all_collide {
            return 0;
        }
        hash_pair(platform, id)
    }

    fn uri_hash(&self, platform: Platform, uri: &str) -> u64 {
        #[cfg(test)]
        if self.all_collide {
            return 0;
        }
        hash_pair(platform, uri).rotate_left(17)
    }
}

impl PostSet {
    pub fn new() -> PostSet {
        PostSet::default()
    }

    /// Read files straight into memory (the `--input` path). Raw JSON is dropped: the reading
    /// commands never need it, and keeping it would double the memory of a large run.
    pub fn from_files(
        files: &[PathBuf],
        opts: &ReadOptions,
        progress: &indicatif::ProgressBar,
    ) -> Result<(PostSet, Vec<FileReport>)> {
        let mut set = PostSet::new();
        let mut reports = Vec::new();
        let opts = ReadOptions {
            keep_raw: false,
            ..opts.clone()
        };
        for file in files {
            let report = source::read_file(file, &opts, progress, &mut |r| {
                set.add_record(r);
                Ok(())
            })?;
            reports.push(report);
        }
        Ok((set, reports))
    }

    pub fn add_record(&mut self, r: Record) -> Option<Outcome> {
        match r {
            Record::Post(p) => Some(self.add(*p)),
            Record::Missing(m) => {
                self.add_missing(m);
                None
            }
        }
    }

    /// Add a post, applying the identity rule; a second copy is merged ([`Post::merge`]).
    /// The raw JSON is not kept.
    pub fn add(&mut self, mut post: Post) -> Outcome {
        post.raw = None;
        post.author = match self.authors.get(&*post.author) {
            Some(shared) => shared.clone(),
            None => {
                self.authors.insert(post.author.clone());
                post.author
            }
        };
        if let Some(i) = self.find_key(post.platform, &post.id) {
            let mut stored = self.posts[i].to_post(&self.sources);
            if !stored.merge(post) {
                return Outcome::Unchanged;
            }
            let source = self.source_index(&stored);
            self.posts[i] = PackedPost::pack(stored, source);
            return Outcome::Updated;
        }
        if let Some(&i) = self.aliases.get(&(post.platform, post.id.clone())) {
            self.fill(i as usize, post);
            return Outcome::Alias;
        }
        let index = self.posts.len() as u32;
        if post.platform.uri_is_identity() {
            if let Some(uri) = &post.uri {
                if let Some(i) = self.find_uri(post.platform, uri) {
                    self.aliases
                        .insert((post.platform, post.id.clone()), i as u32);
                    self.fill(i, post);
                    return Outcome::Alias;
                }
                match self.by_uri.entry(self.uri_hash(post.platform, uri)) {
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(index);
                    }
                    std::collections::hash_map::Entry::Occupied(_) => {
                        self.collided_uri
                            .insert((post.platform, uri.clone()), index);
                    }
                }
            }
        }
        match self.by_key.entry(self.key_hash(post.platform, &post.id)) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(index);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided
                    .insert((post.platform, post.id.clone()), index);
            }
        }
        let source = self.source_index(&post);
        self.posts.push(PackedPost::pack(post, source));
        Outcome::Inserted
    }

    /// Rewrite every post in place with `f` (which must not change its platform or id), keeping
    /// the indexes, aliases and missing-post notes: e.g. to pseudonymise before an export.
    pub fn map_posts(&mut self, mut f: impl FnMut(&mut Post)) {
        for i in 0..self.posts.len() {
            let mut p = self.posts[i].to_post(&self.sources);
            let (platform, id) = (p.platform, p.id.clone());
            f(&mut p);
            assert!(
                p.platform == platform && p.id == id,
                "map_posts must keep ids"
            );
            let source = self.source_index(&p);
            self.posts[i] = PackedPost::pack(p, source);
        }
    }

    /// Fill what the post at `i` lacks from another server's copy of it (see `Post::fill_from`).
    fn fill(&mut self, i: usize, copy: Post) {
        let mut stored = self.posts[i].to_post(&self.sources);
        if stored.fill_from(copy) {
            let source = self.source_index(&stored);
            self.posts[i] = PackedPost::pack(stored, source);
        }
    }

    /// The index of the post's source in the source table, adding it if new. Posts arrive file
    /// by file, so the last entry is nearly always the one.
    fn source_index(&mut self, post: &Post) -> Option<u32> {
        let source = &post.provenance.as_ref()?.source;
        if let Some(k) = self.sources.iter().rposition(|s| s == source) {
            return Some(k as u32);
        }
        self.sources.push(source.clone());
        Some(self.sources.len() as u32 - 1)
    }

    fn find_key(&self, platform: Platform, id: &str) -> Option<usize> {
        if let Some(&i) = self.by_key.get(&self.key_hash(platform, id)) {
            let p = &self.posts[i as usize];
            if p.platform() == platform && p.id() == id {
                return Some(i as usize);
            }
        }
        if self.collided.is_empty() {
            return None;
        }
        self.collided
            .get(&(platform, id.to_string()))
            .map(|&i| i as usize)
    }

    fn find_uri(&self, platform: Platform, uri: &str) -> Option<usize> {
        if let Some(&i) = self.by_uri.get(&self.uri_hash(platform, uri)) {
            let p = &self.posts[i as usize];
            if p.platform() == platform && p.uri() == Some(uri) {
                return Some(i as usize);
            }
        }
        self.collided_uri
            .get(&(platform, uri.to_string()))
            .map(|&i| i as usize)
    }

    pub fn add_missing(&mut self, m: Missing) {
        match self.missing.entry((m.platform, m.id.clone())) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(m);
            }
            // A later note may know the parent an earlier one did not.
            std::collections::hash_map::Entry::Occupied(mut o) => {
                if o.get().reply_to.is_none() && m.reply_to.is_some() {
                    o.get_mut().reply_to = m.reply_to;
                }
            }
        }
    }

    pub fn add_alias(&mut self, platform: Platform, alias: String, canonical: &str) {
        if let Some(i) = self.find_key(platform, canonical) {
            self.aliases.insert((platform, alias), i as u32);
        }
    }

    pub fn posts(&self) -> &[PackedPost] {
        &self.posts
    }

    /// The full post at `i` (without raw JSON).
    pub fn post(&self, i: usize) -> Post {
        self.posts[i].to_post(&self.sources)
    }

    pub fn len(&self) -> usize {
        self.posts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.posts.is_empty()
    }

    /// The index of the post with this id (or alias), if present.
    pub fn find(&self, platform: Platform, id: &str) -> Option<usize> {
        self.find_key(platform, id).or_else(|| {
            if self.aliases.is_empty() {
                return None;
            }
            self.aliases
                .get(&(platform, id.to_string()))
                .map(|&i| i as usize)
        })
    }

    /// What the source said about a post it did not deliver, if anything.
    pub fn missing(&self, platform: Platform, id: &str) -> Option<&Missing> {
        if self.missing.is_empty() {
            return None;
        }
        self.missing.get(&(platform, id.to_string()))
    }

    /// Every post the sources said exist but did not deliver, in no particular order.
    pub fn all_missing(&self) -> impl Iterator<Item = &Missing> {
        self.missing.values()
    }

    /// Why the source said a post is unavailable, if it did.
    pub fn missing_reason(&self, platform: Platform, id: &str) -> Option<&str> {
        self.missing(platform, id).map(|m| m.reason.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(platform: Platform, id: &str, uri: Option<&str>, text: &str) -> Post {
        let mut p = Post::new(platform, id);
        p.uri = uri.map(str::to_string);
        p.text = text.into();
        p
    }

    #[test]
    fn identity_is_platform_and_id_and_mastodon_uri() {
        let mut set = PostSet::new();
        assert_eq!(
            set.add(post(Platform::Twitter, "1", None, "a")),
            Outcome::Inserted
        );
        assert_eq!(
            set.add(post(Platform::Twitter, "1", None, "a")),
            Outcome::Unchanged
        );
        assert_eq!(
            set.add(post(Platform::Mastodon, "1", Some("u1"), "a")),
            Outcome::Inserted
        );
        assert_eq!(
            set.add(post(Platform::Mastodon, "99", Some("u1"), "a")),
            Outcome::Alias
        );
        assert_eq!(
            set.add(post(Platform::Twitter, "1", None, "edited")),
            Outcome::Unchanged
        );
        let mut fuller = post(Platform::Twitter, "1", None, "");
        fuller.language = Some("en".into());
        assert_eq!(set.add(fuller), Outcome::Updated, "a blank field is filled");
        assert_eq!(set.len(), 2);
        assert_eq!(
            set.find(Platform::Mastodon, "99"),
            set.find(Platform::Mastodon, "1")
        );
        assert_eq!(
            set.posts()[0].text(),
            "a",
            "equally full copies: the first stays"
        );
    }

    #[test]
    fn the_identity_rule_holds_when_every_hash_collides() {
        let mut set = PostSet {
            all_collide: true,
            ..PostSet::default()
        };
        for id in ["1", "2", "3"] {
            assert_eq!(
                set.add(post(Platform::Twitter, id, None, id)),
                Outcome::Inserted
            );
        }
        assert_eq!(
            set.add(post(Platform::Mastodon, "1", Some("u1"), "m1")),
            Outcome::Inserted
        );
        assert_eq!(
            set.add(post(Platform::Mastodon, "2", Some("u2"), "m2")),
            Outcome::Inserted
        );
        assert_eq!(
            set.add(post(Platform::Mastodon, "9", Some("u2"), "m2")),
            Outcome::Alias
        );
        assert_eq!(
            set.add(post(Platform::Twitter, "2", None, "2")),
            Outcome::Unchanged
        );
        assert_eq!(set.len(), 5);
        for (platform, id, text) in [
            (Platform::Twitter, "1", "1"),
            (Platform::Twitter, "2", "2"),
            (Platform::Twitter, "3", "3"),
            (Platform::Mastodon, "1", "m1"),
            (Platform::Mastodon, "2", "m2"),
            (Platform::Mastodon, "9", "m2"),
        ] {
            let i = set
                .find(platform, id)
                .unwrap_or_else(|| panic!("{platform} {id}"));
            assert_eq!(set.posts()[i].text(), text);
        }
        assert_eq!(set.find(Platform::Twitter, "4"), None);
    }
}
