//! The SQLite corpus: one file, no server, readable by any SQLite tool (`sqlite3 rethread.db`).
//!
//! Posts are rows of `posts`, keyed by `(platform, id)`; list-valued fields (hashtags,
//! mentions, media alt texts) are JSON arrays; `raw` keeps the record exactly as the source had
//! it. `aliases` maps extra Mastodon local ids to the stored post with the same `uri`;
//! `missing` keeps what a source said about posts it could not deliver (deleted, protected…);
//! `imports` logs every file read, so a corpus can say where it came from.
//!
//! Imports run in transactions committed every [`COMMIT_EVERY`] records (or [`BATCH_TIME`],
//! whichever comes first) and at the end of each file, and the import command commits before it
//! reports a bad record: an interrupted or failed import keeps everything before the point where
//! it stopped, and running it again is harmless because every write is an upsert. Each import is
//! logged in `imports` when it starts, and the row says at the end whether it finished or failed
//! (and why); a row left `running` is an import that was killed.
//!
//! Several processes may write one corpus at once (two imports, a collection and an import).
//! SQLite lets one write at a time, and a transaction begun as a reader cannot wait to become the
//! writer: SQLite answers "database is locked" at once, whatever the busy timeout. So every
//! write transaction here begins as a writer (`BEGIN IMMEDIATE`), which waits its turn; batches
//! are short ([`BATCH_TIME`]), a waiting writer tries again every [`BUSY_POLL`] for up to
//! [`BUSY_WAIT`], and a writer that held the corpus for a while pauses after its commit
//! ([`LET_IN`]) so that a waiting one gets in before its next batch.

use super::{Outcome, PostSet, Tally};
use crate::model::{format_time, parse_time, Author, Missing, Platform, Post, Provenance, Record};
use crate::source::{FileReport, Format};
use anyhow::{bail, Context, Result};

