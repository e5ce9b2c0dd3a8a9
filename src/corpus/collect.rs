//! What a collection run keeps in the corpus so that it can be stopped at any moment and
//! started again: the job (its arguments), a cursor per timeline or search, the thread
//! frontier (posts whose context is still to be asked), and per-post provenance.
//!
//! The collector writes a page of posts, the cursor that follows it and the frontier entries it
//! adds in one transaction. A run killed between two transactions therefore resumes from a
//! state in which every stored post is accounted for: nothing is fetched into the void and
//! nothing is stored twice (posts are upserts anyway).
//!
//! Tables:
//! - `collect_jobs(job, args, started_at, finished_at, counters)`: `job` is a digest of the
//!   arguments that define what is collected, `counters` a JSON object of running totals.
//! - `collect_cursors(job, stream, next_url, matched, done)`: one row per tag or search.
//! - `collect_frontier(job, server, local_id, state, reason)`: `state` is `pending` (context to
//!   ask), `placed` (seen inside a context already fetched from that server: no need to ask),
//!   `recheck` (to ask although placed: an answer that showed it was cut at a cap), `asked`, or
//!   `failed` (with the reason).
//! - `fetches(platform, id, server, endpoint, authenticated, fetched_at)`: where each post was
//!   first fetched from each server.
//! - `collect_matches(job, server, key, id)`: which server's tag timeline or search returned
//!   which post (`key` = [`match_key`] of its `uri`), for the coverage report.

use super::{Corpus, ImportWriter};
use anyhow::Result;
use rusqlite::{params, OptionalExtension};

/// A job as found (or created) in the corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub key: String,
    /// An unfinished run of the same job was found and is being resumed.
    pub resumed: bool,
    /// The running totals saved by earlier runs of this job (a JSON object).
    pub counters: String,
}

/// Where a timeline or search stands.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cursor {
    /// The next page to fetch; `None` before the first page.
    pub next_url: Option<String>,
    /// Posts matched so far (for `--max-posts`).
    pub matched: u64,
    pub done: bool,
}

/// Pages in a row that bring no post at all, with a next cursor each time, before a timeline is
/// given up. The Twitter/X full-archive search does send empty pages with a `next_token` when
/// a query is sparse, so one empty page is no reason to stop; a server that sends nothing but
/// fresh cursors would otherwise be paged forever.
pub const MAX_EMPTY_PAGES: u32 = 20;

/// Why a timeline was stopped although the server offered a next page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageStop {
    /// The next cursor is one this timeline has already asked (the same as the last one, or an
    /// earlier one: a cycle).
    RepeatedCursor,
    /// Every post of the page was on an earlier page of this timeline.
    NothingNew,
    /// [`MAX_EMPTY_PAGES`] pages in a row had no post.
    EmptyPages,
}

impl std::fmt::Display for PageStop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageStop::RepeatedCursor => write!(f, "the server repeated a cursor"),
            PageStop::NothingNew => write!(f, "the page brought nothing new"),
            PageStop::EmptyPages => write!(f, "{MAX_EMPTY_PAGES} pages in a row brought no post"),
        }
    }
}

/// Watches the pages of one timeline (a tag, a search, a conversation) for a server that pages
/// in circles, which otherwise is asked for ever: cursors and post ids are server data, and a
/// server may send the same again. Start a guard per timeline and per run; a resumed run
/// starts from the stored cursor, which it counts as asked.
#[derive(Debug, Default)]
pub struct PageGuard {
    cursors: std::collections::HashSet<String>,
    ids: std::collections::HashSet<String>,
    empty_run: u32,
}

impl PageGuard {
    /// A guard that counts `asked` (the first page's URL, or the stored cursor) as asked.
    pub fn starting_at(asked: &str) -> PageGuard {
        let mut g = PageGuard::default();
        g.cursors.insert(asked.to_string());
        g
    }

    /// Note the posts of a page; returns, for each, whether this timeline sees it for the
    /// first time.
    pub fn fresh<'a>(&mut self, ids: impl IntoIterator<Item = &'a str>) -> Vec<bool> {
        ids.into_iter()
            .map(|id| self.ids.insert(id.to_string()))
            .collect()
    }

    /// After a page of `posts` posts of which `fresh` were new, the server offers `next`:
    /// whether to stop instead of asking it. A cursor is counted as asked from here on.
    pub fn stop_before(&mut self, next: &str, posts: usize, fresh: usize) -> Option<PageStop> {
        if !self.cursors.insert(next.to_string()) {
            return Some(PageStop::RepeatedCursor);
        }
        if posts > 0 && fresh == 0 {
            return Some(PageStop::NothingNew);
        }
        if posts == 0 {
            self.empty_run += 1;
            if self.empty_run >= MAX_EMPTY_PAGES {
                return Some(PageStop::EmptyPages);
            }
        } else {
            self.empty_run = 0;
        }
        None
    }
}

