//! Collect from Bluesky (the AT Protocol's XRPC API): a search, then the whole thread of every
//! post it found, into the corpus.
//!
//! One entry point, [`collect`], in two resumable phases (state in `corpus::collect`):
//!
//! 1. **Search**: `app.bsky.feed.searchPosts` (`q`, and `tag` for a tag; `sort=latest`, 100 a
//!    page, paged by `cursor`). The AppView stops paging a query near 10,000 results: when a
//!    full page comes without a cursor, the search goes on as a new query with `until` set to
//!    the oldest post seen, until a page brings nothing new. Each page and the next request's
//!    URL are stored in one transaction, so a run killed at any point goes on from the page
//!    after the last one stored.
//! 2. **Threads**: for every thread root the search showed (`reply.root` of a reply, the post
//!    itself otherwise), `app.bsky.feed.getPostThread` with `depth=1000&parentHeight=1000`.
//!    The public AppView cuts the depth at about 10: a post whose `replyCount` says it has
//!    more replies than the answer showed is asked again, as the anchor of its own subtree,
//!    once. One request per thread, plus one per cut branch, never one per post. A root the
//!    AppView cannot find (deleted) is a gap, and the threads of the search's posts under it
//!    are asked from those posts instead.
//!
//! The session: `com.atproto.server.createSession` on `--pds` with the app password, and
//! `refreshSession` when the access token expires (`ExpiredToken`); a refresh that fails makes
//! a new session. The tokens and the password are secrets of the HTTP client: sent only to the
//! PDS, redacted from everything a server sends back, never printed or stored. Reads go to
//! `--appview` (by default the PDS, which passes them on to the AppView for the account).
//!
//! Every post passes through the Bluesky importer (`source::bluesky`), so a collected corpus
//! is what importing the same responses gives; the one difference is consent: posts of
//! accounts labelled `!no-unauthenticated` are left out (a gap saying so) unless
//! `include_opted_out`.

use super::bluesky::{self, Shown, Viewed};
use super::net::{authority, FetchError, Fetched, Http, NetConfig, REDACTED};
use super::{Bars, Context, Format};
use crate::corpus::{Corpus, Cursor, FrontierState, ImportWriter, PageGuard, Warnings};
use crate::model::{format_time, AtUri, Missing, Platform, Record};
use anyhow::{anyhow, Result};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::sync::Arc;
use url::Url;

/// Posts a search page asks for: the most the API gives.
const PAGE: u64 = 100;
/// The depth asked of a thread, both ways: the most the API takes.
const DEPTH: u32 = 1000;
/// Continuations of a search by `until`, at most: each must bring something new anyway.
const MAX_CONTINUATIONS: u32 = 10_000;

/// What to collect, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the session is made (`https://bsky.social` for most accounts).
    pub pds: Url,
    /// Where the read endpoints are asked.
    pub appview: Url,
    pub query: Option<String>,
    pub tag: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub max_posts: Option<u64>,
    pub no_context: bool,
    pub include_opted_out: bool,
    /// The account's handle (or email) and app password: sent to `pds` only, never stored.
    pub identifier: String,
    pub password: String,
    pub net: NetConfig,
}

/// Running totals of a job, kept in the corpus so that a resumed run reports the whole job.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Counters {
    /// Posts the search returned, each counted once.
    pub matched: u64,
    /// Posts stored (search hits, thread posts and quoted posts; repeats counted each time).
    pub stored: u64,
    pub search_requests: u64,
    /// Continuations of the search with `until` after the AppView stopped paging.
    pub continuations: u64,
    pub thread_requests: u64,
    /// Requests for branches a thread answer cut off.
    pub branch_requests: u64,
    pub threads_failed: u64,
    pub sessions: u64,
    pub refreshes: u64,
    /// Posts left out, by reason (consent).
    pub left_out: BTreeMap<String, u64>,
    /// Posts that could not be had, by reason.
    pub gaps: BTreeMap<String, u64>,
    #[serde(flatten)]
    pub http: super::net::HttpCounters,
    #[serde(flatten)]
    pub warnings: Warnings,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub job: String,
    pub resumed: bool,
    pub counters: Counters,
    pub errors: Vec<String>,
    pub interrupted: bool,
}

