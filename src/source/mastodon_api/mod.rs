//! Collect from a Mastodon server: a hashtag timeline or a search, then every thread those posts
//! belong to, complete as the servers allow, into the corpus.
//!
//! One entry point, [`collect`]. It works in three phases, each resumable from the corpus
//! (`corpus::collect` keeps the cursors and the frontier):
//!
//! 1. **Match.** Page the tag timelines (`Link` header, 40 a page) or the search, newest
//!    first, until the date bound, `--max-posts` or the end. Each page is stored, with the
//!    cursor to the next one, in one transaction. A server that pages in circles (a `Link` seen
//!    before in this timeline, a page of posts all seen before, only empty pages) is not
//!    followed: the timeline ends with a warning, and each post is matched once.
//! 2. **Threads.** For each matched post not yet placed in a fetched thread, ask its context
//!    (one request per thread, not per post). Posts the context brings in are stored even
//!    without the hashtag. A post whose `uri` names another server is asked on that origin too,
//!    because each server knows only part of a thread; copies are joined by `uri`. An answer
//!    at a cap (40 ancestors / 60 descendants / depth 20 for logged-out clients) is asked again
//!    from its deepest cut posts.
//! 3. **Gaps.** A stored reply whose parent is still absent gets that parent asked for by id;
//!    what cannot be had is recorded with the reason (deleted/404, not public, server refused,
//!    timed out), and becomes a marked gap in the threads and transcripts.
//!
//! Only public and unlisted posts are stored, and by default not those of accounts that opt out
//! (`noindex`, or `#nobot`/`#noindex` in the profile); what was left out is counted by reason and
//! kept as a gap note without any of its content.
//!
//! Stored ids are `local_id@server` (see `source::mastodon::api_status`).

pub mod plan;

use super::net::{authority, FetchError, Fetched, Http, NetConfig};
pub use super::Bars;
use crate::corpus::{Corpus, Cursor, FrontierState, ImportWriter, PageGuard, Warnings};
use crate::model::{parse_time, Provenance, Record};
use crate::source::mastodon::{api_status, qualified, unqualify};
use anyhow::{anyhow, bail, Context as _, Result};
use chrono::{DateTime, Utc};
use plan::StatusMeta;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use tokio::task::JoinSet;
use url::Url;

/// What to collect, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The server to ask, e.g. `https://mastodon.social`.
    pub instance: Url,
    pub tags: Vec<String>,
    pub search: Option<String>,
    pub any: Vec<String>,
    pub all: Vec<String>,
    pub none: Vec<String>,
    /// Keep posts created at or after `since` and before `until`.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub max_posts: Option<u64>,
    pub no_context: bool,
    pub include_opted_out: bool,
    /// Sent to `instance` only, never stored.
    pub token: Option<String>,
    pub net: NetConfig,
}

/// Running totals of a job, kept in the corpus so that a resumed run reports the whole job.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Counters {
    /// Posts that matched the tag or search (stored or left out), each counted once.
    pub matched: u64,
    /// Posts stored (new or updated copies, every server counted).
    pub stored: u64,
    pub timeline_requests: u64,
    pub search_requests: u64,
    pub context_requests: u64,
    /// Of the context requests, those sent to a post's origin server.
    pub origin_requests: u64,
    /// Of the context requests, those asked again because an answer hit a cap.
    pub recheck_requests: u64,
    pub status_requests: u64,
    pub contexts_failed: u64,
    /// Posts from another server whose `uri` does not say their id there (not Mastodon
    /// software): their origin could not be asked.
    pub origins_unknown: u64,
    /// Posts not stored, by reason.
    pub left_out: BTreeMap<String, u64>,
    /// Parents that could not be had, by reason.
    pub gaps: BTreeMap<String, u64>,
    #[serde(flatten)]
    pub http: crate::source::net::HttpCounters,
    /// Timelines stopped because the server paged in circles, and the like.
    #[serde(flatten)]
    pub warnings: Warnings,
}