/// A path that is not a corpus rethread may use. Typed, and naming no flag: the command that
/// took the path says which flag to change (`--db`) and what else to do (`--input`).
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    #[error("{}: no such corpus (import or collect into it first)", .0.display())]
    Missing(std::path::PathBuf),
    #[error("{name}: not a rethread corpus (it has tables {tables}); give a new file or a corpus made by rethread")]
    Foreign { name: String, tables: String },
}
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCHEMA_VERSION: i64 = 3;
const COMMIT_EVERY: u64 = 50_000;
/// The platform of the collector-only alias step (`alias_by_uri`): Mastodon's ids are per server.
const MASTODON: &str = Platform::Mastodon.as_str();
/// A batch is committed once it has held the corpus this long, even with fewer records: another
/// writer waits for at most one batch.
const BATCH_TIME: Duration = Duration::from_secs(1);
/// How long a writer waits for another process's transaction before it gives up. Transactions
/// are at most a batch long, so this is only reached when another process hangs holding one.
const BUSY_WAIT: Duration = Duration::from_secs(300);
/// How often a waiting writer tries again. SQLite's own busy timeout backs off to tries 100 ms
/// apart, which a writer that commits and begins again at once would never let in.
const BUSY_POLL: Duration = Duration::from_millis(5);
/// A writer that held the corpus at least [`HELD_LONG`] pauses [`LET_IN`] after committing, so
/// that a writer polling every [`BUSY_POLL`] takes its turn before the next batch.
const HELD_LONG: Duration = Duration::from_millis(100);
const LET_IN: Duration = Duration::from_millis(10);

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS posts (
    platform        TEXT NOT NULL,
    id              TEXT NOT NULL,
    uri             TEXT,
    url             TEXT,
    author_id       TEXT,
    author_handle   TEXT,
    author_name     TEXT,
    author_server   TEXT,
    created_at      TEXT,
    text            TEXT NOT NULL,
    reply_to        TEXT,
    reply_to_author TEXT,
    conversation_id TEXT,
    quote_of        TEXT,
    repost_of       TEXT,
    language        TEXT,
    hashtags        TEXT NOT NULL DEFAULT '[]',
    mentions        TEXT NOT NULL DEFAULT '[]',
    visibility      TEXT,
    content_warning TEXT,
    media_alt       TEXT NOT NULL DEFAULT '[]',
    source          TEXT,
    source_line     INTEGER,
    source_format   TEXT,
    -- Last, so that reading the other columns never walks the overflow pages of a long record.
    raw             TEXT
);
-- Rows are large (raw JSON), so posts is an ordinary rowid table with a unique index for the
-- key: a WITHOUT ROWID table stores whole rows in its key b-tree and more than doubled the file.
CREATE UNIQUE INDEX IF NOT EXISTS posts_key ON posts (platform, id);
-- A post's identity across servers (Mastodon's `uri`, Bluesky's `at://` URI): only platforms
-- whose `uri` is an identity fill it, so the partial index holds just those rows. It replaced an
-- index of Mastodon's uris alone (`posts_uri`), dropped when an older corpus is opened.
DROP INDEX IF EXISTS posts_uri;
CREATE INDEX IF NOT EXISTS posts_identity ON posts (platform, uri) WHERE uri IS NOT NULL;
CREATE TABLE IF NOT EXISTS aliases (
    platform  TEXT NOT NULL,
    id        TEXT NOT NULL,
    canonical TEXT NOT NULL,
    PRIMARY KEY (platform, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS missing (
    platform TEXT NOT NULL,
    id       TEXT NOT NULL,
    reason   TEXT NOT NULL,
    reply_to TEXT,
    -- 1 when the reason may pass (a timeout, a server error): a collector asks again.
    retry    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (platform, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fetches (
    platform      TEXT NOT NULL,
    id            TEXT NOT NULL,
    server        TEXT NOT NULL,
    endpoint      TEXT NOT NULL,
    authenticated INTEGER NOT NULL,
    fetched_at    TEXT NOT NULL,
    PRIMARY KEY (platform, id, server)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_pages (
    platform   TEXT NOT NULL,
    url        TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS collect_jobs (
    job         TEXT PRIMARY KEY,
    args        TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    counters    TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS collect_cursors (
    job      TEXT NOT NULL,
    stream   TEXT NOT NULL,
    next_url TEXT,
    matched  INTEGER NOT NULL DEFAULT 0,
    done     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job, stream)
);
-- Which server's tag timeline or search returned which post, per job: the ground of the
-- coverage report. `key` is a digest of the post's `uri` (its identity across servers), so that
-- a post shown by five servers is one key with five rows, and no content (nor the account
-- name a `uri` carries) of a post left out is kept; `id` is the post's id on that server.
CREATE TABLE IF NOT EXISTS collect_matches (
    job    TEXT NOT NULL,
    server TEXT NOT NULL,
    key    TEXT NOT NULL,
    id     TEXT NOT NULL,
    PRIMARY KEY (job, server, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS collect_frontier (
    job      TEXT NOT NULL,
    server   TEXT NOT NULL,
    local_id TEXT NOT NULL,
    state    TEXT NOT NULL,
    reason   TEXT,
    priority INTEGER NOT NULL DEFAULT 0,
    UNIQUE (job, server, local_id)
);
";

/// The import log (schema 3). Until schema 2 a row was written only when a file had been read
/// to its end, so a failed or killed import left no trace; now the row is written when the
/// import starts and completed when it ends.
const IMPORTS: &str = "
CREATE TABLE IF NOT EXISTS imports (
    file        TEXT NOT NULL,
    -- NULL until the file's format is known (an import that failed before reading it).
    format      TEXT,
    -- Input records read; until the import ends, the records stored so far.
    records     INTEGER NOT NULL DEFAULT 0,
    inserted    INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    aliases     INTEGER NOT NULL DEFAULT 0,
    missing     INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    -- NULL until the import ends.
    finished_at TEXT,
    -- NULL for imports logged before schema 3.
    started_at  TEXT,
    -- 'running' (still, or killed: the counts are what its committed batches stored),
    -- 'done', or 'failed' (with the error; the counts are what was kept).
    state       TEXT NOT NULL DEFAULT 'done',
    error       TEXT
);
";

/// An open corpus file.
pub struct Corpus {
    pub(super) conn: Connection,
}

impl Corpus {
    /// Open (creating if needed) the corpus at `path`.
    pub fn open(path: &Path) -> Result<Corpus> {
        let conn = Connection::open(path)
            .with_context(|| format!("{}: cannot open corpus", path.display()))?;
        Self::init(conn, path)
    }

    /// Open an existing corpus for reading; a missing file is an error, not a new empty corpus,
    /// so that a mistyped `--db` does not quietly report zero threads.
    pub fn open_existing(path: &Path) -> Result<Corpus> {
        if !path.exists() {
            return Err(CorpusError::Missing(path.to_path_buf()).into());
        }
        Self::open(path)
    }

    fn init(conn: Connection, path: &Path) -> Result<Corpus> {
        let name = path.display().to_string();
        conn.busy_handler(Some(wait_for_writer))?;
        // Look before writing anything: the pragmas below change the file, and a database of
        // another program must be left as it is.
        // In one read transaction: another process creating the corpus meanwhile must be seen
        // before or after, never with its tables but not yet its version.
        let (version, tables) = conn
            .execute_batch("BEGIN")
            .and_then(|()| inspect(&conn))
            .and_then(|found| conn.execute_batch("COMMIT").map(|()| found))
            .with_context(|| format!("{name}: not an SQLite corpus"))?;
        check_schema(&name, version, &tables)?;
        // Posts with their raw JSON run to a few KiB; larger pages hold several of them with
        // less unused space (only takes effect when the file is created).
        conn.pragma_update(None, "page_size", 16384)?;
        // WAL lets a reader look at the corpus while an import runs; NORMAL sync is durable
        // against process crashes, which is what an interrupted import needs.
        set_wal(&conn).with_context(|| format!("{name}: not an SQLite corpus"))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        if version < SCHEMA_VERSION {
            create_or_upgrade(&conn, &name)?;
        }
        Ok(Corpus { conn })
    }

    /// Start writing. Call [`ImportWriter::commit`] to keep what was written.
    ///
    /// The transaction begins as the writer (`BEGIN IMMEDIATE`): when another process is
    /// writing, this waits for its transaction to end, where a reader's transaction that came
    /// to write later could not wait and would fail.
    pub fn writer(&mut self) -> Result<ImportWriter<'_>> {
        begin_writing(&self.conn)?;
        Ok(ImportWriter {
            conn: &self.conn,
            pending: 0,
            began: Instant::now(),
            tally: Tally::default(),
            import: None,
        })
    }

    /// Start importing `file` (read as `format`, when forced): log the import in `imports` at
    /// once, so that the row stays if the import fails or is killed, and return a writer for its
    /// records. The writer commits in batches of [`COMMIT_EVERY`] records or [`BATCH_TIME`],
    /// whichever comes first, each begun at its first record (reading a file between two
    /// records holds nobody up), and every batch brings the row's counts up to date; end with
    /// [`ImportWriter::finish_import`] or [`ImportWriter::fail_import`], then `commit`.
    pub fn import(&mut self, file: &str, format: Option<Format>) -> Result<ImportWriter<'_>> {
        let w = self.writer()?;
        w.conn
            .prepare_cached(
                "INSERT INTO imports (file, format, started_at, state) VALUES (?1, ?2, ?3, 'running')",
            )?
            .execute(params![
                file,
                format.map(Format::name),
                format_time(&chrono::Utc::now())
            ])?;
        let row = w.conn.last_insert_rowid();
        w.commit()?;
        Ok(ImportWriter {
            conn: &self.conn,
            pending: 0,
            began: Instant::now(),
            tally: Tally::default(),
            import: Some(row),
        })
    }

    pub fn post_count(&self) -> Result<u64> {
        Ok(self
            .conn
            .query_row("SELECT count(*) FROM posts", [], |r| r.get(0))?)
    }

    /// Load every post (without raw JSON) with aliases and missing-post reasons.
    pub fn load(&self) -> Result<PostSet> {
        let mut set = PostSet::new();
        // Table order, not key order: a sequential scan, and the thread stage sorts anyway.
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {POST_COLUMNS} FROM posts"))?;
        let mut sources: Vec<Arc<str>> = Vec::new();
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let p = post_from_row(row, &mut sources)?;
            set.add(p);
        }
        for (platform, alias, canonical) in self.read_aliases()? {
            set.add_alias(platform, alias, &canonical);
        }
        for m in self.read_missing()? {
            set.add_missing(m);
        }
        Ok(set)
    }

    /// Every alias: (platform, the other local id, the canonical id). Few (one per post seen
    /// under a second id), so held whole by the batched path too.
    pub(super) fn read_aliases(&self) -> Result<Vec<(Platform, String, String)>> {
        let mut out = Vec::new();
        let mut stmt = self
            .conn
            .prepare("SELECT platform, id, canonical FROM aliases")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            if let Some(platform) = Platform::parse(&row.get::<_, String>(0)?) {
                out.push((platform, row.get(1)?, row.get(2)?));
            }
        }
        Ok(out)
    }

    /// Every note of what a source said about a post it did not give.
    pub(super) fn read_missing(&self) -> Result<Vec<Missing>> {
        let mut out = Vec::new();
        let mut stmt = self
            .conn
            .prepare("SELECT platform, id, reason, reply_to FROM missing")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            if let Some(platform) = Platform::parse(&row.get::<_, String>(0)?) {
                out.push(Missing {
                    platform,
                    id: row.get(1)?,
                    reason: row.get(2)?,
                    reply_to: row.get(3)?,
                });
            }
        }
        Ok(out)
    }
}

/// The columns [`post_from_row`] reads, in its order (everything but `raw`).
pub(super) const POST_COLUMNS: &str =
    "platform, id, uri, url, author_id, author_handle, author_name, author_server,
    created_at, text, reply_to, reply_to_author, conversation_id, quote_of, repost_of,
    language, hashtags, mentions, visibility, content_warning, media_alt,
    source, source_line, source_format";

/// A stored post, without its raw JSON. `sources` shares one allocation per source file.
pub(super) fn post_from_row(row: &rusqlite::Row, sources: &mut Vec<Arc<str>>) -> Result<Post> {
    let platform: String = row.get(0)?;
    let platform = Platform::parse(&platform)
        .with_context(|| format!("unknown platform {platform:?} in corpus"))?;
    let mut p = Post::new(platform, row.get::<_, String>(1)?);
    p.uri = row.get(2)?;
    p.url = row.get(3)?;
    p.author = Arc::new(Author {
        id: row.get(4)?,
        handle: row.get(5)?,
        display_name: row.get(6)?,
        server: row.get(7)?,
    });
    p.created_at = row
        .get::<_, Option<String>>(8)?
        .as_deref()
        .and_then(parse_time);
    p.text = row.get(9)?;
    p.reply_to = row.get(10)?;
    p.reply_to_author = row.get(11)?;
    p.conversation_id = row.get(12)?;
    p.quote_of = row.get(13)?;
    p.repost_of = row.get(14)?;
    p.language = row.get(15)?;
    p.hashtags = json_list(&row.get::<_, String>(16)?);
    p.mentions = json_list(&row.get::<_, String>(17)?);
    p.visibility = row.get(18)?;
    p.content_warning = row.get(19)?;
    p.media_alt = json_list(&row.get::<_, String>(20)?);
    if let Some(source) = row.get::<_, Option<String>>(21)? {
        let source = match sources.iter().find(|s| ***s == *source) {
            Some(s) => s.clone(),
            None => {
                let s: Arc<str> = Arc::from(source);
                sources.push(s.clone());
                s
            }
        };
        let format: Option<String> = row.get(23)?;
        p.provenance = Some(Provenance {
            source,
            line: row.get::<_, Option<i64>>(22)?.unwrap_or(0) as u64,
            // Posts from a collector name it; posts from files name their format.
            format: format
                .as_deref()
                .and_then(crate::source::format::provenance_name)
                .unwrap_or("unknown"),
        });
    }
    Ok(p)
}

fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn to_json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// Upserts records inside a transaction.
pub struct ImportWriter<'c> {
    pub(super) conn: &'c Connection,
    pending: u64,
    /// When the current transaction began.
    began: Instant,
    tally: Tally,
    /// The `imports` row of an import writer (see [`Corpus::import`]), whose counts every
    /// commit brings up to date. `None` for a writer of one transaction ([`Corpus::writer`]).
    import: Option<i64>,
}

impl ImportWriter<'_> {
    /// Store one record; returns what happened to a post (None for a missing-post note).
    pub fn add(&mut self, record: &Record) -> Result<Option<Outcome>> {
        self.begin_batch()?;
        let outcome = match record {
            Record::Post(p) => Some(self.upsert(p)?),
            Record::Missing(m) => {
                self.conn
                    .prepare_cached(
                        "INSERT INTO missing (platform, id, reason, reply_to) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (platform, id) DO UPDATE SET reply_to = coalesce(reply_to, excluded.reply_to),
                             reason = CASE WHEN retry = 1 THEN excluded.reason ELSE reason END, retry = 0",
                    )?
                    .execute(params![m.platform.as_str(), m.id, m.reason, m.reply_to])?;
                self.tally.missing += 1;
                None
            }
        };
        if let Some(o) = outcome {
            self.tally.count(o);
        }
        self.pending += 1;
        // Only an import is cut by time: a collector's transaction (a page, its cursor and its
        // frontier) must stay whole, and is short anyway.
        if self.pending >= COMMIT_EVERY
            || (self.import.is_some() && self.began.elapsed() >= BATCH_TIME)
        {
            self.checkpoint()?;
        }
        Ok(outcome)
    }

    /// The stored post with this key, raw JSON included.
    fn stored(&self, platform: &str, id: &str) -> Result<Option<Post>> {
        Ok(self
            .conn
            .prepare_cached(&format!(
                "SELECT {POST_COLUMNS}, raw FROM posts WHERE platform = ?1 AND id = ?2"
            ))?
            .query_row(params![platform, id], |row| {
                let mut sources = Vec::new();
                let post = post_from_row(row, &mut sources).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                });
                Ok(post.map(|mut post| {
                    post.raw = row.get(24).ok().flatten();
                    post
                }))
            })
            .optional()?
            .transpose()?)
    }

    fn upsert(&mut self, p: &Post) -> Result<Outcome> {
        let platform = p.platform.as_str();
        // A post already stored is merged with the new copy by the one rule in `Post::merge`,
        // and written back only if that changed something.
        if let Some(mut merged) = self.stored(platform, &p.id)? {
            if !merged.merge(p.clone()) {
                return Ok(Outcome::Unchanged);
            }
            self.write(&merged, "UPDATE")?;
            return Ok(Outcome::Updated);
        }
        let mut canonical: Option<String> = self
            .conn
            .prepare_cached("SELECT canonical FROM aliases WHERE platform = ?1 AND id = ?2")?
            .query_row(params![platform, p.id], |r| r.get(0))
            .optional()?;
        if canonical.is_none() {
            if let Some(uri) = p.uri.as_ref().filter(|_| p.platform.uri_is_identity()) {
                canonical = self
                    .conn
                    .prepare_cached("SELECT id FROM posts WHERE platform = ?1 AND uri = ?2")?
                    .query_row(params![platform, uri], |r| r.get(0))
                    .optional()?;
                if let Some(c) = &canonical {
                    self.conn
                        .prepare_cached("INSERT OR IGNORE INTO aliases (platform, id, canonical) VALUES (?1, ?2, ?3)")?
                        .execute(params![platform, p.id, c])?;
                }
            }
        }
        if let Some(canonical) = canonical {
            // Another server's copy of a stored post: it may know what ours lacks (a parent).
            if let Some(mut stored) = self.stored(platform, &canonical)? {
                if stored.fill_from(p.clone()) {
                    self.write(&stored, "UPDATE")?;
                }
            }
            return Ok(Outcome::Alias);
        }
        self.write(p, "INSERT")?;
        Ok(Outcome::Inserted)
    }

    /// Record `alias` as another id of the stored Mastodon post with this `uri`, when there is
    /// one and `alias` is not a post of its own. The collector knows a post's id on its origin
    /// server from the `uri` alone, before it ever fetches that copy.
    pub fn alias_by_uri(&mut self, alias: &str, uri: &str) -> Result<bool> {
        let canonical: Option<String> = self
            .conn
            .prepare_cached("SELECT id FROM posts WHERE platform = ?1 AND uri = ?2")?
            .query_row(params![MASTODON, uri], |r| r.get(0))
            .optional()?;
        let Some(canonical) = canonical else {
            return Ok(false);
        };
        if canonical == alias || self.stored(MASTODON, alias)?.is_some() {
            return Ok(false);
        }
        let n = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO aliases (platform, id, canonical) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![MASTODON, alias, canonical])?;
        Ok(n > 0)
    }

    /// Write every column of a post, as a new row (`INSERT`) or over the stored one (`UPDATE`).
    fn write(&self, p: &Post, how: &str) -> Result<()> {
        let (hashtags, mentions, media_alt) = (
            to_json_list(&p.hashtags),
            to_json_list(&p.mentions),
            to_json_list(&p.media_alt),
        );
        let created = p.created_at.as_ref().map(format_time);
        let (source, line, format) = match &p.provenance {
            Some(pr) => (Some(&*pr.source), Some(pr.line as i64), Some(pr.format)),
            None => (None, None, None),
        };
        let sql = if how == "INSERT" {
            "INSERT INTO posts (platform, id, uri, url, author_id, author_handle, author_name, author_server,
                created_at, text, reply_to, reply_to_author, conversation_id, quote_of, repost_of, language,
                hashtags, mentions, visibility, content_warning, media_alt, raw, source, source_line, source_format)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20,
                ?21, ?22, ?23, ?24, ?25)"
        } else {
            "UPDATE posts SET uri = ?3, url = ?4, author_id = ?5, author_handle = ?6, author_name = ?7,
                author_server = ?8, created_at = ?9, text = ?10, reply_to = ?11, reply_to_author = ?12,
                conversation_id = ?13, quote_of = ?14, repost_of = ?15, language = ?16, hashtags = ?17,
                mentions = ?18, visibility = ?19, content_warning = ?20, media_alt = ?21, raw = ?22,
                source = ?23, source_line = ?24, source_format = ?25
             WHERE platform = ?1 AND id = ?2"
        };
        self.conn.prepare_cached(sql)?.execute(params![
            p.platform.as_str(),
            p.id,
            p.uri,
            p.url,
            p.author.id,
            p.author.handle,
            p.author.display_name,
            p.author.server,
            created,
            p.text,
            p.reply_to,
            p.reply_to_author,
            p.conversation_id,
            p.quote_of,
            p.repost_of,
            p.language,
            hashtags,
            mentions,
            p.visibility,
            p.content_warning,
            media_alt,
            p.raw,
            source,
            line,
            format,
        ])?;
        Ok(())
    }

    /// Commit what has been written so far and go on in a new transaction (for an import
    /// writer, from its next record).
    pub fn checkpoint(&mut self) -> Result<()> {
        if self.conn.is_autocommit() {
            return Ok(());
        }
        self.update_import(None)?;
        self.end_transaction()?;
        self.pending = 0;
        if self.import.is_none() {
            begin_writing(self.conn)?;
            self.began = Instant::now();
        }
        Ok(())
    }

    /// An import writer begins each batch at its first record.
    fn begin_batch(&mut self) -> Result<()> {
        if self.conn.is_autocommit() {
            begin_writing(self.conn)?;
            self.began = Instant::now();
        }
        Ok(())
    }

    /// Mark the import done, with the file's report (call before `commit`).
    pub fn finish_import(&mut self, report: &FileReport) -> Result<()> {
        let Some(row) = self.import else {
            return Ok(());
        };
        self.begin_batch()?;
        let tally = self.tally;
        self.conn
            .prepare_cached(
                "UPDATE imports SET format = ?2, records = ?3, inserted = ?4, updated = ?5,
                    unchanged = ?6, aliases = ?7, missing = ?8, skipped = ?9, finished_at = ?10,
                    state = 'done', error = NULL
                 WHERE rowid = ?1",
            )?
            .execute(params![
                row,
                report.format.name(),
                report.records as i64,
                tally.inserted as i64,
                tally.updated as i64,
                tally.unchanged as i64,
                tally.aliases as i64,
                tally.missing as i64,
                report.skipped.len() as i64,
                format_time(&chrono::Utc::now()),
            ])?;
        Ok(())
    }

    /// Mark the import failed with `error`; its counts are what this writer stored, which
    /// `commit` keeps (call before `commit`).
    pub fn fail_import(&mut self, error: &str) -> Result<()> {
        if self.import.is_some() {
            self.begin_batch()?;
        }
        self.update_import(Some(error))
    }

    /// Bring the import's counts up to date; with an error, mark it failed.
    fn update_import(&mut self, error: Option<&str>) -> Result<()> {
        let Some(row) = self.import else {
            return Ok(());
        };
        let t = self.tally;
        let stored = t.inserted + t.updated + t.unchanged + t.aliases + t.missing;
        let finished = error.map(|_| format_time(&chrono::Utc::now()));
        self.conn
            .prepare_cached(
                "UPDATE imports SET records = ?2, inserted = ?3, updated = ?4, unchanged = ?5,
                    aliases = ?6, missing = ?7, finished_at = coalesce(?8, finished_at),
                    state = CASE WHEN ?9 IS NULL THEN state ELSE 'failed' END,
                    error = coalesce(?9, error)
                 WHERE rowid = ?1",
            )?
            .execute(params![
                row,
                stored as i64,
                t.inserted as i64,
                t.updated as i64,
                t.unchanged as i64,
                t.aliases as i64,
                t.missing as i64,
                finished,
                error,
            ])?;
        Ok(())
    }

    /// Outcomes counted since the writer was made.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// Commit and finish.
    pub fn commit(mut self) -> Result<()> {
        self.end_transaction()
    }

    /// Commit; after a long transaction, pause so that a writer waiting in another process
    /// gets its turn before this one begins again. Without the pause a waiting writer, which
    /// tries every few milliseconds, would hardly ever find the corpus free: an import commits
    /// and begins its next batch within microseconds.
    fn end_transaction(&mut self) -> Result<()> {
        if self.conn.is_autocommit() {
            // An import writer between batches: nothing to commit.
            return Ok(());
        }
        self.conn.execute_batch("COMMIT")?;
        if self.began.elapsed() >= HELD_LONG {
            std::thread::sleep(LET_IN);
        }
        Ok(())
    }
}

