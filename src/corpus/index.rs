//! The corpus cut into independent groups of posts, for commands that must not hold it whole.
//!
//! A reading command used to load every post of the corpus ([`Corpus::load`]): about 750
//! bytes a post, so an archive of 10M posts needed 7.5 GB. But a thread only ever depends on
//! the posts linked to it: its replies and parents, the post a reply to a repost resolves to,
//! the root its conversation names, the other local ids (aliases) and uris of its posts, and
//! what the sources said about its missing posts. [`Groups`] follows those links over the
//! whole corpus without keeping a single id string: every id is a 64-bit hash, every hash a
//! node of a union-find, and the posts whose nodes meet form one *group*. A group holds one
//! or more whole threads, so building the threads of a few groups from just their posts (read
//! back with [`Corpus::load_groups`]) gives exactly the threads the whole corpus would.
//!
//! Two different ids whose hashes are equal (about one pair in 10^19 at 10M posts) only put
//! two groups into one: a group is a set of posts that *may* belong together, and the thread
//! stage, given the real ids, decides what does. So a collision costs memory, never
//! correctness.
//!
//! Memory, at the peak while grouping: the sorted hashes (8 bytes each, about three a post),
//! a union-find parent for each (4), and a row id and node for each post (12): about 48
//! bytes a post; what stays is the row ids in group order (8) and a start per group.

use super::sqlite::{post_from_row, Corpus, POST_COLUMNS};
use super::PostSet;
use crate::model::{Missing, Platform};
use anyhow::Result;
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The groups of a corpus. See the module documentation.
pub struct Groups {
    /// Row ids of posts, group by group; within a group in ascending row id (table order).
    rows: Vec<i64>,
    /// Where each group's rows start in `rows` (one more entry than groups).
    starts: Vec<u32>,
    /// What the sources said about missing posts, each with its group, sorted by group.
    missing: Vec<(u32, Missing)>,
    /// Aliases `(platform, alias, canonical)`, each with its group, sorted by group.
    aliases: Vec<(u32, Platform, String, String)>,
}

fn hash_key(platform: Platform, id: &str, salt: u8) -> u64 {
    let mut h = FxHasher::default();
    salt.hash(&mut h);
    platform.hash(&mut h);
    id.hash(&mut h);
    h.finish()
}

/// A post's id and the ids it links to, as hashes.
fn post_keys(platform: Platform, cols: [Option<&str>; 6], quotes: bool, mut each: impl FnMut(u64)) {
    let [id, uri, reply_to, conversation, repost_of, quote_of] = cols;
    if let Some(id) = id {
        each(hash_key(platform, id, 0));
    }
    // Two stored posts with one identity uri are one post in memory (see `PostSet::add`).
    if platform.uri_is_identity() {
        if let Some(uri) = uri {
            each(hash_key(platform, uri, 1));
        }
    }
    for l in [reply_to, conversation, repost_of].into_iter().flatten() {
        each(hash_key(platform, l, 0));
    }
    // Without --quotes a quote starts its own thread and its link is never followed.
    if quotes {
        if let Some(q) = quote_of {
            each(hash_key(platform, q, 0));
        }
    }
}

/// Union-find over node indices, with path halving (no recursion) and union by size.
struct UnionFind {
    parent: Vec<u32>,
}

impl UnionFind {
    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = self.parent[x as usize];
        }
        x
    }
    fn union(&mut self, a: u32, b: u32) {
        let (a, b) = (self.find(a), self.find(b));
        if a != b {
            // The smaller index wins: deterministic, and keeps trees shallow enough with halving.
            let (lo, hi) = if a < b { (a, b) } else { (b, a) };
            self.parent[hi as usize] = lo;
        }
    }
}

const KEY_SQL: &str =
    "SELECT rowid, platform, id, uri, reply_to, conversation_id, repost_of, quote_of FROM posts";