/// Things the researcher should know about a job, kept with its counters in the corpus so that
/// a resumed run reports them too. At most [`Warnings::KEPT`] are kept word for word (a job
/// may page thousands of conversations); the rest are counted.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(default)]
pub struct Warnings {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip_serializing_if = "is_zero")]
    pub more_warnings: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Warnings {
    pub const KEPT: usize = 20;

    pub fn add(&mut self, w: String) {
        if self.warnings.contains(&w) {
            return;
        }
        if self.warnings.len() < Self::KEPT {
            self.warnings.push(w);
        } else {
            self.more_warnings += 1;
        }
    }

    /// The lines to print: each warning, and how many more there were.
    pub fn lines(&self) -> Vec<String> {
        let mut out = self.warnings.clone();
        if self.more_warnings > 0 {
            out.push(format!(
                "{} more warnings like these (the first {} are shown)",
                self.more_warnings,
                Self::KEPT
            ));
        }
        out
    }
}

/// Frontier state of one post on one server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrontierState {
    Pending,
    Placed,
    Asked,
    Failed,
}

impl FrontierState {
    fn as_str(self) -> &'static str {
        match self {
            FrontierState::Pending => "pending",
            FrontierState::Placed => "placed",
            FrontierState::Asked => "asked",
            FrontierState::Failed => "failed",
        }
    }
}

/// The key of a job and its arguments as stored: a digest of `args`, the JSON of everything that
/// decides *what* a collection gathers (not how fast, nor with which token).
pub fn job_key(args: serde_json::Value) -> (String, String) {
    use sha2::{Digest, Sha256};
    let args = args.to_string();
    let digest = Sha256::digest(args.as_bytes());
    let key: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    (key, args)
}

