//! Collect from the Twitter/X API v2: a search, then the whole conversation of every tweet it
//! found, with the roots, into the corpus.
//!
//! One entry point, [`collect`], in three resumable phases (state in `corpus::collect`):
//!
//! 1. **Search**: `/2/tweets/search/recent`, or `/2/tweets/search/all` with `archive`, paged by
//!    `meta.next_token`. Full-archive search is asked no faster than one page a second. A token
//!    seen before in this search, a page of tweets all seen before, or only empty pages end
//!    the paging with a warning (see `Run::page`), here and in phase 2.
//! 2. **Conversations**: for each `conversation_id` seen, the search `conversation_id:ID` (same
//!    endpoint), paged the same way.
//! 3. **Roots and parents**: search may leave a conversation's root out, and a reply's parent may
//!    never come back; both are looked up by id (`/2/tweets?ids=`, 100 at a time). What the API
//!    cannot give is recorded with the reason from its `errors` (deleted, protected, suspended),
//!    or "not returned": the gap nodes of the threads.
//!
//! Every page is kept verbatim in `api_pages` (for `export twarc2`) and read by the twarc2
//! importer, so a collected corpus is exactly what importing the same pages gives.

use super::net::{authority, FetchError, Fetched, Http, NetConfig};
use super::{twarc2, Bars, Context, Format};
use crate::corpus::{Corpus, Cursor, FrontierState, ImportWriter, PageGuard, Warnings};
use crate::model::Record;
use anyhow::{anyhow, Context as _, Result};
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// The fields asked with every search and lookup: what the post model and the threads need,
/// and the media alt texts.
const TWEET_FIELDS: &str = "author_id,created_at,conversation_id,in_reply_to_user_id,referenced_tweets,lang,entities,public_metrics,attachments,possibly_sensitive";
const EXPANSIONS: &str = "author_id,referenced_tweets.id,referenced_tweets.id.author_id,in_reply_to_user_id,attachments.media_keys";
const USER_FIELDS: &str = "username,name,created_at,description,public_metrics,verified,protected";
const MEDIA_FIELDS: &str = "alt_text,type";

/// What to collect, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The API root, `https://api.twitter.com` unless a test points elsewhere.
    pub api_base: Url,
    pub query: String,
    /// Full-archive search (`/2/tweets/search/all`, academic or pro access) instead of the
    /// last seven days.
    pub archive: bool,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub max_posts: Option<u64>,
    pub no_conversations: bool,
    /// The bearer token: sent to `api_base` only, never stored.
    pub token: String,
    pub net: NetConfig,
}

/// Running totals of a job, kept in the corpus so that a resumed run reports the whole job.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Counters {
    /// Tweets the search returned, each counted once.
    pub matched: u64,
    /// Tweets stored (every page's `data` and `includes.tweets`, repeats counted once each time).
    pub stored: u64,
    pub search_requests: u64,
    pub conversation_requests: u64,
    pub lookup_requests: u64,
    pub conversations_failed: u64,
    /// Tweets that could not be had, by reason.
    pub gaps: BTreeMap<String, u64>,
    #[serde(flatten)]
    pub http: crate::source::net::HttpCounters,
    /// Searches and conversations stopped because the API paged in circles.
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

/// The digest naming a job: what is collected, not how fast nor with which token.
pub fn job_key(opts: &Options) -> (String, String) {
    let args = serde_json::json!({
        "platform": "twitter",
        "api_base": opts.api_base.as_str(),
        "query": opts.query,
        "archive": opts.archive,
        "since": opts.since.map(|t| crate::model::format_time(&t)),
        "until": opts.until.map(|t| crate::model::format_time(&t)),
        "max_posts": opts.max_posts,
        "no_conversations": opts.no_conversations,
    });
    crate::corpus::job_key(args)
}

/// Collect into `corpus`. Blocks; runs its own small async runtime.
pub fn collect(opts: &Options, corpus: &mut Corpus, bars: &Bars) -> Result<Summary> {
    if opts.query.trim().is_empty() {
        return Err(super::OptionError::Nothing(&["query"]).into());
    }
    Ok(super::collect::run(|| Run::new(opts, corpus, bars))?.summary)
}