impl Counters {
    /// Add what one transaction did.
    fn absorb(&mut self, r: &TxReport) {
        self.stored += r.stored;
        self.origins_unknown += r.origins_unknown;
        self.matched += r.matched;
        for (k, n) in &r.left_out {
            *self.left_out.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &r.gaps {
            *self.gaps.entry(k.clone()).or_default() += n;
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub job: String,
    pub resumed: bool,
    pub counters: Counters,
    /// Server software, from its nodeinfo and instance description (via megalodon).
    pub server: Option<String>,
    /// Things the researcher should know (e.g. an empty anonymous search).
    pub notes: Vec<String>,
    /// Errors that stopped part of the job; running again resumes it.
    pub errors: Vec<String>,
    pub interrupted: bool,
}

/// Collect into `corpus`. Blocks; runs its own small async runtime.
pub fn collect(opts: &Options, corpus: &mut Corpus, bars: &Bars) -> Result<Summary> {
    if opts.tags.is_empty() && opts.search.is_none() {
        return Err(super::OptionError::Nothing(&["tag", "search"]).into());
    }
    Ok(super::collect::run(|| Run::new(opts, corpus, bars))?.summary)
}

/// The digest that names a job: everything that decides *what* is collected (not how fast,
/// nor with which token).
pub fn job_key(opts: &Options) -> (String, String) {
    let mut tags: Vec<String> = opts.tags.iter().map(|t| t.to_lowercase()).collect();
    tags.sort();
    tags.dedup();
    let args = serde_json::json!({
        "instance": opts.instance.as_str(),
        "tags": tags,
        "search": opts.search,
        "any": opts.any, "all": opts.all, "none": opts.none,
        "since": opts.since.map(|t| crate::model::format_time(&t)),
        "until": opts.until.map(|t| crate::model::format_time(&t)),
        "max_posts": opts.max_posts,
        "no_context": opts.no_context,
        "include_opted_out": opts.include_opted_out,
    });
    crate::corpus::job_key(args)
}

struct Run<'a> {
    opts: &'a Options,
    corpus: &'a mut Corpus,
    bars: Bars,
    http: Arc<Http>,
    host: String,
    job: String,
    summary: Summary,
    /// The posts matched so far in this run (`local_id@server`), so that each is counted once
    /// whichever tags and pages bring it again. (A resumed run goes on from the stored cursors,
    /// after the pages counted before.)
    matched_ids: HashSet<String>,
}

/// A context answer and the post it was asked for.
struct ContextTask {
    server: String,
    local_id: String,
    result: Result<Fetched, FetchError>,
}

#[derive(Deserialize)]
struct ContextBody<'a> {
    #[serde(borrow)]
    ancestors: Vec<&'a RawValue>,
    #[serde(borrow)]
    descendants: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct SearchBody<'a> {
    #[serde(borrow, default)]
    statuses: Vec<&'a RawValue>,
}

fn valid_array(body: &str) -> Result<(), String> {
    serde_json::from_str::<Vec<&RawValue>>(body)
        .map(|_| ())
        .map_err(|e| format!("expected a JSON array of statuses: {e}"))
}

fn valid_context(body: &str) -> Result<(), String> {
    serde_json::from_str::<ContextBody>(body)
        .map(|_| ())
        .map_err(|e| format!("expected a context {{ancestors, descendants}}: {e}"))
}

fn valid_search(body: &str) -> Result<(), String> {
    serde_json::from_str::<SearchBody>(body)
        .map(|_| ())
        .map_err(|e| format!("expected a search result {{statuses}}: {e}"))
}

fn valid_status(body: &str) -> Result<(), String> {
    serde_json::from_str::<StatusMeta>(body)
        .map(|_| ())
        .map_err(|e| format!("expected a status: {e}"))
}

/// The API path on a server, with one id segment (percent-encoded by `url`; callers only pass
/// ids that passed `plan::safe_id`).
fn api_url(base: &Url, segments: &[&str]) -> Url {
    let mut u = base.clone();
    u.set_query(None);
    u.set_fragment(None);
    {
        let mut path = u.path_segments_mut().expect("http(s) base URL");
        path.clear();
        path.extend(segments);
    }
    u
}

fn base_of(server: &str, like: &Url) -> Result<Url> {
    Url::parse(&format!("{}://{server}/", like.scheme()))
        .with_context(|| format!("bad server name {server:?}"))
}

impl super::collect::Collector for Run<'_> {
    fn job(&self) -> &str {
        &self.job
    }

    async fn phases(&mut self) -> Result<()> {
        self.summary.server = self.detect().await;
        self.match_posts().await?;
        if !self.opts.no_context {
            self.threads().await?;
            self.gaps().await?;
        }
        Ok(())
    }

    fn end(&mut self) -> (&mut Corpus, &mut bool, &mut Vec<String>) {
        (
            &mut *self.corpus,
            &mut self.summary.interrupted,
            &mut self.summary.errors,
        )
    }

    fn counters(&mut self) -> Result<String> {
        self.http.stats.drain_into(&mut self.summary.counters.http);
        Ok(serde_json::to_string(&self.summary.counters)?)
    }
}