/// The digest naming a job: what is collected, not how fast nor with which account.
pub fn job_key(opts: &Options) -> (String, String) {
    crate::corpus::job_key(serde_json::json!({
        "platform": "bluesky",
        "appview": opts.appview.as_str(),
        "query": opts.query,
        "tag": opts.tag,
        "since": opts.since.map(|t| format_time(&t)),
        "until": opts.until.map(|t| format_time(&t)),
        "max_posts": opts.max_posts,
        "no_context": opts.no_context,
        "include_opted_out": opts.include_opted_out,
    }))
}

/// Collect into `corpus`. Blocks; runs its own small async runtime.
pub fn collect(opts: &Options, corpus: &mut Corpus, bars: &Bars) -> Result<Summary> {
    let query = opts.query.as_deref().map(str::trim).unwrap_or("");
    let tag = opts
        .tag
        .as_deref()
        .map(|t| t.trim().trim_start_matches('#'))
        .unwrap_or("");
    if query.is_empty() && tag.is_empty() {
        return Err(super::OptionError::Nothing(&["query", "tag"]).into());
    }
    Ok(super::collect::run(|| Run::new(opts, corpus, bars))?.summary)
}

/// The account's session: its tokens are the HTTP client's secrets.
struct Session {
    access: String,
    refresh: String,
}

#[derive(Deserialize)]
struct SessionBody {
    #[serde(rename = "accessJwt")]
    access: String,
    #[serde(rename = "refreshJwt")]
    refresh: String,
}

fn valid_session(body: &str) -> Result<(), String> {
    serde_json::from_str::<SessionBody>(body)
        .map(|_| ())
        .map_err(|_| "not a session (accessJwt, refreshJwt)".into())
}

/// A search page: `posts` and perhaps a `cursor`.
#[derive(Deserialize)]
struct SearchPage<'a> {
    #[serde(borrow)]
    posts: Vec<&'a RawValue>,
    #[serde(default)]
    cursor: Option<String>,
}

fn valid_search(body: &str) -> Result<(), String> {
    serde_json::from_str::<SearchPage>(body)
        .map(|_| ())
        .map_err(|e| format!("not a searchPosts page: {e}"))
}

fn valid_thread(body: &str) -> Result<(), String> {
    bluesky::thread_of(body).map(|_| ())
}

/// Did the server say the access token expired?
fn expired(e: &FetchError) -> bool {
    matches!(e, FetchError::Status { status: 400 | 401, body, .. } if body.contains("ExpiredToken"))
}

/// Did the AppView say it has no such post (the anchor of a getPostThread)?
fn not_found(e: &FetchError) -> bool {
    matches!(e, FetchError::Status { status: 400 | 404, body, .. } if body.contains("NotFound"))
}

struct Run<'a> {
    opts: &'a Options,
    corpus: &'a mut Corpus,
    bars: Bars,
    http: Arc<Http>,
    session: Option<Session>,
    job: String,
    /// The AppView's authority: the "server" of the frontier's entries.
    server: String,
    summary: Summary,
}