/// The identity of a matched post across servers, as `collect_matches` keeps it: a digest of
/// its `uri` (every server gives a federated post its own local id, but the same `uri`).
pub fn match_key(uri: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(uri.as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The coverage of one job, from `collect_matches`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MatchCounts {
    /// Per server, most matches first: (server, matched, only here).
    pub servers: Vec<(String, u64, u64)>,
    /// Per pair of servers (a before b in `servers`): posts both returned.
    pub overlap: Vec<(String, String, u64)>,
    /// Distinct posts any server returned.
    pub union: u64,
}

impl Corpus {
    /// How many posts each server's timelines returned for `job`, how many only it did, the
    /// overlap of each pair, and the union.
    pub fn match_counts(&self, job: &str) -> Result<MatchCounts> {
        let mut out = MatchCounts::default();
        let mut stmt = self.conn.prepare(
            "SELECT m.server, count(*),
                    sum(NOT EXISTS (SELECT 1 FROM collect_matches o
                                    WHERE o.job = m.job AND o.key = m.key AND o.server <> m.server))
             FROM collect_matches m WHERE m.job = ?1
             GROUP BY m.server ORDER BY count(*) DESC, m.server",
        )?;
        let rows = stmt.query_map(params![job], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)? as u64,
                r.get::<_, i64>(2)? as u64,
            ))
        })?;
        for row in rows {
            out.servers.push(row?);
        }
        // Servers asked that returned nothing are coverage too.
        for server in self.asked_servers(job)? {
            if !out.servers.iter().any(|(s, _, _)| *s == server) {
                out.servers.push((server, 0, 0));
            }
        }
        let mut stmt = self.conn.prepare(
            "SELECT a.server, b.server, count(*) FROM collect_matches a
             JOIN collect_matches b ON b.job = a.job AND b.key = a.key AND a.server <> b.server
             WHERE a.job = ?1 GROUP BY a.server, b.server",
        )?;
        let pairs: std::collections::HashMap<(String, String), u64> = stmt
            .query_map(params![job], |r| {
                Ok(((r.get(0)?, r.get(1)?), r.get::<_, i64>(2)? as u64))
            })?
            .collect::<Result<_, _>>()?;
        for (i, (a, _, _)) in out.servers.iter().enumerate() {
            for (b, _, _) in &out.servers[i + 1..] {
                let n = pairs.get(&(a.clone(), b.clone())).copied().unwrap_or(0);
                out.overlap.push((a.clone(), b.clone(), n));
            }
        }
        out.union = self.match_counts_union(job)?;
        Ok(out)
    }

    /// The servers whose timelines the job asked (see [`ImportWriter::asked_server`]), by name.
    pub fn asked_servers(&self, job: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT substr(stream, 8) FROM collect_cursors
             WHERE job = ?1 AND substr(stream, 1, 7) = 'server:' ORDER BY stream",
        )?;
        let rows = stmt.query_map(params![job], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many distinct posts the job's timelines matched.
    pub fn match_counts_union(&self, job: &str) -> Result<u64> {
        Ok(self.conn.query_row(
            "SELECT count(DISTINCT key) FROM collect_matches WHERE job = ?1",
            params![job],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// The keys of every post the job's timelines matched (see [`match_key`]).
    pub fn matched_keys(&self, job: &str) -> Result<std::collections::HashSet<String>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT DISTINCT key FROM collect_matches WHERE job = ?1")?;
        let rows = stmt.query_map(params![job], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The `uri`s of the stored posts that `server`'s timelines matched for `job` (posts left
    /// out have none stored), for `--discover` to count the servers they come from.
    pub fn matched_uris_on(&self, job: &str, server: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT coalesce(p.uri, q.uri) FROM collect_matches m
             LEFT JOIN posts p ON p.platform = 'mastodon' AND p.id = m.id
             LEFT JOIN aliases a ON a.platform = 'mastodon' AND a.id = m.id
             LEFT JOIN posts q ON q.platform = 'mastodon' AND q.id = a.canonical
             WHERE m.job = ?1 AND m.server = ?2 AND coalesce(p.uri, q.uri) IS NOT NULL
             ORDER BY m.id",
        )?;
        let rows = stmt.query_map(params![job, server], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every stored id of one Mastodon post: the id it is stored under and its aliases (one
    /// per server that showed a copy), from any one of them.
    pub fn copies_of(&self, id: &str) -> Result<Vec<String>> {
        let canonical: String = self
            .conn
            .prepare_cached(
                "SELECT canonical FROM aliases WHERE platform = 'mastodon' AND id = ?1",
            )?
            .query_row(params![id], |r| r.get(0))
            .optional()?
            .unwrap_or_else(|| id.to_string());
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM posts WHERE platform = 'mastodon' AND id = ?1
             UNION SELECT id FROM aliases WHERE platform = 'mastodon' AND canonical = ?1",
        )?;
        let rows = stmt.query_map(params![canonical], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The collection jobs in the corpus, newest first: (job, args JSON).
    pub fn collect_jobs(&self) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT job, args FROM collect_jobs ORDER BY started_at DESC, job")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// End a run of job `key`: save its counters (JSON) and, when `done`, mark it finished, in
    /// one transaction.
    pub fn end_run(&mut self, key: &str, counters: &str, done: bool) -> Result<()> {
        let mut w = self.writer()?;
        w.save_counters(key, counters)?;
        if done {
            w.finish_job(key)?;
        }
        w.commit()?;
        Ok(())
    }

    /// Find the job with this key, or start it. A job that finished before is started over
    /// (its cursors and frontier cleared): running a finished collection again is how a
    /// researcher picks up what was posted since, and every write is an upsert.
    pub fn collect_job(&mut self, key: &str, args: &str) -> Result<Job> {
        let now = crate::model::format_time(&chrono::Utc::now());
        let found: Option<(Option<String>, String)> = self
            .conn
            .query_row(
                "SELECT finished_at, counters FROM collect_jobs WHERE job = ?1",
                params![key],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match found {
            Some((None, counters)) => Ok(Job {
                key: key.into(),
                resumed: true,
                counters,
            }),
            Some((Some(_), _)) | None => {
                // A writer's transaction (BEGIN IMMEDIATE), which waits while another process
                // writes; a plain (deferred) one could not, and would fail at once.
                let w = self.writer()?;
                w.conn
                    .execute("DELETE FROM collect_cursors WHERE job = ?1", params![key])?;
                w.conn
                    .execute("DELETE FROM collect_frontier WHERE job = ?1", params![key])?;
                // A new run pages every timeline again: its coverage is what it finds.
                w.conn
                    .execute("DELETE FROM collect_matches WHERE job = ?1", params![key])?;
                w.conn.execute(
                    "INSERT INTO collect_jobs (job, args, started_at, finished_at, counters)
                     VALUES (?1, ?2, ?3, NULL, '{}')
                     ON CONFLICT (job) DO UPDATE SET started_at = ?3, finished_at = NULL, counters = '{}'",
                    params![key, args, now],
                )?;
                w.commit()?;
                Ok(Job {
                    key: key.into(),
                    resumed: false,
                    counters: "{}".into(),
                })
            }
        }
    }

    pub fn cursor(&self, job: &str, stream: &str) -> Result<Cursor> {
        Ok(self
            .conn
            .query_row(
                "SELECT next_url, matched, done FROM collect_cursors WHERE job = ?1 AND stream = ?2",
                params![job, stream],
                |r| {
                    Ok(Cursor {
                        next_url: r.get(0)?,
                        matched: r.get::<_, i64>(1)? as u64,
                        done: r.get::<_, i64>(2)? != 0,
                    })
                },
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Up to `limit` pending frontier entries `(server, local_id)`, oldest first, leaving out
    /// those for which `skip` is true (requests already in flight).
    pub fn pending_frontier(
        &self,
        job: &str,
        limit: usize,
        skip: impl Fn(&str, &str) -> bool,
    ) -> Result<Vec<(String, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT server, local_id FROM collect_frontier WHERE job = ?1 AND state IN ('pending', 'recheck') ORDER BY priority, rowid",
        )?;
        let mut rows = stmt.query(params![job])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let (server, id): (String, String) = (r.get(0)?, r.get(1)?);
            if !skip(&server, &id) {
                out.push((server, id));
                if out.len() >= limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    /// How many frontier entries there are in each state: (pending, placed, asked, failed).
    pub fn frontier_counts(&self, job: &str) -> Result<(u64, u64, u64, u64)> {
        let mut counts = (0, 0, 0, 0);
        let mut stmt = self.conn.prepare_cached(
            "SELECT state, count(*) FROM collect_frontier WHERE job = ?1 GROUP BY state",
        )?;
        let mut rows = stmt.query(params![job])?;
        while let Some(r) = rows.next()? {
            let n = r.get::<_, i64>(1)? as u64;
            match r.get::<_, String>(0)?.as_str() {
                "pending" | "recheck" => counts.0 += n,
                "placed" => counts.1 = n,
                "asked" => counts.2 = n,
                _ => counts.3 += n,
            }
        }
        Ok(counts)
    }

    /// Mastodon reply links that lead nowhere: parents named by a stored post that are neither
    /// stored (under their id or an alias) nor explained in `missing`. Only ids qualified with
    /// a server (`id@host`, as the collector writes them) are returned: those can be asked for.
    pub fn dangling_parents(&self) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT p.reply_to FROM posts p
             WHERE p.platform = 'mastodon' AND p.reply_to LIKE '%@%'
               AND NOT EXISTS (SELECT 1 FROM posts q WHERE q.platform = 'mastodon' AND q.id = p.reply_to)
               AND NOT EXISTS (SELECT 1 FROM aliases a WHERE a.platform = 'mastodon' AND a.id = p.reply_to)
               AND NOT EXISTS (SELECT 1 FROM missing m WHERE m.platform = 'mastodon' AND m.id = p.reply_to AND m.retry = 0)
             ORDER BY p.reply_to",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Tweets to look up by id for a Twitter job: the roots of its conversations (the
    /// conversation id is the root's id) and the parents its conversations' tweets reply to,
    /// when they are neither stored nor explained in `missing`.
    pub fn twitter_wanted(&self, job: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "WITH convs AS (SELECT local_id AS id FROM collect_frontier WHERE job = ?1 AND server = 'twitter'),
                  wanted AS (
                    SELECT id FROM convs
                    UNION
                    SELECT p.reply_to FROM posts p JOIN convs c ON p.conversation_id = c.id
                     WHERE p.platform = 'twitter' AND p.reply_to IS NOT NULL)
             SELECT w.id FROM wanted w
             WHERE NOT EXISTS (SELECT 1 FROM posts q WHERE q.platform = 'twitter' AND q.id = w.id)
               AND NOT EXISTS (SELECT 1 FROM missing m WHERE m.platform = 'twitter' AND m.id = w.id AND m.retry = 0)
             ORDER BY w.id",
        )?;
        let rows = stmt.query_map(params![job], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Does the corpus hold this post, or a note on why it is missing?
    pub fn known(&self, platform: &str, id: &str) -> Result<bool> {
        let found: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM posts WHERE platform = ?1 AND id = ?2
                 UNION ALL SELECT 1 FROM missing WHERE platform = ?1 AND id = ?2 LIMIT 1",
            )?
            .query_row(params![platform, id], |r| r.get(0))
            .optional()?;
        Ok(found.is_some())
    }

    /// Each stored API page of a platform, in the order fetched, as its body.
    pub fn for_each_page(
        &self,
        platform: &str,
        mut f: impl FnMut(&str) -> Result<()>,
    ) -> Result<u64> {
        let mut stmt = self
            .conn
            .prepare("SELECT body FROM api_pages WHERE platform = ?1 ORDER BY rowid")?;
        let mut rows = stmt.query(params![platform])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            f(r.get_ref(0)?.as_str()?)?;
            n += 1;
        }
        Ok(n)
    }

    /// Each post of a platform that no stored API page holds (imported from files, not
    /// collected), with its raw JSON and the name of the format it was read from.
    pub fn for_each_unpaged_post(
        &self,
        platform: &str,
        mut f: impl FnMut(crate::model::Post, Option<&str>, Option<&str>) -> Result<()>,
    ) -> Result<u64> {
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {}, raw FROM posts p WHERE platform = ?1
               AND NOT EXISTS (SELECT 1 FROM fetches f WHERE f.platform = p.platform AND f.id = p.id)
             ORDER BY id",
            super::sqlite::POST_COLUMNS
        ))?;
        let mut rows = stmt.query(params![platform])?;
        let mut sources = Vec::new();
        let mut n = 0;
        while let Some(r) = rows.next()? {
            let post = super::sqlite::post_from_row(r, &mut sources)?;
            let format: Option<String> = r.get(23)?;
            let raw: Option<String> = r.get(24)?;
            f(post, raw.as_deref(), format.as_deref())?;
            n += 1;
        }
        Ok(n)
    }

    /// What the corpus says about the absent posts of a platform: `(id, reason)`.
    pub fn missing_of(&self, platform: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, reason FROM missing WHERE platform = ?1 ORDER BY id")?;
        let rows = stmt.query_map(params![platform], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Posts matched so far by all the job's timelines and searches.
    pub fn cursor_total(&self, job: &str) -> Result<u64> {
        let n: i64 = self.conn.query_row(
            "SELECT coalesce(sum(matched), 0) FROM collect_cursors WHERE job = ?1",
            params![job],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }

    /// The job's streams whose name starts with `prefix` and that are not done, in name order.
    pub fn open_streams(&self, job: &str, prefix: &str) -> Result<Vec<(String, Cursor)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT stream, next_url, matched, done FROM collect_cursors
             WHERE job = ?1 AND substr(stream, 1, length(?2)) = ?2 AND done = 0 ORDER BY stream",
        )?;
        let rows = stmt.query_map(params![job, prefix], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Cursor {
                    next_url: r.get(1)?,
                    matched: r.get::<_, i64>(2)? as u64,
                    done: r.get::<_, i64>(3)? != 0,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Is this frontier entry one asked again because an answer cut it off (`recheck`)?
    pub fn frontier_is_recheck(&self, job: &str, server: &str, local_id: &str) -> Result<bool> {
        let state: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT state FROM collect_frontier WHERE job = ?1 AND server = ?2 AND local_id = ?3",
            )?
            .query_row(params![job, server, local_id], |r| r.get(0))
            .optional()?;
        Ok(state.as_deref() == Some("recheck"))
    }

    /// The ids of the stored posts of one conversation (a Bluesky thread's root URI).
    pub fn conversation_members(&self, platform: &str, conversation: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id FROM posts WHERE platform = ?1 AND conversation_id = ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![platform, conversation], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The stored ids (`local_id@server`) of the posts the job has placed on its frontier:
    /// the posts it matched and those the contexts brought in.
    pub fn frontier_posts(&self, job: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT local_id || '@' || server FROM collect_frontier WHERE job = ?1",
        )?;
        let rows = stmt.query_map(params![job], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl ImportWriter<'_> {
    /// Record that `server`'s timeline returned the post with this key (`id` its id there).
    pub fn add_match(&mut self, job: &str, server: &str, key: &str, id: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO collect_matches (job, server, key, id) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![job, server, key, id])?;
        Ok(())
    }

    /// Has the job matched this post (by key) on any server?
    pub fn matched(&self, job: &str, key: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM collect_matches WHERE job = ?1 AND key = ?2)",
            )?
            .query_row(params![job, key], |r| r.get(0))?)
    }

    /// Has the job matched this post (by key) on `server`?
    pub fn matched_on(&self, job: &str, server: &str, key: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM collect_matches WHERE job = ?1 AND server = ?2 AND key = ?3)",
            )?
            .query_row(params![job, server, key], |r| r.get(0))?)
    }

    /// Record that the job asks `server`'s timelines (a marker row among the cursors, done and
    /// counting nothing), so that coverage lists a server that returned no post.
    pub fn asked_server(&mut self, job: &str, server: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO collect_cursors (job, stream, next_url, matched, done) VALUES (?1, ?2, NULL, 0, 1)",
            )?
            .execute(params![job, format!("server:{server}")])?;
        Ok(())
    }

    /// Open a stream to page (from `first`) unless the job has it already.
    pub fn add_stream(&mut self, job: &str, stream: &str, first: &str) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO collect_cursors (job, stream, next_url, matched, done) VALUES (?1, ?2, ?3, 0, 0)",
            )?
            .execute(params![job, stream, first])?;
        Ok(())
    }

    pub fn set_cursor(&mut self, job: &str, stream: &str, c: &Cursor) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO collect_cursors (job, stream, next_url, matched, done) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (job, stream) DO UPDATE SET next_url = ?3, matched = ?4, done = ?5",
            )?
            .execute(params![job, stream, c.next_url, c.matched as i64, c.done as i64])?;
        Ok(())
    }

    /// Move a post's frontier entry to `state`. Entries only move forward: `pending` never
    /// undoes `placed`/`asked` unless `force` (a capped context must be asked again from
    /// a post it placed), and nothing undoes `asked`/`failed`.
    pub fn frontier(
        &mut self,
        job: &str,
        server: &str,
        local_id: &str,
        state: FrontierState,
        force: bool,
        reason: Option<&str>,
    ) -> Result<bool> {
        let sql = match (state, force) {
            (FrontierState::Pending, false) => {
                "INSERT INTO collect_frontier (job, server, local_id, state, reason) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (job, server, local_id) DO NOTHING"
            }
            // A matched post still waiting for its context needs none once another context
            // has shown it: that is what makes it one request per thread, not per post.
            (FrontierState::Placed, _) => {
                "INSERT INTO collect_frontier (job, server, local_id, state, reason) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (job, server, local_id) DO UPDATE SET state = ?4
                 WHERE collect_frontier.state = 'pending'"
            }
            // Asked again because an answer was cut: `recheck`, which placing does not undo.
            (FrontierState::Pending, true) => {
                "INSERT INTO collect_frontier (job, server, local_id, state, reason) VALUES (?1, ?2, ?3, 'recheck', ?5)
                 ON CONFLICT (job, server, local_id) DO UPDATE SET state = 'recheck'
                 WHERE collect_frontier.state IN ('placed', 'pending')"
            }
            (FrontierState::Asked | FrontierState::Failed, _) => {
                "INSERT INTO collect_frontier (job, server, local_id, state, reason) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (job, server, local_id) DO UPDATE SET state = ?4, reason = ?5"
            }
        };
        let n = self.conn.prepare_cached(sql)?.execute(params![
            job,
            server,
            local_id,
            state.as_str(),
            reason
        ])?;
        Ok(n > 0)
    }

    /// Put a matched post on the frontier, to ask its context (or, with `placed`, not).
    /// A reply is asked after the rest: the context of its thread's root usually shows it.
    pub fn frontier_seed(
        &mut self,
        job: &str,
        server: &str,
        local_id: &str,
        placed: bool,
        is_reply: bool,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO collect_frontier (job, server, local_id, state, priority) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (job, server, local_id) DO NOTHING",
            )?
            .execute(params![
                job,
                server,
                local_id,
                if placed { "placed" } else { "pending" },
                is_reply as i64
            ])?;
        Ok(())
    }

    /// Record where a post was fetched from (the first time per server).
    pub fn add_fetch(
        &mut self,
        platform: &str,
        id: &str,
        server: &str,
        endpoint: &str,
        authenticated: bool,
        fetched_at: &str,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO fetches (platform, id, server, endpoint, authenticated, fetched_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![platform, id, server, endpoint, authenticated as i64, fetched_at])?;
        Ok(())
    }

    /// Record why a Mastodon post is absent, replacing an earlier reason. With `retry`, the
    /// reason may pass (a timeout, a server error) and a later run asks again.
    pub fn set_missing(
        &mut self,
        id: &str,
        reason: &str,
        reply_to: Option<&str>,
        retry: bool,
    ) -> Result<()> {
        self.set_missing_on("mastodon", id, reason, reply_to, retry)
    }

    /// Forget why a post was absent (it no longer is, or the note no longer holds).
    pub fn clear_missing(&mut self, platform: &str, id: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM missing WHERE platform = ?1 AND id = ?2")?
            .execute(params![platform, id])?;
        Ok(())
    }

    /// Keep an API response page as the server sent it (for `export twarc2`).
    pub fn add_page(
        &mut self,
        platform: &str,
        url: &str,
        fetched_at: &str,
        body: &str,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO api_pages (platform, url, fetched_at, body) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![platform, url, fetched_at, body])?;
        Ok(())
    }

    /// Record why a post is absent, replacing an earlier reason (see `set_missing`).
    pub fn set_missing_on(
        &mut self,
        platform: &str,
        id: &str,
        reason: &str,
        reply_to: Option<&str>,
        retry: bool,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO missing (platform, id, reason, reply_to, retry) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (platform, id) DO UPDATE SET reason = ?3,
                     reply_to = coalesce(excluded.reply_to, reply_to), retry = ?5",
            )?
            .execute(params![platform, id, reason, reply_to, retry as i64])?;
        Ok(())
    }

    pub fn save_counters(&mut self, job: &str, counters: &str) -> Result<()> {
        self.conn
            .prepare_cached("UPDATE collect_jobs SET counters = ?2 WHERE job = ?1")?
            .execute(params![job, counters])?;
        Ok(())
    }

    pub fn finish_job(&mut self, job: &str) -> Result<()> {
        let now = crate::model::format_time(&chrono::Utc::now());
        self.conn
            .prepare_cached("UPDATE collect_jobs SET finished_at = ?2 WHERE job = ?1")?
            .execute(params![job, now])?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Platform, Post, Record};

    fn corpus() -> (tempfile::TempDir, Corpus) {
        let dir = tempfile::tempdir().unwrap();
        let c = Corpus::open(&dir.path().join("c.db")).unwrap();
        (dir, c)
    }

    fn state(c: &Corpus, id: &str) -> String {
        c.conn
            .query_row(
                "SELECT state FROM collect_frontier WHERE local_id = ?1",
                [id],
                |r| r.get(0),
            )
            .unwrap()
    }

    #[test]
    fn frontier_states_only_move_forward() {
        let (_d, mut c) = corpus();
        let mut w = c.writer().unwrap();
        w.frontier_seed("j", "s", "1", false, false).unwrap();
        w.frontier_seed("j", "s", "2", false, true).unwrap();
        w.frontier_seed("j", "s", "3", false, false).unwrap();
        // Placing a matched post cancels its ask; asking is never undone.
        w.frontier("j", "s", "2", FrontierState::Placed, false, None)
            .unwrap();
        w.frontier("j", "s", "1", FrontierState::Asked, false, None)
            .unwrap();
        w.frontier("j", "s", "1", FrontierState::Placed, false, None)
            .unwrap();
        w.frontier("j", "s", "1", FrontierState::Pending, true, None)
            .unwrap();
        // A re-ask (an answer was cut) survives being placed again.
        w.frontier("j", "s", "3", FrontierState::Placed, false, None)
            .unwrap();
        w.frontier("j", "s", "3", FrontierState::Pending, true, None)
            .unwrap();
        w.frontier("j", "s", "3", FrontierState::Placed, false, None)
            .unwrap();
        w.frontier_seed("j", "s", "4", false, true).unwrap();
        w.frontier_seed("j", "s", "5", false, false).unwrap();
        w.commit().unwrap();
        assert_eq!(state(&c, "1"), "asked");
        assert_eq!(state(&c, "2"), "placed");
        assert_eq!(state(&c, "3"), "recheck");
        // Replies wait for the rest.
        let order: Vec<String> = c
            .pending_frontier("j", 10, |_, _| false)
            .unwrap()
            .into_iter()
            .map(|(_, id)| id)
            .collect();
        assert_eq!(order, ["3", "5", "4"]);
        assert_eq!(
            c.pending_frontier("j", 10, |_, id| id == "5")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(c.frontier_counts("j").unwrap(), (3, 1, 1, 0));
        assert_eq!(c.frontier_posts("j").unwrap().len(), 5);
    }

    #[test]
    fn a_page_guard_stops_on_a_cursor_seen_before_nothing_new_or_only_empty_pages() {
        let mut g = PageGuard::starting_at("first");
        assert_eq!(g.fresh(["1", "2"]), [true, true]);
        assert_eq!(g.stop_before("a", 2, 2), None);
        // A cycle back to the first page, or to any page asked before.
        let mut again = PageGuard::starting_at("first");
        assert_eq!(
            again.stop_before("first", 2, 2),
            Some(PageStop::RepeatedCursor)
        );
        assert_eq!(g.stop_before("a", 2, 2), Some(PageStop::RepeatedCursor));
        assert_eq!(g.fresh(["2", "3"]), [false, true]);
        assert_eq!(g.stop_before("b", 2, 1), None);
        assert_eq!(g.fresh(["1", "3"]), [false, false]);
        assert_eq!(g.stop_before("c", 2, 0), Some(PageStop::NothingNew));
        let mut g = PageGuard::default();
        for i in 1..MAX_EMPTY_PAGES {
            assert_eq!(g.stop_before(&format!("e{i}"), 0, 0), None, "{i}");
        }
        // A page with a post starts the count again.
        assert_eq!(g.stop_before("p", 1, 1), None);
        for i in 1..MAX_EMPTY_PAGES {
            assert_eq!(g.stop_before(&format!("f{i}"), 0, 0), None, "{i}");
        }
        assert_eq!(g.stop_before("last", 0, 0), Some(PageStop::EmptyPages));
    }

    #[test]
    fn warnings_are_kept_once_and_counted_past_a_bound() {
        let mut w = Warnings::default();
        w.add("a".into());
        w.add("a".into());
        assert_eq!(w.lines(), ["a"]);
        for i in 0..30 {
            w.add(format!("w{i}"));
        }
        assert_eq!(w.warnings.len(), Warnings::KEPT);
        assert_eq!(w.more_warnings, 11);
        assert!(w.lines().last().unwrap().starts_with("11 more warnings"));
        let json = serde_json::to_string(&Warnings::default()).unwrap();
        assert_eq!(json, "{}", "nothing saved when there is nothing to say");
    }

    #[test]
    fn a_job_resumes_until_finished_then_starts_over() {
        let (_d, mut c) = corpus();
        assert!(!c.collect_job("k", "{}").unwrap().resumed);
        let mut w = c.writer().unwrap();
        let cur = Cursor {
            next_url: Some("https://m.example/next".into()),
            matched: 40,
            done: false,
        };
        w.set_cursor("k", "tag:cs", &cur).unwrap();
        w.save_counters("k", r#"{"matched":40}"#).unwrap();
        w.commit().unwrap();
        let again = c.collect_job("k", "{}").unwrap();
        assert!(again.resumed);
        assert_eq!(again.counters, r#"{"matched":40}"#);
        assert_eq!(c.cursor("k", "tag:cs").unwrap(), cur);
        assert_eq!(c.cursor_total("k").unwrap(), 40);
        let mut w = c.writer().unwrap();
        w.finish_job("k").unwrap();
        w.commit().unwrap();
        let fresh = c.collect_job("k", "{}").unwrap();
        assert!(!fresh.resumed);
        assert_eq!(c.cursor("k", "tag:cs").unwrap(), Cursor::default());
    }

    #[test]
    fn dangling_parents_are_the_unexplained_qualified_ones() {
        let (_d, mut c) = corpus();
        let mut w = c.writer().unwrap();
        let mut add = |id: &str, parent: Option<&str>, uri: &str| {
            let mut p = Post::new(Platform::Mastodon, id);
            p.reply_to = parent.map(str::to_string);
            p.uri = Some(uri.into());
            w.add(&Record::Post(Box::new(p))).unwrap();
        };
        add("1@a", None, "https://a/users/x/statuses/1");
        add("2@a", Some("1@a"), "https://a/users/x/statuses/2");
        add("3@a", Some("9@a"), "https://a/users/x/statuses/3");
        add("4@a", Some("8@a"), "https://a/users/x/statuses/4");
        add("5@a", Some("7@b"), "https://a/users/x/statuses/5");
        add("6", Some("66"), "https://a/users/x/statuses/6");
        add("10@a", Some("11@a"), "https://a/users/x/statuses/10");
        w.set_missing("8@a", "deleted", None, false).unwrap();
        w.set_missing("11@a", "timed out (a)", None, true).unwrap();
        assert!(w
            .alias_by_uri("7@b", "https://a/users/x/statuses/1")
            .unwrap());
        assert!(!w
            .alias_by_uri("1@a", "https://a/users/x/statuses/1")
            .unwrap());
        assert!(!w.alias_by_uri("x@b", "https://nowhere/1").unwrap());
        w.commit().unwrap();
        // A parent that timed out is asked again; a deleted one is not.
        assert_eq!(c.dangling_parents().unwrap(), ["11@a", "9@a"]);
    }

    #[test]
    fn another_servers_copy_fills_what_ours_lacks_and_nothing_else() {
        let (_d, mut c) = corpus();
        let copy = |id: &str, parent: Option<&str>, raw: &str| {
            let mut p = Post::new(Platform::Mastodon, id);
            p.uri = Some("https://b/users/x/statuses/5".into());
            p.reply_to = parent.map(str::to_string);
            p.text = "same words".into();
            p.raw = Some(raw.into());
            Record::Post(Box::new(p))
        };
        let mut w = c.writer().unwrap();
        // The server we asked did not know the parent; the origin does.
        w.add(&copy("12@a", None, r#"{"id":"12"}"#)).unwrap();
        w.add(&copy(
            "5@b",
            Some("4@b"),
            r#"{"id":"5","in_reply_to_id":"4","more":"fields"}"#,
        ))
        .unwrap();
        w.commit().unwrap();
        let set = c.load().unwrap();
        assert_eq!(set.len(), 1);
        let p = set.post(0);
        assert_eq!(p.id, "12@a");
        assert_eq!(p.reply_to.as_deref(), Some("4@b"));
        assert_eq!(set.find(Platform::Mastodon, "5@b"), Some(0));
        let raw: String = c
            .conn
            .query_row("SELECT raw FROM posts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(raw, r#"{"id":"12"}"#, "our copy's raw JSON stays");
        // The same in memory (--input).
        let mut set = crate::corpus::PostSet::new();
        for r in [copy("12@a", None, "{}"), copy("5@b", Some("4@b"), "{}")] {
            set.add_record(r);
        }
        assert_eq!(set.len(), 1);
        assert_eq!(set.post(0).reply_to.as_deref(), Some("4@b"));
    }
}