impl<'a> Run<'a> {
    fn new(opts: &'a Options, corpus: &'a mut Corpus, bars: &Bars) -> Result<Run<'a>> {
        let host = authority(&opts.instance);
        if host.is_empty() {
            return Err(super::OptionError::Bad {
                option: "instance",
                value: opts.instance.to_string(),
                problem: "not a server URL",
            }
            .into());
        }
        let token = opts.token.clone().map(|t| (host.clone(), t));
        let http = Arc::new(Http::new(opts.net.clone(), token, bars.requests.clone())?);
        let (key, args) = job_key(opts);
        let job = corpus.collect_job(&key, &args)?;
        let counters: Counters = serde_json::from_str(&job.counters).unwrap_or_default();
        Ok(Run {
            opts,
            corpus,
            bars: bars.clone(),
            http,
            host,
            matched_ids: HashSet::new(),
            job: key.clone(),
            summary: Summary {
                job: key,
                resumed: job.resumed,
                counters,
                ..Default::default()
            },
        })
    }

    /// Ask the server what it is, through megalodon (nodeinfo, then the instance description).
    /// Only for the record and a warning: the collection itself uses the Mastodon API paths
    /// that Mastodon-compatible servers share.
    async fn detect(&mut self) -> Option<String> {
        let base = self
            .opts
            .instance
            .as_str()
            .trim_end_matches('/')
            .to_string();
        let t = self.opts.net.timeout;
        let sns = match tokio::time::timeout(t, megalodon::detector(&base)).await {
            Ok(Ok(sns)) => sns,
            Ok(Err(e)) => {
                self.summary
                    .notes
                    .push(format!("could not tell what software {base} runs ({e}); collecting through the Mastodon API"));
                return None;
            }
            Err(_) => {
                self.summary.notes.push(format!(
                    "{base}/.well-known/nodeinfo did not answer within {t:?}; collecting through the Mastodon API"
                ));
                return None;
            }
        };
        let name = format!("{sns:?}").to_lowercase();
        if !matches!(sns, megalodon::SNS::Mastodon) {
            self.summary.notes.push(format!(
                "{base} runs {name}, not Mastodon: collecting through its Mastodon-compatible API"
            ));
        }
        let client =
            megalodon::generator(sns, base, None, Some(self.opts.net.user_agent.clone())).ok()?;
        match tokio::time::timeout(t, client.get_instance()).await {
            Ok(Ok(instance)) => Some(format!("{name} {}", instance.json.version)),
            _ => Some(name),
        }
    }

    // ---- phase 1 -------------------------------------------------------------------------

    async fn match_posts(&mut self) -> Result<()> {
        let mut streams: Vec<(String, Url)> = Vec::new();
        let mut seen_tags = HashSet::new();
        for tag in &self.opts.tags {
            let Some(tag) = plan::clean_tag(tag) else {
                return Err(super::OptionError::Bad {
                    option: "tag",
                    value: tag.clone(),
                    problem: "an empty tag",
                }
                .into());
            };
            if !seen_tags.insert(tag.to_lowercase()) {
                continue;
            }
            let mut u = api_url(
                &self.opts.instance,
                &["api", "v1", "timelines", "tag", &tag],
            );
            plan::with_filters(&mut u, &self.opts.any, &self.opts.all, &self.opts.none);
            streams.push((format!("tag:{}", tag.to_lowercase()), u));
        }
        if let Some(q) = &self.opts.search {
            let mut u = api_url(&self.opts.instance, &["api", "v2", "search"]);
            u.query_pairs_mut()
                .append_pair("q", q)
                .append_pair("type", "statuses")
                .append_pair("resolve", "false")
                .append_pair("limit", "40");
            streams.push((format!("search:{q}"), u));
        }
        for (stream, first) in streams {
            if let Err(e) = self.page_stream(&stream, first).await {
                self.summary.errors.push(format!(
                    "{stream}: {e:#}\n  everything before this page is stored; run the same command again to go on"
                ));
            }
        }
        Ok(())
    }

    fn matched_total(&self) -> Result<u64> {
        self.corpus.cursor_total(&self.job)
    }

    /// Page one timeline or search to its end, the date bound or `--max-posts`, resuming from
    /// its stored cursor. A server that pages in circles (a cursor seen before in this
    /// timeline, a page of posts all seen before, or only empty pages) is not followed: the
    /// timeline is marked done with a warning, in the transaction of its last page, so that
    /// neither this run nor a resumed one asks again. A post is matched once per job, however
    /// often pages repeat it.
    async fn page_stream(&mut self, stream: &str, first: Url) -> Result<()> {
        let is_search = stream.starts_with("search:");
        let mut cur = self.corpus.cursor(&self.job, stream)?;
        let mut guard = PageGuard::starting_at(cur.next_url.as_deref().unwrap_or(first.as_str()));
        while !cur.done {
            if let Some(max) = self.opts.max_posts {
                if self.matched_total()? >= max {
                    break;
                }
            }
            let url = match &cur.next_url {
                Some(u) => Url::parse(u).with_context(|| format!("stored cursor {u:?}"))?,
                None => first.clone(),
            };
            let fetched = if is_search {
                self.summary.counters.search_requests += 1;
                self.http.get(&url, valid_search).await
            } else {
                self.summary.counters.timeline_requests += 1;
                self.http.get(&url, valid_array).await
            };
            let fetched = fetched.map_err(|e| anyhow!(e))?;
            let items: Vec<&RawValue> = if is_search {
                serde_json::from_str::<SearchBody>(&fetched.body)?.statuses
            } else {
                serde_json::from_str(&fetched.body)?
            };
            let metas: Vec<StatusMeta> = items
                .iter()
                .map(|raw| {
                    serde_json::from_str(raw.get())
                        .with_context(|| format!("{url}: a status without an id"))
                })
                .collect::<Result<_>>()?;
            let fresh = guard.fresh(metas.iter().map(|m| m.id.as_str()));
            let mut next = if is_search {
                // Search pages by offset: the next page starts after this one's statuses.
                if items.is_empty() {
                    None
                } else {
                    let offset: u64 = url
                        .query_pairs()
                        .find(|(k, _)| k == "offset")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    let mut n = url.clone();
                    let pairs: Vec<(String, String)> = url
                        .query_pairs()
                        .filter(|(k, _)| k != "offset")
                        .map(|(k, v)| (k.into_owned(), v.into_owned()))
                        .collect();
                    n.query_pairs_mut()
                        .clear()
                        .extend_pairs(pairs)
                        .append_pair("offset", &(offset + items.len() as u64).to_string());
                    Some(n)
                }
            } else {
                self.next_page(&fetched)?
            };
            // A server that ignores `offset` sends the same page again: nothing new, stop.
            let stop = next.as_ref().and_then(|n| {
                let new = fresh.iter().filter(|&&f| f).count();
                guard.stop_before(n.as_str(), items.len(), new)
            });
            let warning = stop
                .map(|why| format!("stopped paging {url}: {why} (everything it sent is stored)"));
            if is_search && items.is_empty() && cur.next_url.is_none() && !fetched.authenticated {
                self.summary.notes.push(format!(
                    "{} returned no statuses for the search {:?} to an anonymous client. Mastodon shows \
                     full-text search results only to logged-in users; set MASTODON_TOKEN to an access \
                     token of an account on {} and run again.",
                    self.host,
                    self.opts.search.as_deref().unwrap_or(""),
                    self.host
                ));
            }
            let endpoint = if is_search { "search" } else { "timeline" };
            let mut matched_here = 0u64;
            let mut reached_end = stop.is_some();
            let opts = self.opts;
            let max = opts.max_posts;
            let before = self.matched_total()?;
            let (job, host) = (self.job.clone(), self.host.clone());
            // Taken out while the transaction holds the run; put back below.
            let mut matched_ids = std::mem::take(&mut self.matched_ids);
            let counters_before = warning.as_ref().map(|_| self.summary.counters.clone());
            let http = self.http.clone();
            let mut tx = Tx::new(self)?;
            for ((raw, meta), new_here) in items.iter().zip(&metas).zip(&fresh) {
                if !new_here {
                    // Already on an earlier page of this timeline: stored and counted there.
                    continue;
                }
                let created = meta.created_at.as_deref().and_then(parse_time);
                if let (Some(until), Some(c)) = (opts.until, created) {
                    if c >= until {
                        continue;
                    }
                }
                if let (Some(since), Some(c)) = (opts.since, created) {
                    if c < since {
                        // Timelines are newest first: everything after this is older still.
                        if !is_search {
                            reached_end = true;
                            break;
                        }
                        continue;
                    }
                }
                if !matched_ids.insert(qualified(&meta.id, &host)) {
                    // Matched by another tag of this job already (and stored then).
                    continue;
                }
                if max.is_some_and(|m| before + matched_here >= m) {
                    reached_end = true;
                    break;
                }
                matched_here += 1;
                tx.report.matched += 1;
                let stored = tx.store(raw.get(), meta, &host, endpoint, &fetched)?;
                if stored {
                    // A post that replies to nothing, has no replies, and lives here (its own
                    // server has every reply it was sent) is a whole thread: no context to ask.
                    let alone = meta.in_reply_to_id.is_none()
                        && meta.replies_count == Some(0)
                        && meta
                            .uri
                            .as_deref()
                            .and_then(plan::origin_of)
                            .is_some_and(|(_, origin, _)| origin == host);
                    tx.w.frontier_seed(
                        &job,
                        &host,
                        &meta.id,
                        opts.no_context || alone,
                        meta.in_reply_to_id.is_some(),
                    )?;
                }
            }
            if reached_end {
                next = None;
            }
            cur = Cursor {
                next_url: next.as_ref().map(Url::to_string),
                matched: cur.matched + matched_here,
                done: next.is_none(),
            };
            tx.w.set_cursor(&job, stream, &cur)?;
            // The warning is saved with the counters in the page's own transaction: a run
            // stopped right after still reports it when resumed.
            let counters_after = match (counters_before, warning) {
                (Some(mut c), Some(w)) => {
                    c.absorb(&tx.report);
                    c.warnings.add(w);
                    http.stats.drain_into(&mut c.http);
                    tx.w.save_counters(&job, &serde_json::to_string(&c)?)?;
                    Some(c)
                }
                _ => None,
            };
            let report = tx.commit()?;
            self.matched_ids = matched_ids;
            match counters_after {
                Some(c) => self.summary.counters = c,
                None => self.summary.counters.absorb(&report),
            }
            self.bars.posts.set_position(self.summary.counters.stored);
        }
        Ok(())
    }

    /// The next timeline page, with our filters put back; only ever on the same server (a
    /// `Link` elsewhere would carry our token to a stranger).
    fn next_page(&self, f: &Fetched) -> Result<Option<Url>> {
        let Some(link) = f
            .headers
            .get("link")
            .and_then(|v| v.to_str().ok())
            .and_then(plan::link_next)
        else {
            return Ok(None);
        };
        let mut next = f
            .url
            .join(&link)
            .with_context(|| format!("{}: bad Link target {link:?}", f.url))?;
        if authority(&next) != authority(&f.url) || next.scheme() != f.url.scheme() {
            bail!(
                "{}: the next page is on another server ({next}); not followed",
                f.url
            );
        }
        plan::with_filters(&mut next, &self.opts.any, &self.opts.all, &self.opts.none);
        Ok(Some(next))
    }

    fn absorb(&mut self, r: TxReport) {
        self.summary.counters.absorb(&r);
    }

    // ---- phase 2 -------------------------------------------------------------------------

    async fn threads(&mut self) -> Result<()> {
        // No more requests in flight per server than it may serve at once: a context asked
        // early that another answer would have placed is a request wasted, so the frontier is
        // read again after every answer.
        let per_host = self.opts.net.per_host.max(1);
        let mut tasks: JoinSet<ContextTask> = JoinSet::new();
        let mut in_flight: HashSet<(String, String)> = HashSet::new();
        let mut busy: HashMap<String, usize> = HashMap::new();
        loop {
            let pending = self.corpus.pending_frontier(&self.job, 256, |s, i| {
                in_flight.contains(&(s.to_string(), i.to_string()))
                    || busy.get(s).is_some_and(|&n| n >= per_host)
            })?;
            for (server, local_id) in pending {
                let n = busy.entry(server.clone()).or_default();
                if *n >= per_host {
                    continue;
                }
                *n += 1;
                in_flight.insert((server.clone(), local_id.clone()));
                let base = base_of(&server, &self.opts.instance)?;
                let url = api_url(&base, &["api", "v1", "statuses", &local_id, "context"]);
                let http = self.http.clone();
                tasks.spawn(async move {
                    let result = http.get(&url, valid_context).await;
                    ContextTask {
                        server,
                        local_id,
                        result,
                    }
                });
            }
            self.update_thread_bar()?;
            let Some(done) = tasks.join_next().await else {
                break;
            };
            let task = done.map_err(|e| anyhow!("context task failed: {e}"))?;
            in_flight.remove(&(task.server.clone(), task.local_id.clone()));
            if let Some(n) = busy.get_mut(&task.server) {
                *n = n.saturating_sub(1);
            }
            self.context_answer(task)?;
        }
        self.update_thread_bar()?;
        Ok(())
    }

    fn update_thread_bar(&mut self) -> Result<()> {
        let (pending, _placed, asked, failed) = self.corpus.frontier_counts(&self.job)?;
        self.bars.threads.set_length(pending + asked + failed);
        self.bars.threads.set_position(asked + failed);
        Ok(())
    }

    fn context_answer(&mut self, task: ContextTask) -> Result<()> {
        let ContextTask {
            server,
            local_id,
            result,
        } = task;
        self.summary.counters.context_requests += 1;
        if server != self.host {
            self.summary.counters.origin_requests += 1;
        }
        let fetched = match result {
            Ok(f) => f,
            Err(e) => {
                self.summary.counters.contexts_failed += 1;
                let reason = format!("context not fetched: {}", e.gap_reason(&server));
                let job = self.job.clone();
                let mut tx = Tx::new(self)?;
                tx.w.frontier(
                    &job,
                    &server,
                    &local_id,
                    FrontierState::Failed,
                    false,
                    Some(&reason),
                )?;
                let r = tx.commit()?;
                self.absorb(r);
                return Ok(());
            }
        };
        let body: ContextBody = serde_json::from_str(&fetched.body)?;
        let parse = |v: &[&RawValue]| -> Result<Vec<StatusMeta>> {
            v.iter()
                .map(|r| {
                    serde_json::from_str::<StatusMeta>(r.get())
                        .with_context(|| format!("{}: a status without an id", fetched.url))
                })
                .collect()
        };
        let ancestors = parse(&body.ancestors)?;
        let descendants = parse(&body.descendants)?;
        let caps = plan::Caps::for_client(fetched.authenticated);
        let again = plan::recheck(&local_id, &ancestors, &descendants, caps);
        let job = self.job.clone();
        let mut tx = Tx::new(self)?;
        for (raw, meta) in body
            .ancestors
            .iter()
            .chain(&body.descendants)
            .zip(ancestors.iter().chain(&descendants))
        {
            tx.store(raw.get(), meta, &server, "context", &fetched)?;
            if plan::safe_id(&meta.id) {
                tx.w.frontier(&job, &server, &meta.id, FrontierState::Placed, false, None)?;
            }
        }
        for id in &again {
            if plan::safe_id(id)
                && tx
                    .w
                    .frontier(&job, &server, id, FrontierState::Pending, true, None)?
            {
                tx.report.rechecks += 1;
            }
        }
        tx.w.frontier(&job, &server, &local_id, FrontierState::Asked, false, None)?;
        let r = tx.commit()?;
        self.summary.counters.recheck_requests += r.rechecks;
        self.absorb(r);
        self.bars.posts.set_position(self.summary.counters.stored);
        Ok(())
    }

    // ---- phase 3 -------------------------------------------------------------------------

    async fn gaps(&mut self) -> Result<()> {
        let mut asked: HashSet<String> = HashSet::new();
        let limit = self.opts.net.per_host.max(1) * 4;
        // Each round asks for the parents still dangling; a parent found may name a parent of
        // its own. Every id is asked once, so this ends.
        loop {
            let dangling: Vec<String> = self
                .corpus
                .dangling_parents()?
                .into_iter()
                .filter(|id| !asked.contains(id))
                .collect();
            if dangling.is_empty() {
                break;
            }
            let mut tasks: JoinSet<(String, Result<Fetched, FetchError>)> = JoinSet::new();
            let mut queue = dangling.into_iter();
            loop {
                while tasks.len() < limit {
                    let Some(id) = queue.next() else { break };
                    asked.insert(id.clone());
                    let Some((local, server)) =
                        unqualify(&id).map(|(l, s)| (l.to_string(), s.to_string()))
                    else {
                        continue;
                    };
                    if !plan::safe_id(&local) {
                        let mut tx = Tx::new(self)?;
                        tx.gap(&id, "parent id is not a valid status id".into(), false)?;
                        let r = tx.commit()?;
                        self.absorb(r);
                        continue;
                    }
                    let base = base_of(&server, &self.opts.instance)?;
                    let url = api_url(&base, &["api", "v1", "statuses", &local]);
                    let http = self.http.clone();
                    tasks.spawn(async move { (id, http.get(&url, valid_status).await) });
                }
                let Some(done) = tasks.join_next().await else {
                    break;
                };
                let (id, result) = done.map_err(|e| anyhow!("status task failed: {e}"))?;
                self.summary.counters.status_requests += 1;
                let (_, server) = unqualify(&id).expect("qualified above");
                let server = server.to_string();
                let mut tx = Tx::new(self)?;
                match result {
                    Ok(f) => {
                        let meta: StatusMeta = serde_json::from_str(&f.body)?;
                        tx.store(&f.body, &meta, &server, "status", &f)?;
                    }
                    Err(e) => tx.gap(&id, e.gap_reason(&server), e.transient())?,
                }
                let r = tx.commit()?;
                self.absorb(r);
            }
        }
        Ok(())
    }
}