impl super::collect::Collector for Run<'_> {
    fn job(&self) -> &str {
        &self.job
    }

    async fn phases(&mut self) -> Result<()> {
        self.login().await?;
        self.search().await?;
        if !self.opts.no_context {
            self.threads().await?;
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
        for (option, u) in [("pds", &opts.pds), ("appview", &opts.appview)] {
            if !matches!(u.scheme(), "https" | "http") || authority(u).is_empty() {
                return Err(super::OptionError::Bad {
                    option,
                    value: u.to_string(),
                    problem: "not a server's root URL (https://...)",
                }
                .into());
            }
        }
        let (key, args) = job_key(opts);
        let job = corpus.collect_job(&key, &args)?;
        let counters: Counters = serde_json::from_str(&job.counters).unwrap_or_default();
        let http = Arc::new(Http::with_secrets(
            opts.net.clone(),
            None,
            &[&opts.password],
            bars.requests.clone(),
        )?);
        Ok(Run {
            opts,
            corpus,
            bars: bars.clone(),
            http,
            session: None,
            job: key.clone(),
            server: authority(&opts.appview),
            summary: Summary {
                job: key,
                resumed: job.resumed,
                counters,
                ..Default::default()
            },
        })
    }

    fn xrpc(&self, base: &Url, method: &str) -> Url {
        let mut u = base.clone();
        u.set_path(&format!("/xrpc/{method}"));
        u.set_query(None);
        u
    }

    /// A new client holding the session's tokens (sent to the PDS only) and the password.
    fn use_session(&mut self, s: Session) -> Result<()> {
        self.http.stats.drain_into(&mut self.summary.counters.http);
        let pds = authority(&self.opts.pds);
        self.http = Arc::new(Http::with_secrets(
            self.opts.net.clone(),
            Some((pds, s.access.clone())),
            &[&self.opts.password, &s.refresh],
            self.bars.requests.clone(),
        )?);
        self.session = Some(s);
        Ok(())
    }

    fn parse_session(&self, f: &Fetched) -> Result<Session> {
        let b: SessionBody = serde_json::from_str(&f.body)?;
        // A token equal to one the client already holds comes back redacted: it is that one.
        let old = self.session.as_ref();
        let keep = |new: String, old: Option<&String>| match (new.as_str(), old) {
            (REDACTED, Some(o)) => o.clone(),
            _ => new,
        };
        Ok(Session {
            access: keep(b.access, old.map(|s| &s.access)),
            refresh: keep(b.refresh, old.map(|s| &s.refresh)),
        })
    }

    async fn login(&mut self) -> Result<()> {
        let url = self.xrpc(&self.opts.pds, "com.atproto.server.createSession");
        let body = serde_json::json!({
            "identifier": self.opts.identifier,
            "password": self.opts.password,
        })
        .to_string();
        // Sent with no token (this client has none yet): the PDS is the only server asked.
        let plain = Http::with_secrets(
            self.opts.net.clone(),
            None,
            &[&self.opts.password],
            self.bars.requests.clone(),
        )?;
        let f = plain
            .post(&url, &body, None, valid_session)
            .await
            .map_err(|e| {
                let hint = match e.status() {
                    Some(401) => "; check BLUESKY_IDENTIFIER and BLUESKY_APP_PASSWORD",
                    _ => "",
                };
                anyhow!("could not log in at {}: {e}{hint}", self.opts.pds)
            })?;
        plain.stats.drain_into(&mut self.summary.counters.http);
        let s = self.parse_session(&f)?;
        self.summary.counters.sessions += 1;
        self.use_session(s)
    }

    /// A fresh access token: `refreshSession`, or a new session if that fails.
    async fn refresh(&mut self) -> Result<()> {
        let url = self.xrpc(&self.opts.pds, "com.atproto.server.refreshSession");
        let refresh = self.session.as_ref().map(|s| s.refresh.clone());
        match self
            .http
            .post(&url, "", refresh.as_deref(), valid_session)
            .await
        {
            Ok(f) => {
                let s = self.parse_session(&f)?;
                self.summary.counters.refreshes += 1;
                self.use_session(s)
            }
            Err(_) => self.login().await,
        }
    }

    /// GET an XRPC query, making the session fresh when the token has expired (once a request).
    async fn get(
        &mut self,
        url: &Url,
        valid: fn(&str) -> Result<(), String>,
    ) -> Result<Result<Fetched, FetchError>> {
        match self.http.get(url, valid).await {
            Err(e) if expired(&e) => {
                self.refresh().await?;
                Ok(self.http.get(url, valid).await)
            }
            other => Ok(other),
        }
    }

    fn search_url(&self, cursor: Option<&str>, until: Option<DateTime<Utc>>, want: u64) -> Url {
        let mut u = self.xrpc(&self.opts.appview, "app.bsky.feed.searchPosts");
        {
            let mut q = u.query_pairs_mut();
            let tag = self
                .opts
                .tag
                .as_deref()
                .map(|t| t.trim().trim_start_matches('#'))
                .filter(|t| !t.is_empty());
            let query = match (self.opts.query.as_deref().map(str::trim), tag) {
                (Some(q), _) if !q.is_empty() => q.to_string(),
                (_, Some(t)) => format!("#{t}"),
                _ => String::new(),
            };
            q.append_pair("q", &query);
            if let Some(t) = tag {
                q.append_pair("tag", t);
            }
            q.append_pair("sort", "latest");
            q.append_pair("limit", &want.clamp(1, PAGE).to_string());
            if let Some(t) = &self.opts.since {
                q.append_pair("since", &format_time(t));
            }
            if let Some(t) = until {
                q.append_pair("until", &format_time(&t));
            }
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
        }
        u
    }

    fn context(&self, f: &Fetched) -> Context {
        Context {
            source: Arc::from(f.url.as_str()),
            line: 0,
            format: Format::Bluesky,
            keep_raw: true,
        }
    }

    /// Page the search to its end (or `--max-posts`), resuming from the stored cursor.
    async fn search(&mut self) -> Result<()> {
        let stream = "search";
        let mut cur = self.corpus.cursor(&self.job, stream)?;
        let mut guard = PageGuard::starting_at(cur.next_url.as_deref().unwrap_or(""));
        let mut continuations = 0;
        while !cur.done {
            let left = self.opts.max_posts.map(|m| m.saturating_sub(cur.matched));
            if left == Some(0) {
                break;
            }
            let want = left.unwrap_or(PAGE);
            let url = match &cur.next_url {
                Some(u) => Url::parse(u).map_err(|e| anyhow!("stored cursor {u:?}: {e}"))?,
                None => self.search_url(None, self.opts.until, want),
            };
            self.summary.counters.search_requests += 1;
            let f = match self.get(&url, valid_search).await? {
                Ok(f) => f,
                Err(e) => {
                    self.summary.errors.push(format!(
                        "search: {e}\n  everything before this page is stored; run the same command again to go on"
                    ));
                    return Ok(());
                }
            };
            let page: SearchPage = serde_json::from_str(&f.body)?;
            let cx = self.context(&f);
            let mut views = Vec::with_capacity(page.posts.len());
            for p in &page.posts {
                views
                    .push(bluesky::read_view(p.get(), &cx).map_err(|e| anyhow!("{}: {e}", f.url))?);
            }
            let fresh = guard.fresh(views.iter().map(|v| v.post.id.as_str()));
            let matched = fresh.iter().filter(|&&f| f).count() as u64;
            let oldest = views.iter().filter_map(|v| v.sort_at).min();
            let full = views.len() as u64 >= want.min(PAGE);
            // The next request: the page's cursor; or, when a full page came without one (the
            // AppView stops paging a query near 10,000 results), the same search before the
            // oldest post seen; or nothing.
            let mut warning = None;
            let current_until = url
                .query_pairs()
                .find(|(k, _)| k == "until")
                .and_then(|(_, v)| crate::model::parse_time(&v))
                .or(self.opts.until);
            let next = match page.cursor.as_deref().filter(|c| !c.is_empty()) {
                Some(c) => match guard.stop_before(c, views.len(), matched as usize) {
                    Some(why) => {
                        warning = Some(format!(
                            "stopped paging {url}: {why} (everything it sent is stored)"
                        ));
                        None
                    }
                    None => Some(self.search_url(Some(c), current_until, want)),
                },
                None if full && matched > 0 && continuations < MAX_CONTINUATIONS => oldest
                    .filter(|o| current_until.is_none_or(|u| *o < u))
                    .map(|o| {
                        continuations += 1;
                        self.summary.counters.continuations += 1;
                        self.search_url(None, Some(o), want)
                    }),
                None => None,
            };
            let total = cur.matched + matched;
            let new_cur = Cursor {
                next_url: next.map(|u| u.to_string()),
                matched: total,
                done: false,
            };
            let new_cur = Cursor {
                done: new_cur.next_url.is_none() || self.opts.max_posts.is_some_and(|m| total >= m),
                ..new_cur
            };
            self.summary.counters.matched += matched;
            let job = self.job.clone();
            let server = self.server.clone();
            let mut w = self.corpus.writer()?;
            for (v, is_new) in views.into_iter().zip(fresh) {
                let root = v
                    .post
                    .conversation_id
                    .clone()
                    .unwrap_or_else(|| v.post.id.clone());
                if is_new && !self.opts.no_context && AtUri::parse(&root).is_some() {
                    w.frontier_seed(&job, &server, &root, false, false)?;
                }
                store(
                    self.opts,
                    &mut self.summary.counters,
                    &server,
                    &mut w,
                    v,
                    "search",
                    &f,
                )?;
            }
            w.set_cursor(&job, stream, &new_cur)?;
            if let Some(warning) = warning {
                self.summary.counters.warnings.add(warning);
            }
            self.http.stats.drain_into(&mut self.summary.counters.http);
            w.save_counters(&job, &serde_json::to_string(&self.summary.counters)?)?;
            w.commit()?;
            self.bars.posts.set_position(self.summary.counters.stored);
            cur = new_cur;
        }
        Ok(())
    }

    fn thread_url(&self, uri: &str, parents: bool) -> Url {
        let mut u = self.xrpc(&self.opts.appview, "app.bsky.feed.getPostThread");
        u.query_pairs_mut()
            .append_pair("uri", uri)
            .append_pair("depth", &DEPTH.to_string())
            .append_pair("parentHeight", if parents { "1000" } else { "0" });
        u
    }

    /// Ask every pending thread (and every branch an answer cut) until none is left.
    async fn threads(&mut self) -> Result<()> {
        loop {
            let pending = self.corpus.pending_frontier(&self.job, 1, |_, _| false)?;
            let Some((server, uri)) = pending.into_iter().next() else {
                break;
            };
            let (p, placed, asked, failed) = self.corpus.frontier_counts(&self.job)?;
            self.bars.threads.set_length(p + placed + asked + failed);
            self.bars.threads.set_position(placed + asked + failed);
            // Ids come from servers: only a well-formed at:// URI is put into a request.
            if AtUri::parse(&uri).is_none() {
                let mut w = self.corpus.writer()?;
                w.frontier(
                    &self.job,
                    &server,
                    &uri,
                    FrontierState::Failed,
                    false,
                    Some("not an at:// URI"),
                )?;
                w.commit()?;
                continue;
            }
            // A branch asked again starts at its post; a thread, from its root, with parents
            // (a root is its own top; a post of a thread whose root is gone needs its parents).
            let branch = self.corpus.frontier_is_recheck(&self.job, &server, &uri)?;
            if branch {
                self.summary.counters.branch_requests += 1;
            } else {
                self.summary.counters.thread_requests += 1;
            }
            let url = self.thread_url(&uri, !branch);
            let outcome = self.get(&url, valid_thread).await?;
            let job = self.job.clone();
            match outcome {
                Ok(f) => {
                    let cx = self.context(&f);
                    let tree =
                        bluesky::thread_of(&f.body).map_err(|e| anyhow!("{}: {e}", f.url))?;
                    let items =
                        bluesky::thread_items(tree, &cx).map_err(|e| anyhow!("{}: {e}", f.url))?;
                    let mut w = self.corpus.writer()?;
                    for (shown, replies_shown) in items {
                        match shown {
                            Shown::Post(v) => {
                                // Cut off below: ask its subtree (once: `recheck` is asked, and
                                // asked entries are never asked again).
                                if v.reply_count.is_some_and(|n| n > replies_shown)
                                    && v.post.id != uri
                                {
                                    w.frontier(
                                        &job,
                                        &server,
                                        &v.post.id,
                                        FrontierState::Pending,
                                        true,
                                        None,
                                    )?;
                                }
                                store(
                                    self.opts,
                                    &mut self.summary.counters,
                                    &server,
                                    &mut w,
                                    *v,
                                    "thread",
                                    &f,
                                )?;
                            }
                            Shown::Gap(m) => {
                                *self
                                    .summary
                                    .counters
                                    .gaps
                                    .entry(m.reason.clone())
                                    .or_default() += 1;
                                w.add(&Record::Missing(m))?;
                            }
                        }
                    }
                    w.frontier(&job, &server, &uri, FrontierState::Asked, false, None)?;
                    w.commit()?;
                }
                Err(e) if not_found(&e) => {
                    // The root is gone: a gap, and the search's posts under it are asked from
                    // themselves (their answers show the gap as their top).
                    let reason = bluesky::NOT_FOUND.to_string();
                    *self
                        .summary
                        .counters
                        .gaps
                        .entry(reason.clone())
                        .or_default() += 1;
                    let members = self.corpus.conversation_members("bluesky", &uri)?;
                    let mut w = self.corpus.writer()?;
                    w.add(&Record::Missing(Missing {
                        platform: Platform::Bluesky,
                        id: uri.clone(),
                        reason,
                        reply_to: None,
                    }))?;
                    for m in members.iter().filter(|m| **m != uri) {
                        w.frontier_seed(&job, &server, m, false, true)?;
                    }
                    w.frontier(
                        &job,
                        &server,
                        &uri,
                        FrontierState::Asked,
                        false,
                        Some("not found"),
                    )?;
                    w.commit()?;
                }
                Err(e) => {
                    self.summary.counters.threads_failed += 1;
                    let reason = format!("thread not fetched: {}", e.gap_reason(&server));
                    let mut w = self.corpus.writer()?;
                    w.frontier(
                        &job,
                        &server,
                        &uri,
                        FrontierState::Failed,
                        false,
                        Some(&reason),
                    )?;
                    w.commit()?;
                    self.summary.errors.push(format!("{e}"));
                }
            }
            self.bars.posts.set_position(self.summary.counters.stored);
        }
        Ok(())
    }
}