/// Begin a write transaction as the writer, waiting (see [`wait_for_writer`]) while another
/// process writes.
pub(super) fn begin_writing(conn: &Connection) -> Result<()> {
    conn.execute_batch("BEGIN IMMEDIATE").map_err(|e| {
        let busy = e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy);
        let e = anyhow::Error::from(e);
        if busy {
            e.context(format!(
                "another process has been writing the corpus for over {} s without a break",
                BUSY_WAIT.as_secs()
            ))
        } else {
            e
        }
    })
}

/// Switch the corpus to WAL (a no-op once it is). When two processes open a new corpus at once,
/// SQLite answers the second "locked" at once, without calling the busy handler: so wait and
/// try again here.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = Instant::now() + BUSY_WAIT;
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(e)
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy)
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(BUSY_POLL)
            }
            done => return done,
        }
    }
}

/// SQLite's busy handler: wait [`BUSY_POLL`] and try again, for up to [`BUSY_WAIT`] in all.
fn wait_for_writer(tries: i32) -> bool {
    if BUSY_POLL * tries.max(0) as u32 >= BUSY_WAIT {
        return false;
    }
    std::thread::sleep(BUSY_POLL);
    true
}

/// The schema version and the tables of an open database.
fn inspect(conn: &Connection) -> rusqlite::Result<(i64, Vec<String>)> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite!_%' ESCAPE '!'
         ORDER BY name",
    )?;
    let tables = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok((version, tables))
}