/// What one transaction did, to add to the counters after it committed.
#[derive(Default)]
struct TxReport {
    stored: u64,
    origins_unknown: u64,
    matched: u64,
    rechecks: u64,
    left_out: BTreeMap<String, u64>,
    gaps: BTreeMap<String, u64>,
}

/// One transaction of collected data.
struct Tx<'r> {
    w: ImportWriter<'r>,
    job: String,
    no_context: bool,
    include_opted_out: bool,
    report: TxReport,
}

impl<'r> Tx<'r> {
    fn new<'a: 'r>(run: &'r mut Run<'a>) -> Result<Tx<'r>> {
        Ok(Tx {
            job: run.job.clone(),
            no_context: run.opts.no_context,
            include_opted_out: run.opts.include_opted_out,
            w: run.corpus.writer()?,
            report: TxReport::default(),
        })
    }

    /// Store one status fetched from `server`, unless it must be left out. Returns whether it
    /// was stored.
    fn store(
        &mut self,
        raw: &str,
        meta: &StatusMeta,
        server: &str,
        endpoint: &str,
        f: &Fetched,
    ) -> Result<bool> {
        let id = qualified(&meta.id, server);
        let parent = meta.in_reply_to_id.as_deref().map(|p| qualified(p, server));
        if let Some(reason) = plan::left_out_reason(meta, self.include_opted_out) {
            *self.report.left_out.entry(reason.to_string()).or_default() += 1;
            self.w.set_missing(
                &id,
                &format!("{}{reason}", crate::model::Missing::LEFT_OUT),
                parent.as_deref(),
                false,
            )?;
            return Ok(false);
        }
        let provenance = Provenance {
            source: Arc::from(f.url.as_str()),
            line: 0,
            format: "mastodon-api",
        };
        let posts = api_status(raw, server, provenance)
            .map_err(|e| anyhow!("{}: status {}: {e}", f.url, meta.id))?;
        let fetched_at = crate::model::format_time(&f.fetched_at);
        for (k, p) in posts.into_iter().enumerate() {
            // The posts after the first are statuses embedded in it (a boosted or quoted
            // status): their authors' choices hold for them as well.
            if k > 0 {
                let embedded: Option<StatusMeta> =
                    p.raw.as_deref().and_then(|r| serde_json::from_str(r).ok());
                if let Some(reason) = embedded
                    .as_ref()
                    .and_then(|m| plan::left_out_reason(m, self.include_opted_out))
                {
                    *self.report.left_out.entry(reason.to_string()).or_default() += 1;
                    self.w.set_missing(
                        &p.id,
                        &format!("{}{reason}", crate::model::Missing::LEFT_OUT),
                        None,
                        false,
                    )?;
                    continue;
                }
            }
            let pid = p.id.clone();
            self.w.add(&Record::Post(Box::new(p)))?;
            self.w.add_fetch(
                "mastodon",
                &pid,
                server,
                endpoint,
                f.authenticated,
                &fetched_at,
            )?;
        }
        self.report.stored += 1;
        // A post that lives on another server: its origin knows its thread best. Remember its
        // id there (as an alias, so replies fetched from the origin find it) and ask there.
        if let Some(uri) = &meta.uri {
            let foreign = url::Url::parse(uri).is_ok_and(|u| authority(&u) != server);
            if foreign && plan::origin_of(uri).is_none() {
                self.report.origins_unknown += 1;
            }
            if let Some((_, origin, origin_id)) = plan::origin_of(uri) {
                if origin != server {
                    let alias = qualified(&origin_id, &origin);
                    self.w.alias_by_uri(&alias, uri)?;
                    if !self.no_context {
                        self.w.frontier(
                            &self.job,
                            &origin,
                            &origin_id,
                            FrontierState::Pending,
                            false,
                            None,
                        )?;
                    }
                }
            }
        }
        Ok(true)
    }

    /// Record why a parent could not be had (`retry`: for now; a later run asks again).
    fn gap(&mut self, id: &str, reason: String, retry: bool) -> Result<()> {
        self.w.set_missing(id, &reason, None, retry)?;
        *self.report.gaps.entry(reason).or_default() += 1;
        Ok(())
    }

    fn commit(self) -> Result<TxReport> {
        self.w.commit()?;
        Ok(self.report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Platform;
    use std::time::Duration;

    fn opts() -> Options {
        Options {
            instance: Url::parse("https://m.example").unwrap(),
            tags: vec!["cs".into()],
            search: None,
            any: vec![],
            all: vec![],
            none: vec![],
            since: None,
            until: None,
            max_posts: None,
            no_context: false,
            include_opted_out: false,
            token: None,
            net: NetConfig::default(),
        }
    }

    #[test]
    fn job_key_ignores_token_and_pace_but_not_what_is_collected() {
        let a = opts();
        let mut b = opts();
        b.token = Some("secret".into());
        b.net.pace = Duration::from_secs(3);
        assert_eq!(job_key(&a).0, job_key(&b).0);
        assert!(!job_key(&b).1.contains("secret"));
        let mut c = opts();
        c.tags = vec!["CS".into()];
        assert_eq!(job_key(&a).0, job_key(&c).0);
        c.max_posts = Some(10);
        assert_ne!(job_key(&a).0, job_key(&c).0);
    }

    #[test]
    fn an_embedded_status_of_an_opted_out_author_is_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let mut corpus = Corpus::open(&dir.path().join("c.db")).unwrap();
        let quoted = r#"{"id":"7","uri":"https://m.example/users/dee/statuses/7","visibility":"public",
            "content":"<p>OPTEDOUT words</p>","account":{"id":"4","username":"dee","note":"<p>#NoBot</p>"}}"#;
        let raw = format!(
            r#"{{"id":"8","uri":"https://m.example/users/ana/statuses/8","visibility":"public",
            "content":"<p>look at this</p>","account":{{"id":"1","username":"ana","note":""}},
            "quote":{{"state":"accepted","quoted_status":{quoted}}}}}"#
        );
        let meta: StatusMeta = serde_json::from_str(&raw).unwrap();
        let f = Fetched {
            url: Url::parse("https://m.example/api/v1/timelines/tag/x").unwrap(),
            body: String::new(),
            headers: Default::default(),
            authenticated: false,
            fetched_at: Utc::now(),
        };
        let mut tx = Tx {
            w: corpus.writer().unwrap(),
            job: "j".into(),
            no_context: true,
            include_opted_out: false,
            report: TxReport::default(),
        };
        assert!(tx.store(&raw, &meta, "m.example", "timeline", &f).unwrap());
        let report = tx.commit().unwrap();
        assert_eq!(
            report.left_out.get("author opted out (#nobot in profile)"),
            Some(&1)
        );
        let set = corpus.load().unwrap();
        assert_eq!(set.len(), 1);
        let outer = set.post(0);
        assert_eq!(outer.id, "8@m.example");
        // Provenance survives the round trip through the corpus.
        let prov = outer.provenance.as_ref().unwrap();
        assert_eq!(prov.format, "mastodon-api");
        assert_eq!(&*prov.source, "https://m.example/api/v1/timelines/tag/x");
        assert_eq!(outer.quote_of.as_deref(), Some("7@m.example"));
        assert!(set.find(Platform::Mastodon, "7@m.example").is_none());
        assert!(set
            .missing_reason(Platform::Mastodon, "7@m.example")
            .unwrap()
            .contains("opted out"));
    }

    /// The real recordings in `../shared/data/mastodon/rtoot_fixtures`: tag timeline pages and
    /// contexts from mastodon.social and social.tchncs.de (Nov 2022).
    fn recordings() -> Option<Vec<(String, String)>> {
        let dir = std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/mastodon/rtoot_fixtures"
        ));
        if !dir.is_dir() {
            eprintln!(
                "skipping: ../shared/data/mastodon/rtoot_fixtures not found beside the checkout"
            );
            return None;
        }
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            if name.contains("__timelines_tag_") || name.contains("_context__") {
                let host = name.split("__").next().unwrap().to_string();
                out.push((host, std::fs::read_to_string(dir.join(&name)).unwrap()));
            }
        }
        out.sort();
        assert!(
            out.len() >= 9,
            "tag pages and contexts expected, found {}",
            out.len()
        );
        Some(out)
    }

    #[test]
    fn real_recordings_decide_as_documented() {
        let Some(files) = recordings() else { return };
        let (mut statuses, mut remote, mut left_out, mut unknown) = (0, 0, 0, 0);
        let mut origins = std::collections::BTreeSet::new();
        for (host, body) in files {
            let raws: Vec<&RawValue> = if body.trim_start().starts_with('[') {
                valid_array(&body).unwrap();
                serde_json::from_str(&body).unwrap()
            } else {
                valid_context(&body).unwrap();
                let c: ContextBody = serde_json::from_str(&body).unwrap();
                let caps = plan::Caps::for_client(false);
                let metas = |v: &[&RawValue]| -> Vec<StatusMeta> {
                    v.iter()
                        .map(|r| serde_json::from_str(r.get()).unwrap())
                        .collect()
                };
                // Small real threads: under every cap, nothing to ask again.
                assert!(
                    plan::recheck("x", &metas(&c.ancestors), &metas(&c.descendants), caps)
                        .is_empty()
                );
                c.ancestors.into_iter().chain(c.descendants).collect()
            };
            for raw in raws {
                statuses += 1;
                let meta: StatusMeta = serde_json::from_str(raw.get()).unwrap();
                let noindex = meta.account.as_ref().and_then(|a| a.noindex) == Some(true);
                match plan::left_out_reason(&meta, false) {
                    Some(_) => left_out += 1,
                    None => assert!(!noindex, "{}", meta.id),
                }
                let uri = meta.uri.as_deref().unwrap();
                // Other software writes other uris (Friendica: /objects/UUID): the origin's
                // id cannot be read from them, so such an origin is not asked.
                if let Some((_, origin, origin_id)) = plan::origin_of(uri) {
                    assert!(uri.ends_with(&format!("/statuses/{origin_id}")), "{uri}");
                    if origin != host {
                        remote += 1;
                        origins.insert(origin.clone());
                    } else {
                        assert_eq!(origin_id, meta.id, "a local post's uri carries its id");
                    }
                } else {
                    unknown += 1;
                }
                let prov = Provenance {
                    source: Arc::from("https://example/"),
                    line: 0,
                    format: "mastodon-api",
                };
                let posts = api_status(raw.get(), &host, prov).unwrap();
                assert_eq!(posts[0].id, format!("{}@{host}", meta.id));
                if let Some(p) = &meta.in_reply_to_id {
                    assert_eq!(
                        posts[0].reply_to.as_deref(),
                        Some(format!("{p}@{host}").as_str())
                    );
                }
                assert!(
                    posts[0].raw.as_deref() == Some(raw.get()),
                    "raw kept verbatim"
                );
            }
        }
        // Most tagged posts on a big server come from elsewhere: the origin asks matter.
        assert!(statuses >= 180, "{statuses}");
        assert!(remote * 2 > statuses, "{remote} remote of {statuses}");
        assert!(origins.len() >= 20, "{origins:?}");
        assert!(
            left_out * 10 < statuses,
            "{left_out} left out of {statuses}"
        );
        assert_eq!(unknown, 1, "one Friendica post among them");
    }

    #[test]
    fn api_urls_encode_what_they_carry() {
        let base = Url::parse("https://m.example/").unwrap();
        assert_eq!(
            api_url(&base, &["api", "v1", "timelines", "tag", "café au lait"]).as_str(),
            "https://m.example/api/v1/timelines/tag/caf%C3%A9%20au%20lait"
        );
        assert_eq!(
            api_url(&base, &["api", "v1", "statuses", "../x", "context"]).as_str(),
            "https://m.example/api/v1/statuses/..%2Fx/context"
        );
    }
}