/// Store one post read from an answer (and the post it quotes), or the gap for it when its
/// author opted out.
fn store(
    opts: &Options,
    counters: &mut Counters,
    server: &str,
    w: &mut ImportWriter,
    v: Viewed,
    endpoint: &str,
    f: &Fetched,
) -> Result<()> {
    let fetched_at = format_time(&f.fetched_at);
    let mut next = Some(Box::new(v));
    while let Some(v) = next {
        let v = *v;
        next = v.quoted;
        if v.opted_out && !opts.include_opted_out {
            let reason = "author opted out (!no-unauthenticated)";
            *counters.left_out.entry(reason.into()).or_default() += 1;
            w.set_missing_on(
                "bluesky",
                &v.post.id,
                &format!("{}{reason}", crate::model::Missing::LEFT_OUT),
                v.post.reply_to.as_deref(),
                false,
            )?;
            continue;
        }
        let id = v.post.id.clone();
        w.add(&Record::Post(Box::new(v.post)))?;
        w.add_fetch(
            "bluesky",
            &id,
            server,
            endpoint,
            f.authenticated,
            &fetched_at,
        )?;
        counters.stored += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            pds: Url::parse("https://bsky.social").unwrap(),
            appview: Url::parse("https://bsky.social").unwrap(),
            query: Some("customer service".into()),
            tag: None,
            since: None,
            until: None,
            max_posts: None,
            no_context: false,
            include_opted_out: false,
            identifier: "ana.bsky.social".into(),
            password: "app-password".into(),
            net: NetConfig::default(),
        }
    }

    #[test]
    fn the_account_is_not_part_of_the_job() {
        let (key, args) = job_key(&opts());
        assert!(!args.contains("app-password") && !args.contains("ana.bsky.social"));
        let mut o = opts();
        o.password = "other".into();
        o.identifier = "bob.bsky.social".into();
        assert_eq!(job_key(&o).0, key);
        o.include_opted_out = true;
        assert_ne!(job_key(&o).0, key);
    }

    #[test]
    fn expired_tokens_and_missing_anchors_are_told_apart() {
        let status = |status, body: &str| FetchError::Status {
            url: "u".into(),
            status,
            body: body.into(),
        };
        assert!(expired(&status(
            400,
            r#"{"error":"ExpiredToken","message":"Token has expired"}"#
        )));
        assert!(!expired(&status(400, r#"{"error":"InvalidRequest"}"#)));
        assert!(not_found(&status(
            400,
            r#"{"error":"NotFound","message":"Post not found"}"#
        )));
        assert!(!not_found(&status(502, r#"{"error":"UpstreamFailure"}"#)));
    }
}