struct Run<'a> {
    opts: &'a Options,
    corpus: &'a mut Corpus,
    bars: Bars,
    http: Arc<Http>,
    job: String,
    summary: Summary,
}

/// The parts of a page the collector decides on (the importer reads the rest).
#[derive(Deserialize, Default)]
struct PageMeta {
    #[serde(default)]
    data: Option<Vec<TweetMeta>>,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Deserialize)]
struct TweetMeta {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    conversation_id: Option<String>,
}

impl PageMeta {
    fn next_token(&self) -> Option<String> {
        self.meta
            .as_ref()
            .and_then(|m| m.next_token.clone())
            .filter(|t| !t.is_empty())
    }
}

#[derive(Deserialize, Default)]
struct Meta {
    #[serde(default)]
    next_token: Option<String>,
}

/// A page must be a JSON object with the shape of an API v2 response.
fn valid_page(body: &str) -> Result<(), String> {
    if !body.trim_start().starts_with('{') {
        return Err("expected a JSON object".into());
    }
    serde_json::from_str::<PageMeta>(body)
        .map(|_| ())
        .map_err(|e| format!("not an API v2 response: {e}"))
}

/// Ids are digits; anything else from a response is never put into a query.
fn safe_id(id: &str) -> bool {
    crate::model::Platform::Twitter.is_valid_id(id)
}

/// What every page's transaction ends with, whether the page brought posts or only a cursor:
/// the stream's new cursor, and the warning of a stop (added to the counters and saved in the
/// same transaction, the one that ends the paging it is about, so a run stopped right after
/// still reports it when resumed; the HTTP totals are moved into the counters first, so that
/// they are saved as well).
fn end_page(
    c: &mut Counters,
    http: &Http,
    w: &mut ImportWriter,
    job: &str,
    cursor: Option<(&str, &Cursor)>,
    warning: Option<String>,
) -> Result<()> {
    if let Some((stream, cur)) = cursor {
        w.set_cursor(job, stream, cur)?;
    }
    if let Some(warning) = warning {
        c.warnings.add(warning);
        http.stats.drain_into(&mut c.http);
        w.save_counters(job, &serde_json::to_string(c)?)?;
    }
    Ok(())
}