impl Corpus {
    /// Cut the corpus into groups (see the module documentation). `quotes`: whether threads
    /// will follow quote links (`--quotes`), which then join groups too.
    pub fn groups(&self, quotes: bool) -> Result<Groups> {
        self.hold_snapshot()?;
        // What the sources said about missing posts, and the aliases: few, held whole.
        let missing = self.read_missing()?;
        let aliases = self.read_aliases()?;

        // Pass 1: every hash, sorted and deduplicated, is a node.
        // Reserved for about three hashes a post (own id, parent, conversation): a vector
        // left to grow by doubling would hold its old and new buffers at once, up to three
        // times the hashes, at the peak of the whole command.
        let stored: i64 = self
            .conn
            .query_row("SELECT count(*) FROM posts", [], |r| r.get(0))?;
        let mut keys: Vec<u64> =
            Vec::with_capacity(3 * stored as usize + 2 * (missing.len() + aliases.len()));
        let mut posts = 0usize;
        self.each_key_row(quotes, |_, _, hashes| {
            posts += 1;
            keys.extend_from_slice(hashes);
        })?;
        for m in &missing {
            keys.push(hash_key(m.platform, &m.id, 0));
            if let Some(r) = &m.reply_to {
                keys.push(hash_key(m.platform, r, 0));
            }
        }
        for (platform, alias, canonical) in &aliases {
            keys.push(hash_key(*platform, alias, 0));
            keys.push(hash_key(*platform, canonical, 0));
        }
        keys.sort_unstable();
        keys.dedup();
        keys.shrink_to_fit();
        let node = |h: u64| keys.binary_search(&h).expect("every hash was collected") as u32;
        let mut uf = UnionFind {
            parent: (0..keys.len() as u32).collect(),
        };

        // Pass 2: join each post's nodes; remember each post's own node.
        let mut own: Vec<(i64, u32)> = Vec::with_capacity(posts);
        self.each_key_row(quotes, |rowid, _, hashes| {
            let first = node(hashes[0]);
            for &h in &hashes[1..] {
                uf.union(first, node(h));
            }
            own.push((rowid, first));
        })?;
        for m in &missing {
            if let Some(r) = &m.reply_to {
                uf.union(
                    node(hash_key(m.platform, &m.id, 0)),
                    node(hash_key(m.platform, r, 0)),
                );
            }
        }
        for (platform, alias, canonical) in &aliases {
            uf.union(
                node(hash_key(*platform, alias, 0)),
                node(hash_key(*platform, canonical, 0)),
            );
        }

        // Groups numbered by their first post in table order; rows placed by counting sort.
        let mut group_of_root: Vec<u32> = vec![u32::MAX; keys.len()];
        let mut counts: Vec<u32> = Vec::new();
        let mut post_group: Vec<u32> = Vec::with_capacity(own.len());
        for &(_, n) in &own {
            let root = uf.find(n) as usize;
            if group_of_root[root] == u32::MAX {
                group_of_root[root] = counts.len() as u32;
                counts.push(0);
            }
            let g = group_of_root[root];
            counts[g as usize] += 1;
            post_group.push(g);
        }
        let mut starts = Vec::with_capacity(counts.len() + 1);
        let mut at = 0u32;
        for c in &counts {
            starts.push(at);
            at += c;
        }
        starts.push(at);
        drop(counts);
        let mut fill: Vec<u32> = starts[..starts.len() - 1].to_vec();
        let mut rows = vec![0i64; own.len()];
        // `own` is in table order, so each group's rows come out ascending.
        for (&(rowid, _), &g) in own.iter().zip(&post_group) {
            rows[fill[g as usize] as usize] = rowid;
            fill[g as usize] += 1;
        }
        drop((own, post_group, fill));
        // A missing note or alias belongs to the group of its post; one whose posts are
        // all absent belongs to no group and is never read (nothing would use it).
        let mut group_of = |h: u64| -> Option<u32> {
            let root = uf.find(node(h)) as usize;
            Some(group_of_root[root]).filter(|&g| g != u32::MAX)
        };
        let missing: Vec<(u32, Missing)> = missing
            .into_iter()
            .filter_map(|m| group_of(hash_key(m.platform, &m.id, 0)).map(|g| (g, m)))
            .collect();
        let mut aliases: Vec<(u32, Platform, String, String)> = aliases
            .into_iter()
            .filter_map(|(p, a, c)| group_of(hash_key(p, &c, 0)).map(|g| (g, p, a, c)))
            .collect();
        // By group, keeping table order within a group (a stable sort), for `load_groups`.
        let mut missing = missing;
        missing.sort_by_key(|m| m.0);
        aliases.sort_by_key(|a| a.0);
        Ok(Groups {
            rows,
            starts,
            missing,
            aliases,
        })
    }

    /// Every post's row id, platform and link hashes (its own id's first), in table order.
    fn each_key_row(&self, quotes: bool, mut f: impl FnMut(i64, Platform, &[u64])) -> Result<()> {
        let mut stmt = self.conn.prepare(KEY_SQL)?;
        let mut rows = stmt.query([])?;
        let mut hashes: Vec<u64> = Vec::with_capacity(6);
        while let Some(row) = rows.next()? {
            let rowid: i64 = row.get(0)?;
            let name = row.get_ref(1)?.as_str()?;
            let Some(platform) = Platform::parse(name) else {
                anyhow::bail!("unknown platform {name:?} in corpus");
            };
            let col = |k: usize| {
                row.get_ref(k)
                    .ok()
                    .and_then(|v| v.as_str_or_null().ok().flatten())
            };
            hashes.clear();
            post_keys(
                platform,
                [col(2), col(3), col(4), col(5), col(6), col(7)],
                quotes,
                |h| hashes.push(h),
            );
            f(rowid, platform, &hashes);
        }
        Ok(())
    }