/// Refuse a database that is not a rethread corpus (another program's tables: rethread must not
/// add its own beside them) or that a newer rethread wrote. A database without tables is a new
/// corpus.
fn check_schema(name: &str, version: i64, tables: &[String]) -> Result<()> {
    if tables.is_empty() {
        return Ok(());
    }
    if version == 0 || !tables.iter().any(|t| t == "posts") {
        const SHOWN: usize = 5;
        let mut list = tables
            .iter()
            .take(SHOWN)
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", ");
        if tables.len() > SHOWN {
            list.push_str(&format!(" … {} in all", tables.len()));
        }
        return Err(CorpusError::Foreign {
            name: name.to_string(),
            tables: list,
        }
        .into());
    }
    if version > SCHEMA_VERSION {
        bail!("{name}: corpus schema version {version} is newer than this rethread understands ({SCHEMA_VERSION})");
    }
    Ok(())
}

/// Create the corpus tables, or bring an older corpus up to [`SCHEMA_VERSION`], in one write
/// transaction. Two processes opening a new corpus at once both come here: the second waits for
/// the first, then finds the work done.
fn create_or_upgrade(conn: &Connection, name: &str) -> Result<()> {
    begin_writing(conn).with_context(|| format!("{name}: cannot create the corpus tables"))?;
    let done = (|| -> Result<()> {
        let (version, tables) = inspect(conn)?;
        check_schema(name, version, &tables)?;
        if version >= SCHEMA_VERSION {
            return Ok(());
        }
        if version == 1 {
            // Version 2 added `missing.retry`; everything else it added is a new table.
            conn.execute_batch("ALTER TABLE missing ADD COLUMN retry INTEGER NOT NULL DEFAULT 0")
                .with_context(|| {
                    format!("{name}: cannot upgrade the corpus to schema version 2")
                })?;
        }
        if (1..3).contains(&version) && tables.iter().any(|t| t == "imports") {
            // Version 3 logs an import when it starts: the columns it fills at the end may be
            // empty until then, so the table is rebuilt (SQLite cannot drop a NOT NULL), its
            // rows kept as imports that finished.
            conn.execute_batch("ALTER TABLE imports RENAME TO imports_v2")?;
            conn.execute_batch(IMPORTS)?;
            conn.execute_batch(
                "INSERT INTO imports (file, format, records, inserted, updated, unchanged, aliases,
                    missing, skipped, finished_at, state)
                 SELECT file, format, records, inserted, updated, unchanged, aliases, missing,
                    skipped, finished_at, 'done' FROM imports_v2 ORDER BY rowid;
                 DROP TABLE imports_v2;",
            )
            .with_context(|| format!("{name}: cannot upgrade the corpus to schema version 3"))?;
        }
        conn.execute_batch(SCHEMA)
            .and_then(|()| conn.execute_batch(IMPORTS))
            .and_then(|()| conn.execute_batch(super::embeddings::EMBEDDINGS))
            .with_context(|| format!("{name}: cannot create the corpus tables"))?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        Ok(())
    })();
    match done {
        Ok(()) => {
            conn.execute_batch("COMMIT")?;
            Ok(())
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

impl Drop for ImportWriter<'_> {
    fn drop(&mut self) {
        // A writer dropped without `commit` (an error on the way) rolls back its last batch only;
        // earlier batches were committed by `checkpoint`.
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: &str, text: &str) -> Record {
        let mut p = Post::new(Platform::Twitter, id);
        p.text = text.into();
        p.raw = Some(format!("{{\"text\":\"{text}\"}}"));
        p.hashtags = vec!["cs".into()];
        p.created_at = parse_time("2020-01-01T00:00:00Z");
        Record::Post(Box::new(p))
    }

    #[test]
    fn upserts_store_each_post_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Corpus::open(&dir.path().join("c.db")).unwrap();
        let mut w = c.writer().unwrap();
        assert_eq!(w.add(&post("1", "a")).unwrap(), Some(Outcome::Inserted));
        assert_eq!(w.add(&post("1", "a")).unwrap(), Some(Outcome::Unchanged));
        assert_eq!(
            w.add(&post("1", "b")).unwrap(),
            Some(Outcome::Unchanged),
            "as full: first stays"
        );
        assert_eq!(w.add(&post("1", "fuller")).unwrap(), Some(Outcome::Updated));
        assert_eq!(
            w.add(&post("1", "")).unwrap(),
            Some(Outcome::Unchanged),
            "a blank copy blanks nothing"
        );
        let mut m = Post::new(Platform::Mastodon, "5");
        m.uri = Some("https://a.example/s/5".into());
        assert_eq!(
            w.add(&Record::Post(Box::new(m.clone()))).unwrap(),
            Some(Outcome::Inserted)
        );
        m.id = "77".into();
        assert_eq!(
            w.add(&Record::Post(Box::new(m))).unwrap(),
            Some(Outcome::Alias)
        );
        w.add(&Record::Missing(Missing {
            platform: Platform::Twitter,
            id: "0".into(),
            reason: "deleted".into(),
            reply_to: None,
        }))
        .unwrap();
        w.commit().unwrap();
        assert_eq!(c.post_count().unwrap(), 2);
        let set = c.load().unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(
            set.find(Platform::Mastodon, "77"),
            set.find(Platform::Mastodon, "5")
        );
        assert_eq!(set.missing_reason(Platform::Twitter, "0"), Some("deleted"));
        let p = set.post(set.find(Platform::Twitter, "1").unwrap());
        assert_eq!(
            (p.text.as_str(), p.hashtags.clone()),
            ("fuller", vec!["cs".to_string()])
        );
    }

    #[test]
    fn an_uncommitted_batch_rolls_back_but_checkpoints_stay() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Corpus::open(&dir.path().join("c.db")).unwrap();
        {
            let mut w = c.writer().unwrap();
            w.add(&post("1", "a")).unwrap();
            w.checkpoint().unwrap();
            w.add(&post("2", "b")).unwrap();
        }
        assert_eq!(c.post_count().unwrap(), 1);
    }

    #[test]
    fn a_version_1_corpus_is_upgraded_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute_batch(
                "DROP TABLE missing;
                 CREATE TABLE missing (platform TEXT NOT NULL, id TEXT NOT NULL, reason TEXT NOT NULL,
                   reply_to TEXT, PRIMARY KEY (platform, id)) WITHOUT ROWID;
                 INSERT INTO missing VALUES ('twitter', '1', 'deleted', NULL);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        }
        let mut c = Corpus::open(&path).unwrap();
        let (reason, retry): (String, i64) = c
            .conn
            .query_row("SELECT reason, retry FROM missing", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((reason.as_str(), retry), ("deleted", 0));
        let v: i64 = c
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        // A reason given for now is replaced by what a source later says.
        let mut w = c.writer().unwrap();
        w.set_missing_on("twitter", "2", "timed out", None, true)
            .unwrap();
        w.add(&Record::Missing(Missing {
            platform: Platform::Twitter,
            id: "2".into(),
            reason: "Not Found Error".into(),
            reply_to: None,
        }))
        .unwrap();
        w.commit().unwrap();
        let (reason, retry): (String, i64) = c
            .conn
            .query_row(
                "SELECT reason, retry FROM missing WHERE id = '2'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((reason.as_str(), retry), ("Not Found Error", 0));
    }

    #[test]
    fn a_version_2_import_log_is_kept_through_the_upgrade() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA).unwrap();
            conn.execute_batch(
                "CREATE TABLE imports (file TEXT NOT NULL, format TEXT NOT NULL,
                   records INTEGER NOT NULL, inserted INTEGER NOT NULL, updated INTEGER NOT NULL,
                   unchanged INTEGER NOT NULL, aliases INTEGER NOT NULL, missing INTEGER NOT NULL,
                   skipped INTEGER NOT NULL, finished_at TEXT NOT NULL);
                 INSERT INTO imports VALUES ('a.jsonl', 'twarc2', 5, 4, 0, 1, 0, 0, 0, '2024-01-01T00:00:00Z');
                 PRAGMA user_version = 2;",
            )
            .unwrap();
        }
        let mut c = Corpus::open(&path).unwrap();
        let row: (String, i64, String, Option<String>) = c
            .conn
            .query_row(
                "SELECT file, inserted, state, started_at FROM imports",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(row, ("a.jsonl".into(), 4, "done".into(), None));
        // A new import's row exists from its start.
        let w = c.import("b.jsonl", None).unwrap();
        drop(w);
        let row: (String, String, Option<String>) = c
            .conn
            .query_row(
                "SELECT file, state, finished_at FROM imports ORDER BY rowid DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, ("b.jsonl".into(), "running".into(), None));
    }

    #[test]
    fn a_database_of_another_program_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE notes (body TEXT); PRAGMA user_version = 2;")
            .unwrap();
        let before = std::fs::read(&path).unwrap();
        let err = Corpus::open(&path).err().unwrap().to_string();
        assert!(
            err.contains("other.db: not a rethread corpus (it has tables notes)"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), before);
    }

    #[test]
    fn a_writer_waits_for_another_connections_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let mut a = Corpus::open(&path).unwrap();
        let mut b = Corpus::open(&path).unwrap();
        let mut w = a.writer().unwrap();
        w.add(&post("1", "a")).unwrap();
        // The second writer reads before it writes (the upsert looks for a stored copy): begun
        // as a reader it could not wait for the first, and failed at once with "locked".
        let second = std::thread::spawn(move || {
            let mut w = b.writer()?;
            w.add(&post("2", "b"))?;
            w.commit()
        });
        std::thread::sleep(Duration::from_millis(300));
        w.add(&post("3", "c")).unwrap();
        w.commit().unwrap();
        second.join().unwrap().unwrap();
        assert_eq!(a.post_count().unwrap(), 3);
    }

    #[test]
    fn an_import_holds_the_corpus_only_while_it_writes_a_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.db");
        let mut c = Corpus::open(&path).unwrap();
        let other = Connection::open(&path).unwrap();
        // No waiting: any lock held shows as an error at once.
        other.busy_timeout(Duration::ZERO).unwrap();
        let mut w = c.import("f.jsonl", None).unwrap();
        other.execute_batch("BEGIN IMMEDIATE; COMMIT").unwrap();
        w.add(&post("1", "a")).unwrap();
        assert!(
            other.execute_batch("BEGIN IMMEDIATE").is_err(),
            "a batch is being written"
        );
        w.checkpoint().unwrap();
        other.execute_batch("BEGIN IMMEDIATE; COMMIT").unwrap();
        let counted: i64 = other
            .query_row("SELECT inserted FROM imports", [], |r| r.get(0))
            .unwrap();
        assert_eq!(counted, 1, "each batch brings the log up to date");
        w.add(&post("2", "b")).unwrap();
        w.fail_import("f.jsonl:3: malformed").unwrap();
        w.commit().unwrap();
        let row: (String, i64, Option<String>) = other
            .query_row("SELECT state, inserted, error FROM imports", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(
            row,
            ("failed".into(), 2, Some("f.jsonl:3: malformed".into()))
        );
        assert_eq!(c.post_count().unwrap(), 2);
    }

    #[test]
    fn processes_creating_one_corpus_at_once_all_open_it() {
        for round in 0..10 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("new.db");
            let opened: Vec<_> = (0..6)
                .map(|_| {
                    let path = path.clone();
                    std::thread::spawn(move || {
                        let mut c = Corpus::open(&path)?;
                        let mut w = c.writer()?;
                        w.add(&post("1", "a"))?;
                        w.commit()
                    })
                })
                .collect();
            for t in opened {
                t.join()
                    .unwrap()
                    .unwrap_or_else(|e| panic!("round {round}: {e:#}"));
            }
        }
    }

    #[test]
    fn reading_a_missing_corpus_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Corpus::open_existing(&dir.path().join("nope.db"))
            .err()
            .unwrap();
        // Typed, naming no flag: the command says `--db` and `--input` (cmd::cli_message).
        assert!(matches!(
            err.downcast_ref::<CorpusError>(),
            Some(CorpusError::Missing(_))
        ));
        let err = err.to_string();
        assert!(
            err.contains("nope.db: no such corpus") && !err.contains("--"),
            "{err}"
        );
    }
}