fn rfc3339(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl super::collect::Collector for Run<'_> {
    fn job(&self) -> &str {
        &self.job
    }

    async fn phases(&mut self) -> Result<()> {
        self.search().await?;
        if !self.opts.no_conversations {
            self.conversations().await?;
            self.lookups().await?;
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
        let host = authority(&opts.api_base);
        if host.is_empty() {
            return Err(super::OptionError::Bad {
                option: "api_base",
                value: opts.api_base.to_string(),
                problem: "not a server URL",
            }
            .into());
        }
        let mut net = opts.net.clone();
        if opts.archive {
            // Full-archive search allows one request a second.
            net.pace = net.pace.max(Duration::from_secs(1));
        }
        // One request at a time: the API's limits are per app and per endpoint window.
        net.per_host = 1;
        let http = Arc::new(Http::new(
            net,
            Some((host, opts.token.clone())),
            bars.requests.clone(),
        )?);
        let (key, args) = job_key(opts);
        let job = corpus.collect_job(&key, &args)?;
        let counters: Counters = serde_json::from_str(&job.counters).unwrap_or_default();
        Ok(Run {
            opts,
            corpus,
            bars: bars.clone(),
            http,
            job: key.clone(),
            summary: Summary {
                job: key,
                resumed: job.resumed,
                counters,
                ..Default::default()
            },
        })
    }

    /// The search URL. `want` bounds the page size when fewer tweets are wanted (the API takes
    /// 10 to 100 per page, 500 for full-archive search).
    fn search_url(&self, query: &str, next_token: Option<&str>, want: Option<u64>) -> Url {
        let cap: u64 = if self.opts.archive { 500 } else { 100 };
        let size = want.map_or(cap, |w| w.clamp(10, cap));
        let kind = if self.opts.archive { "all" } else { "recent" };
        let mut u = self.opts.api_base.clone();
        u.set_path(&format!("/2/tweets/search/{kind}"));
        u.set_query(None);
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("query", query);
            q.append_pair("max_results", &size.to_string());
            q.append_pair("tweet.fields", TWEET_FIELDS);
            q.append_pair("expansions", EXPANSIONS);
            q.append_pair("user.fields", USER_FIELDS);
            q.append_pair("media.fields", MEDIA_FIELDS);
            if let Some(t) = &self.opts.since {
                q.append_pair("start_time", &rfc3339(t));
            }
            if let Some(t) = &self.opts.until {
                q.append_pair("end_time", &rfc3339(t));
            }
            if let Some(n) = next_token {
                q.append_pair("next_token", n);
            }
        }
        u
    }

    fn lookup_url(&self, ids: &[String]) -> Url {
        let mut u = self.opts.api_base.clone();
        u.set_path("/2/tweets");
        u.set_query(None);
        u.query_pairs_mut()
            .append_pair("ids", &ids.join(","))
            .append_pair("tweet.fields", TWEET_FIELDS)
            .append_pair("expansions", EXPANSIONS)
            .append_pair("user.fields", USER_FIELDS)
            .append_pair("media.fields", MEDIA_FIELDS);
        u
    }

    /// Store one page (`meta` is its already-parsed summary): its tweets and error notes through
    /// the twarc2 importer, the page itself, and the conversations its `data` belongs to. The
    /// caller's cursor goes into the same transaction, and with a `warning` (the paging was
    /// stopped) the counters with it.
    fn store_page(
        &mut self,
        f: &Fetched,
        meta: &PageMeta,
        endpoint: &str,
        seeds: bool,
        cursor: Option<(&str, &Cursor)>,
        warning: Option<String>,
    ) -> Result<()> {
        let cx = Context {
            source: Arc::from(f.url.as_str()),
            line: 0,
            format: Format::Twarc2,
            keep_raw: true,
        };
        let records = twarc2::parse_record(&f.body, &cx).map_err(|e| anyhow!("{}: {e}", f.url))?;
        let fetched_at = crate::model::format_time(&f.fetched_at);
        let host = authority(&f.url);
        let job = self.job.clone();
        let no_conversations = self.opts.no_conversations;
        let mut stored = 0;
        let mut w = self.corpus.writer()?;
        for r in &records {
            w.add(r)?;
            match r {
                Record::Post(p) => {
                    stored += 1;
                    w.add_fetch("twitter", &p.id, &host, endpoint, true, &fetched_at)?;
                }
                Record::Missing(m) => {
                    *self
                        .summary
                        .counters
                        .gaps
                        .entry(m.reason.clone())
                        .or_default() += 1;
                }
            }
        }
        w.add_page("twitter", f.url.as_str(), &fetched_at, &f.body)?;
        if seeds && !no_conversations {
            for t in meta.data.iter().flatten() {
                if let Some(c) = t.conversation_id.as_deref().filter(|c| safe_id(c)) {
                    w.frontier_seed(&job, "twitter", c, false, false)?;
                }
            }
        }
        self.summary.counters.stored += stored;
        end_page(
            &mut self.summary.counters,
            &self.http,
            &mut w,
            &job,
            cursor,
            warning,
        )?;
        w.commit()?;
        self.bars.posts.set_position(self.summary.counters.stored);
        Ok(())
    }

    /// Page a search to its end (or `--max-posts`), resuming from its stored cursor. The outer
    /// error is the corpus failing; the inner one, the API not answering.
    ///
    /// A `next_token` this search has asked before (the last one or any earlier one), a page
    /// of tweets all seen on earlier pages, or only empty pages are not followed: the search is
    /// marked done with a warning in the transaction of its last page, so that neither this run
    /// nor a resumed one asks again. A page with nothing new is not stored (it would only repeat
    /// pages stored already); every tweet is matched once.
    async fn page(
        &mut self,
        stream: &str,
        query: &str,
        seeds: bool,
    ) -> Result<Result<(), FetchError>> {
        let mut cur = self.corpus.cursor(&self.job, stream)?;
        // The cursors are the tokens (the page size in the URL may change from page to page).
        let mut guard = PageGuard::starting_at(
            &cur.next_url
                .as_deref()
                .and_then(|u| Url::parse(u).ok())
                .and_then(|u| {
                    u.query_pairs()
                        .find(|(k, _)| k == "next_token")
                        .map(|(_, v)| v.into_owned())
                })
                .unwrap_or_default(),
        );
        while !cur.done {
            if seeds {
                if let Some(max) = self.opts.max_posts {
                    if cur.matched >= max {
                        break;
                    }
                }
            }
            let want = if seeds {
                self.opts.max_posts.map(|m| m.saturating_sub(cur.matched))
            } else {
                None
            };
            let url = match &cur.next_url {
                Some(u) => Url::parse(u).with_context(|| format!("stored cursor {u:?}"))?,
                None => self.search_url(query, None, want),
            };
            if seeds {
                self.summary.counters.search_requests += 1;
            } else {
                self.summary.counters.conversation_requests += 1;
            }
            let f = match self.http.get(&url, valid_page).await {
                Ok(f) => f,
                Err(e) => return Ok(Err(e)),
            };
            // The next page's URL is known before storing, so that page and cursor commit together.
            let meta: PageMeta = serde_json::from_str(&f.body)?;
            let mut next = meta.next_token();
            let ids: Vec<&str> = meta
                .data
                .iter()
                .flatten()
                .filter_map(|t| t.id.as_deref())
                .collect();
            let matched = guard
                .fresh(ids.iter().copied())
                .iter()
                .filter(|&&f| f)
                .count() as u64;
            let stop = next
                .as_deref()
                .and_then(|t| guard.stop_before(t, ids.len(), matched as usize));
            let warning = stop.map(|why| {
                next = None;
                format!("stopped paging {url}: {why} (everything it sent is stored)")
            });
            let total = cur.matched + matched;
            let stop_max = seeds && self.opts.max_posts.is_some_and(|m| total >= m);
            let new_cur = Cursor {
                next_url: next.as_deref().map(|t| {
                    let left = want.map(|w| w.saturating_sub(matched));
                    self.search_url(query, Some(t), left).to_string()
                }),
                matched: total,
                done: next.is_none() || stop_max,
            };
            if seeds {
                self.summary.counters.matched += matched;
            }
            if !ids.is_empty() && matched == 0 {
                // Only the cursor (and why the paging stopped) is new.
                let job = self.job.clone();
                let mut w = self.corpus.writer()?;
                end_page(
                    &mut self.summary.counters,
                    &self.http,
                    &mut w,
                    &job,
                    Some((stream, &new_cur)),
                    warning,
                )?;
                w.commit()?;
            } else {
                let endpoint = if seeds { "search" } else { "conversation" };
                self.store_page(
                    &f,
                    &meta,
                    endpoint,
                    seeds,
                    Some((stream, &new_cur)),
                    warning,
                )?;
            }
            cur = new_cur;
        }
        Ok(Ok(()))
    }

    async fn search(&mut self) -> Result<()> {
        let query = self.opts.query.clone();
        if let Err(e) = self.page("search", &query, true).await? {
            let hint = match e.status() {
                Some(401) => "; check TWITTER_BEARER_TOKEN",
                Some(403) => "; the token's access level may not include this endpoint (full-archive search needs academic or pro access)",
                _ => "",
            };
            self.summary.errors.push(format!(
                "search {query:?}: {e}{hint}\n  everything before this page is stored; run the same command again to go on"
            ));
        }
        Ok(())
    }

    async fn conversations(&mut self) -> Result<()> {
        loop {
            let pending = self.corpus.pending_frontier(&self.job, 1, |_, _| false)?;
            let Some((server, conv)) = pending.into_iter().next() else {
                break;
            };
            let (p, _, asked, failed) = self.corpus.frontier_counts(&self.job)?;
            self.bars.threads.set_length(p + asked + failed);
            self.bars.threads.set_position(asked + failed);
            let stream = format!("conversation:{conv}");
            let outcome = self
                .page(&stream, &format!("conversation_id:{conv}"), false)
                .await?;
            let job = self.job.clone();
            let mut w = self.corpus.writer()?;
            match outcome {
                Ok(()) => {
                    w.frontier(&job, &server, &conv, FrontierState::Asked, false, None)?;
                }
                Err(e) => {
                    self.summary.counters.conversations_failed += 1;
                    let reason = format!("conversation not fetched: {}", e.gap_reason(&server));
                    w.frontier(
                        &job,
                        &server,
                        &conv,
                        FrontierState::Failed,
                        false,
                        Some(&reason),
                    )?;
                }
            }
            w.commit()?;
        }
        Ok(())
    }

    /// Look up roots and parents by id until none is left unexplained.
    async fn lookups(&mut self) -> Result<()> {
        let mut asked: HashSet<String> = HashSet::new();
        loop {
            let wanted: Vec<String> = self
                .corpus
                .twitter_wanted(&self.job)?
                .into_iter()
                .filter(|id| safe_id(id) && !asked.contains(id))
                .collect();
            if wanted.is_empty() {
                break;
            }
            for batch in wanted.chunks(100) {
                asked.extend(batch.iter().cloned());
                self.summary.counters.lookup_requests += 1;
                let url = self.lookup_url(batch);
                let job_host = authority(&url);
                match self.http.get(&url, valid_page).await {
                    Ok(f) => {
                        let meta: PageMeta = serde_json::from_str(&f.body)?;
                        self.store_page(&f, &meta, "lookup", false, None, None)?;
                        // An id the API neither returned nor explained.
                        let mut unexplained = Vec::new();
                        for id in batch {
                            if !self.corpus.known("twitter", id)? {
                                unexplained.push(id);
                            }
                        }
                        let silent = unexplained.len() as u64;
                        let mut w = self.corpus.writer()?;
                        for id in unexplained {
                            w.set_missing_on(
                                "twitter",
                                id,
                                "not returned by the API",
                                None,
                                false,
                            )?;
                        }
                        w.commit()?;
                        if silent > 0 {
                            *self
                                .summary
                                .counters
                                .gaps
                                .entry("not returned by the API".into())
                                .or_default() += silent;
                        }
                    }
                    Err(e) => {
                        let reason = e.gap_reason(&job_host);
                        let mut w = self.corpus.writer()?;
                        for id in batch {
                            w.set_missing_on("twitter", id, &reason, None, e.transient())?;
                        }
                        w.commit()?;
                        *self.summary.counters.gaps.entry(reason).or_default() +=
                            batch.len() as u64;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> Options {
        Options {
            api_base: Url::parse("https://api.twitter.com").unwrap(),
            query: "#customerservice".into(),
            archive: false,
            since: None,
            until: None,
            max_posts: None,
            no_conversations: false,
            token: "secret".into(),
            net: NetConfig::default(),
        }
    }

    #[test]
    fn the_token_is_not_part_of_the_job() {
        let (key, args) = job_key(&opts());
        assert!(!args.contains("secret"));
        let mut o = opts();
        o.token = "other".into();
        assert_eq!(job_key(&o).0, key);
        o.archive = true;
        assert_ne!(job_key(&o).0, key);
    }

    #[test]
    fn only_digit_ids_go_into_queries() {
        assert!(safe_id("1405589018948026377"));
        for bad in ["", "12a", "1 OR 2", "1,2", "-1"] {
            assert!(!safe_id(bad), "{bad}");
        }
    }

    #[test]
    fn pages_must_look_like_api_responses() {
        assert!(
            valid_page(r#"{"data":[{"id":"1","text":"x"}],"meta":{"result_count":1}}"#).is_ok()
        );
        assert!(valid_page(r#"{"meta":{"result_count":0}}"#).is_ok());
        assert!(valid_page("[1,2]").is_err());
        assert!(valid_page(r#"{"data": "#).is_err());
    }
}