    /// The posts of these groups (with their aliases and missing-post notes) as a post set,
    /// the same set [`Corpus::load`] would give restricted to them. `groups` ascending.
    /// Also gives the group of each post of the set, indexed like `set.posts()`.
    pub fn load_groups(&self, index: &Groups, groups: &[u32]) -> Result<(PostSet, Vec<u32>)> {
        let mut rowids: Vec<(i64, u32)> = groups
            .iter()
            .flat_map(|&g| index.rows_of(g).iter().map(move |&r| (r, g)))
            .collect();
        // Table order, as `load` reads them: the set's indices follow the same order.
        rowids.sort_unstable();
        let mut post_groups = Vec::with_capacity(rowids.len());
        let mut set = PostSet::new();
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {POST_COLUMNS} FROM posts WHERE rowid = ?1"
        ))?;
        let mut sources: Vec<Arc<str>> = Vec::new();
        for (rowid, g) in rowids {
            let mut rows = stmt.query([rowid])?;
            if let Some(row) = rows.next()? {
                set.add(post_from_row(row, &mut sources)?);
                // A copy merged into a post already read adds no post.
                post_groups.resize(set.len(), g);
            }
        }
        // Both lists are sorted by group (stable: in table order within one), so each
        // group's notes are one range; added in list order, as `load` adds them.
        let mut aliases: Vec<usize> = Vec::new();
        let mut missing: Vec<usize> = Vec::new();
        for &g in groups {
            let a = index.aliases.partition_point(|x| x.0 < g);
            let b = index.aliases.partition_point(|x| x.0 <= g);
            aliases.extend(a..b);
            let a = index.missing.partition_point(|x| x.0 < g);
            let b = index.missing.partition_point(|x| x.0 <= g);
            missing.extend(a..b);
        }
        aliases.sort_unstable();
        missing.sort_unstable();
        for k in aliases {
            let (_, platform, alias, canonical) = &index.aliases[k];
            set.add_alias(*platform, alias.clone(), canonical);
        }
        for k in missing {
            set.add_missing(index.missing[k].1.clone());
        }
        Ok((set, post_groups))
    }
}

impl Corpus {
    /// From now until this connection closes, every read sees the corpus as it is now: the
    /// groups, and the posts read batch by batch after them, are of one corpus even while an
    /// import or a collection writes to it meanwhile (WAL readers keep their snapshot). One
    /// read transaction instead of one per query is also what makes reading a post at a time
    /// cheap: a query outside a transaction takes and drops SQLite's file lock (two `fcntl`
    /// calls) and may drop its page cache, which was most of the time of a batched read.
    fn hold_snapshot(&self) -> Result<()> {
        if self.conn.is_autocommit() {
            // A bigger page cache for the reads by row id: 64 MiB (negative: in KiB).
            self.conn.pragma_update(None, "cache_size", -65536)?;
            self.conn.execute_batch("BEGIN DEFERRED")?;
            // A deferred transaction starts at its first read: read now, so the snapshot is
            // taken here.
            self.conn
                .query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
                    r.get::<_, i64>(0)
                })?;
        }
        Ok(())
    }
}

impl Groups {
    pub fn len(&self) -> usize {
        self.starts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many posts group `g` holds.
    pub fn size(&self, g: u32) -> usize {
        self.rows_of(g).len()
    }

    /// Posts in all groups.
    pub fn posts(&self) -> usize {
        self.rows.len()
    }

    fn rows_of(&self, g: u32) -> &[i64] {
        let (a, b) = (self.starts[g as usize], self.starts[g as usize + 1]);
        &self.rows[a as usize..b as usize]
    }

    /// The groups in consecutive runs of about `posts` posts each (a group larger than that
    /// is a run of its own): the batches a bounded-memory command reads one at a time.
    pub fn batches(&self, posts: usize) -> Vec<std::ops::Range<u32>> {
        let mut out = Vec::new();
        let mut start = 0u32;
        let mut held = 0usize;
        for g in 0..self.len() as u32 {
            held += self.size(g);
            if held >= posts {
                out.push(start..g + 1);
                start = g + 1;
                held = 0;
            }
        }
        if (start as usize) < self.len() {
            out.push(start..self.len() as u32);
        }
        out
    }
}
