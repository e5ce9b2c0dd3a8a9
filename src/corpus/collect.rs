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

impl Corpus {
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
                let tx = self.conn.unchecked_transaction()?;
                tx.execute("DELETE FROM collect_cursors WHERE job = ?1", params![key])?;
                tx.execute("DELETE FROM collect_frontier WHERE job = ?1", params![key])?;
                tx.execute(
                    "INSERT INTO collect_jobs (job, args, started_at, finished_at, counters)
                     VALUES (?1, ?2, ?3, NULL, '{}')
                     ON CONFLICT (job) DO UPDATE SET started_at = ?3, finished_at = NULL, counters = '{}'",
                    params![key, args, now],
                )?;
                tx.commit()?;
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
               AND NOT EXISTS (SELECT 1 FROM missing m WHERE m.platform = 'mastodon' AND m.id = p.reply_to)
             ORDER BY p.reply_to",
        )?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
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

    /// The stored ids (`local_id@server`) of the posts the job has placed on its frontier:
    /// the posts it matched and those the contexts brought in.
    pub fn frontier_posts(&self, job: &str) -> Result<Vec<String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT local_id || '@' || server FROM collect_frontier WHERE job = ?1",
        )?;
        let rows = stmt.query_map(params![job], |r| r.get::<_, String>(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Is there a post (or alias) with this id?
    pub fn has_post(&self, platform: &str, id: &str) -> Result<bool> {
        let found: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM posts WHERE platform = ?1 AND id = ?2
                 UNION ALL SELECT 1 FROM aliases WHERE platform = ?1 AND id = ?2 LIMIT 1",
            )?
            .query_row(params![platform, id], |r| r.get(0))
            .optional()?;
        Ok(found.is_some())
    }

    /// The stored post's frontier state on a server, if it has one.
    pub fn frontier_state(
        &self,
        job: &str,
        server: &str,
        local_id: &str,
    ) -> Result<Option<FrontierState>> {
        let s: Option<String> = self
            .conn
            .prepare_cached(
                "SELECT state FROM collect_frontier WHERE job = ?1 AND server = ?2 AND local_id = ?3",
            )?
            .query_row(params![job, server, local_id], |r| r.get(0))
            .optional()?;
        Ok(s.map(|s| match s.as_str() {
            "pending" | "recheck" => FrontierState::Pending,
            "placed" => FrontierState::Placed,
            "asked" => FrontierState::Asked,
            _ => FrontierState::Failed,
        }))
    }

    /// Where a post was first fetched from, per server: `(server, endpoint, authenticated,
    /// fetched_at)`.
    pub fn fetches_of(&self, id: &str) -> Result<Vec<(String, String, bool, String)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT server, endpoint, authenticated, fetched_at FROM fetches
             WHERE platform = 'mastodon' AND id = ?1 ORDER BY server",
        )?;
        let rows = stmt.query_map(params![id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? != 0, r.get(3)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

impl ImportWriter<'_> {
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
        id: &str,
        server: &str,
        endpoint: &str,
        authenticated: bool,
        fetched_at: &str,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT OR IGNORE INTO fetches (platform, id, server, endpoint, authenticated, fetched_at)
                 VALUES ('mastodon', ?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![id, server, endpoint, authenticated as i64, fetched_at])?;
        Ok(())
    }

    /// Record why a Mastodon post is absent, replacing an earlier, vaguer reason.
    pub fn set_missing(&mut self, id: &str, reason: &str, reply_to: Option<&str>) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO missing (platform, id, reason, reply_to) VALUES ('mastodon', ?1, ?2, ?3)
                 ON CONFLICT (platform, id) DO UPDATE SET reason = ?2,
                     reply_to = coalesce(excluded.reply_to, reply_to)",
            )?
            .execute(params![id, reason, reply_to])?;
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
