//! HTTP for the collectors: one client, and per server (host) a pace, a rate-limit budget, a
//! bound on requests in flight, retries with backoff, and a breaker that gives up on a server
//! that keeps failing, so that one bad server cannot stall the others.
//!
//! Why not megalodon's calls for Mastodon: megalodon (used for detecting the server, see
//! `mastodon_api`) sends requests without a timeout, does not parse the `Link` header, returns
//! 429 as an error without waiting, and hands back typed statuses that drop fields
//! (`indexable`, unknown extensions) the corpus keeps verbatim. Both go through reqwest 0.12,
//! one client stack.
//!
//! Servers announce their limits on every response: Mastodon as `X-RateLimit-Limit/Remaining/
//! Reset` (default 300 requests per 5 minutes), the Twitter/X API as `x-rate-limit-limit/
//! remaining/reset` (epoch seconds, per endpoint window). While most of the budget is
//! left, requests go at the configured pace; once less than a quarter is left, the rest is
//! spread over the time to the reset, and with one request left we wait for the reset. A short
//! job runs at full speed, a long one trickles instead of stalling, and neither meets a 429.
//!
//! Every body and header a server sends back passes through the client's [`Redactor`] before
//! anything reads it, and every message made from an answer (the quote of an error body, a
//! network error) through its stricter form: the researcher's token never reaches a message,
//! a progress line or the corpus, whatever a server echoes (see `redact`).

mod redact;
pub use redact::{Redactor, REDACTED};

use chrono::{DateTime, Utc};
use indicatif::ProgressBar;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use url::Url;

/// How the collector treats the network.
#[derive(Debug, Clone)]
pub struct NetConfig {
    /// Bound on one request, body included (a hung server must not hang the run).
    pub timeout: Duration,
    /// Further attempts after a timeout, a network error, a 5xx or a malformed body.
    pub retries: u32,
    /// First backoff; doubled per attempt, with jitter, up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// Least time between two requests to one server.
    pub pace: Duration,
    /// Requests in flight to one server at a time.
    pub per_host: usize,
    /// Requests that exhaust their retries, in a row, before a server is given up for this run.
    pub host_failures: u32,
    pub user_agent: String,
}

impl Default for NetConfig {
    fn default() -> Self {
        NetConfig {
            timeout: Duration::from_secs(30),
            retries: 5,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            pace: Duration::from_millis(200),
            per_host: 2,
            host_failures: 3,
            user_agent: format!("rethread/{} (research tool)", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// A successful response.
#[derive(Debug)]
pub struct Fetched {
    pub url: Url,
    pub body: String,
    pub headers: HeaderMap,
    /// The request carried the researcher's token.
    pub authenticated: bool,
    pub fetched_at: DateTime<Utc>,
}

/// Why a request gave no usable answer. Every variant names the URL. Bodies and messages in it
/// have been through the client's [`Redactor`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    #[error("{url}: HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("{url}: no answer within {secs} s, {attempts} attempts")]
    Timeout {
        url: String,
        secs: u64,
        attempts: u32,
    },
    #[error("{url}: {message} ({attempts} attempts)")]
    Network {
        url: String,
        message: String,
        attempts: u32,
    },
    #[error("{url}: malformed response body ({message}), {attempts} attempts")]
    Malformed {
        url: String,
        message: String,
        attempts: u32,
    },
    #[error("{url}: not asked: {host} failed repeatedly and was given up for this run")]
    HostDown { url: String, host: String },
}

impl FetchError {
    /// The reason to show on a gap in a transcript.
    pub fn gap_reason(&self, host: &str) -> String {
        match self {
            FetchError::Status { status: 404, .. } | FetchError::Status { status: 410, .. } => {
                format!("deleted or not visible to us (HTTP 404 from {host})")
            }
            FetchError::Status {
                status: s @ (401 | 403),
                ..
            } => format!("server refused (HTTP {s} from {host})"),
            FetchError::Status { status, .. } => {
                format!("server error (HTTP {status} from {host})")
            }
            FetchError::Timeout { .. } => format!("timed out ({host})"),
            FetchError::Network { message, .. } => format!("network error ({host}: {message})"),
            FetchError::Malformed { .. } => format!("malformed response from {host}"),
            FetchError::HostDown { .. } => format!("server unreachable ({host} gave up)"),
        }
    }

    /// Might asking again later give a different answer? (Timeouts, network trouble, a server
    /// down or overloaded: yes. A 404 or 403: no.)
    pub fn transient(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => true,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Running totals, shared by every request.
#[derive(Debug, Default)]
pub struct Stats {
    /// HTTP requests sent (each retry counts).
    pub requests: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    /// Milliseconds spent waiting for rate limits and backoff.
    pub waited_ms: AtomicU64,
}

impl Stats {
    /// Add the requests, retries and 429s counted since the last call to `totals`, and reset
    /// them here.
    pub fn drain_into(&self, totals: &mut HttpCounters) {
        totals.http_requests += self.requests.swap(0, Ordering::Relaxed);
        totals.retries += self.retries.swap(0, Ordering::Relaxed);
        totals.rate_limited += self.rate_limited.swap(0, Ordering::Relaxed);
    }
}

/// A collection job's HTTP totals, part of the counters each collector keeps in the corpus
/// (flattened there, so the saved keys are these names).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq)]
#[serde(default)]
pub struct HttpCounters {
    /// HTTP requests sent, retries included.
    pub http_requests: u64,
    pub retries: u64,
    pub rate_limited: u64,
}

struct Gate {
    /// Earliest start of the next request.
    next: Instant,
    /// Known budget: requests left and when it refills.
    remaining: Option<u64>,
    limit: Option<u64>,
    reset: Option<Instant>,
}

struct Host {
    permits: Semaphore,
    gate: tokio::sync::Mutex<Gate>,
    failures: AtomicU32,
    down: AtomicBool,
}

/// The collector's HTTP client.
pub struct Http {
    client: reqwest::Client,
    cfg: NetConfig,
    /// Each token and the one server it belongs to (by authority): a token is never sent
    /// anywhere else.
    tokens: HashMap<String, String>,
    /// The secrets never to let through from an answer: every token, from every server.
    redactor: Redactor,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
    pub stats: Stats,
    bar: ProgressBar,
    seed: AtomicU64,
}

/// `host[:port]` of a URL: the unit of rate limits, and the server part of stored ids.
pub fn authority(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        _ => String::new(),
    }
}

impl Http {
    /// `token` is `(server authority, token)`. `bar` counts requests and shows waits.
    pub fn new(
        cfg: NetConfig,
        token: Option<(String, String)>,
        bar: ProgressBar,
    ) -> anyhow::Result<Http> {
        Http::with_secrets(cfg, token, &[], bar)
    }

    /// A client that holds more secrets than its token (a password, a refresh token): each is
    /// redacted from every answer, as the token is.
    pub fn with_secrets(
        cfg: NetConfig,
        token: Option<(String, String)>,
        secrets: &[&str],
        bar: ProgressBar,
    ) -> anyhow::Result<Http> {
        Http::with_tokens(cfg, token.into_iter().collect(), secrets, bar)
    }

    /// A client with a token for each of several servers (`(authority, token)`): each goes to
    /// its own server only, and all are redacted from every server's answers.
    pub fn with_tokens(
        cfg: NetConfig,
        tokens: Vec<(String, String)>,
        secrets: &[&str],
        bar: ProgressBar,
    ) -> anyhow::Result<Http> {
        let client = reqwest::Client::builder()
            .user_agent(cfg.user_agent.clone())
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            // A server's redirect could lead the token elsewhere: we follow none (the API does
            // not redirect) and report a 3xx as what it is.
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let seed = Utc::now().timestamp_nanos_opt().unwrap_or(1) as u64 | 1;
        // Every secret the client is given goes in here; a token is redacted from every
        // server's answers, not only from those of the server it is sent to.
        let redactor = Redactor::new(
            tokens
                .iter()
                .map(|(_, t)| t.as_str())
                .chain(secrets.iter().copied()),
        );
        let tokens: HashMap<String, String> = tokens.into_iter().collect();
        Ok(Http {
            client,
            cfg,
            tokens,
            redactor,
            hosts: Mutex::new(HashMap::new()),
            stats: Stats::default(),
            bar,
            seed: AtomicU64::new(seed),
        })
    }

    /// The secrets this client holds, for anything else a collector prints or stores.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// A body with the secrets taken out (moved through when there are none).
    fn clean(&self, body: String) -> String {
        let cleaned = match self.redactor.secrets(&body) {
            Cow::Owned(c) => Some(c),
            Cow::Borrowed(_) => None,
        };
        cleaned.unwrap_or(body)
    }

    /// The start of an error body, on one line, for messages. Redacted before it is cut, so
    /// that a secret across the cut is found whole.
    fn snippet(&self, body: &str) -> String {
        crate::model::one_line(&self.redactor.message(body), 200)
    }

    pub fn authenticated_for(&self, host: &str) -> bool {
        self.tokens.contains_key(host)
    }

    fn host(&self, name: &str) -> Arc<Host> {
        let mut hosts = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        hosts
            .entry(name.to_string())
            .or_insert_with(|| {
                Arc::new(Host {
                    permits: Semaphore::new(self.cfg.per_host.max(1)),
                    gate: tokio::sync::Mutex::new(Gate {
                        next: Instant::now(),
                        remaining: None,
                        limit: None,
                        reset: None,
                    }),
                    failures: AtomicU32::new(0),
                    down: AtomicBool::new(false),
                })
            })
            .clone()
    }

    /// GET `url` and return its body once `valid` accepts it (a body that fails `valid` is
    /// treated like a transient fault and asked again).
    pub async fn get(
        &self,
        url: &Url,
        valid: impl Fn(&str) -> Result<(), String>,
    ) -> Result<Fetched, FetchError> {
        self.send(url, None, valid).await
    }

    /// POST a JSON `body` to `url` (an XRPC procedure: making or refreshing a session), with
    /// `bearer` as its authorization instead of the client's token. Either is sent only to the
    /// token's own server.
    pub async fn post(
        &self,
        url: &Url,
        body: &str,
        bearer: Option<&str>,
        valid: impl Fn(&str) -> Result<(), String>,
    ) -> Result<Fetched, FetchError> {
        self.send(url, Some((body, bearer)), valid).await
    }

    async fn send(
        &self,
        url: &Url,
        post: Option<(&str, Option<&str>)>,
        valid: impl Fn(&str) -> Result<(), String>,
    ) -> Result<Fetched, FetchError> {
        let host_name = authority(url);
        let host = self.host(&host_name);
        let url_s = url.to_string();
        if host.down.load(Ordering::Relaxed) {
            return Err(FetchError::HostDown {
                url: url_s,
                host: host_name,
            });
        }
        let _permit = host
            .permits
            .acquire()
            .await
            .expect("semaphore never closed");
        let authenticated = self.authenticated_for(&host_name);
        let mut attempt: u32 = 0;
        let mut limited: u32 = 0;
        let mut last: FetchError;
        loop {
            self.wait_turn(&host, &host_name).await;
            self.stats.requests.fetch_add(1, Ordering::Relaxed);
            self.bar.inc(1);
            let mut req = match post {
                None => self.client.get(url.clone()),
                Some((body, _)) => self
                    .client
                    .post(url.clone())
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.to_string()),
            };
            let bearer = match post {
                Some((_, bearer)) => bearer,
                None => self.tokens.get(&host_name).map(String::as_str),
            };
            if let (true, Some(token)) = (authenticated, bearer) {
                req = req.bearer_auth(token);
            }
            let sent = req.send().await;
            let mut retry_after: Option<Duration> = None;
            last = match sent {
                Err(e) if e.is_timeout() => FetchError::Timeout {
                    url: url_s.clone(),
                    secs: self.cfg.timeout.as_secs(),
                    attempts: attempt + 1,
                },
                Err(e) => FetchError::Network {
                    url: url_s.clone(),
                    message: self.redactor.message(&error_chain(&e)),
                    attempts: attempt + 1,
                },
                Ok(resp) => {
                    let status = resp.status();
                    let headers = self.redactor.headers(resp.headers().clone());
                    self.note_budget(&host, &headers).await;
                    // Cleaned before it is checked: even a validator's message quoting the
                    // body cannot show a secret.
                    let body = resp.text().await.map(|b| self.clean(b));
                    match (status, body) {
                        (_, Err(e)) if e.is_timeout() => FetchError::Timeout {
                            url: url_s.clone(),
                            secs: self.cfg.timeout.as_secs(),
                            attempts: attempt + 1,
                        },
                        (_, Err(e)) => FetchError::Network {
                            url: url_s.clone(),
                            message: self.redactor.message(&error_chain(&e)),
                            attempts: attempt + 1,
                        },
                        (StatusCode::OK, Ok(body)) => match valid(&body) {
                            Ok(()) => {
                                host.failures.store(0, Ordering::Relaxed);
                                return Ok(Fetched {
                                    url: url.clone(),
                                    body,
                                    headers,
                                    authenticated,
                                    fetched_at: Utc::now(),
                                });
                            }
                            Err(message) => FetchError::Malformed {
                                url: url_s.clone(),
                                message: self.redactor.message(&message),
                                attempts: attempt + 1,
                            },
                        },
                        (StatusCode::TOO_MANY_REQUESTS, Ok(body)) => {
                            // Not a failure of the server: wait as told and ask again, within
                            // a generous bound of its own.
                            self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                            limited += 1;
                            let wait = match header(&headers, "retry-after") {
                                Some(_) => retry_after_of(&headers, Utc::now()),
                                // A reset in whole epoch seconds may be up to a second early.
                                None => retry_after_of(&headers, Utc::now())
                                    .map(|w| w + Duration::from_secs(1)),
                            }
                            .unwrap_or_else(|| self.backoff(limited));
                            if limited <= 20 {
                                self.block(&host, &host_name, wait, "429 Too Many Requests")
                                    .await;
                                continue;
                            }
                            FetchError::Status {
                                url: url_s.clone(),
                                status: 429,
                                body: self.snippet(&body),
                            }
                        }
                        (s, Ok(body)) if s.is_server_error() => {
                            // A 503 may say when to come back; its rate-limit reset is about
                            // the budget, not about the server being up again.
                            if header(&headers, "retry-after").is_some() {
                                retry_after = retry_after_of(&headers, Utc::now());
                            }
                            FetchError::Status {
                                url: url_s.clone(),
                                status: s.as_u16(),
                                body: self.snippet(&body),
                            }
                        }
                        // 4xx other than 429 (and 3xx): asking again will not change the answer.
                        (s, Ok(body)) => {
                            host.failures.store(0, Ordering::Relaxed);
                            return Err(FetchError::Status {
                                url: url_s,
                                status: s.as_u16(),
                                body: self.snippet(&body),
                            });
                        }
                    }
                }
            };
            if attempt >= self.cfg.retries {
                break;
            }
            attempt += 1;
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
            let why = match &last {
                FetchError::Timeout { .. } => "timeout".to_string(),
                FetchError::Status { status, .. } => format!("HTTP {status}"),
                FetchError::Malformed { .. } => "malformed body".to_string(),
                _ => "network error".to_string(),
            };
            self.block(&host, &host_name, wait, &format!("{why}, retry {attempt}"))
                .await;
        }
        if host.failures.fetch_add(1, Ordering::Relaxed) + 1 >= self.cfg.host_failures {
            host.down.store(true, Ordering::Relaxed);
            self.bar.println(format!(
                "warning: giving up on {host_name} for this run: {last}"
            ));
        }
        Err(last)
    }

    /// Exponential backoff with "equal jitter": half fixed, half random, so that clients
    /// that failed together do not all come back together.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .cfg
            .backoff
            .saturating_mul(1u32 << attempt.min(16).saturating_sub(1))
            .min(self.cfg.max_backoff);
        let half = base / 2;
        half + half.mul_f64(self.random())
    }

    /// xorshift: enough randomness for jitter without another dependency.
    fn random(&self) -> f64 {
        let mut x = self.seed.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.seed.store(x, Ordering::Relaxed);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Hold every request to `host` for `wait`, and say so on the progress bar.
    async fn block(&self, host: &Host, name: &str, wait: Duration, why: &str) {
        {
            let mut g = host.gate.lock().await;
            let until = Instant::now() + wait;
            if until > g.next {
                g.next = until;
            }
        }
        if wait >= Duration::from_millis(500) {
            self.bar
                .set_message(format!("waiting {:.0?} for {name} ({why})", wait));
        }
        self.stats
            .waited_ms
            .fetch_add(wait.as_millis() as u64, Ordering::Relaxed);
    }

    /// Wait until this server may be asked again: the pace, and the rate-limit budget spread
    /// over the time to its reset.
    async fn wait_turn(&self, host: &Host, name: &str) {
        let start = {
            let mut g = host.gate.lock().await;
            let now = Instant::now();
            let mut start = g.next.max(now);
            let mut gap = self.cfg.pace;
            if let (Some(remaining), Some(reset)) = (g.remaining, g.reset) {
                if reset > now {
                    if remaining <= 1 {
                        // Past the reset by a second: resets in whole epoch seconds are
                        // rounded down.
                        start = start.max(reset + Duration::from_secs(1));
                        g.remaining = None;
                    } else if g.limit.is_none_or(|l| remaining * 4 < l) {
                        gap = gap.max((reset - now) / remaining as u32);
                    }
                }
                if let Some(r) = g.remaining.as_mut() {
                    *r = r.saturating_sub(1);
                }
            }
            g.next = start + gap;
            start
        };
        let wait = start.saturating_duration_since(Instant::now());
        if wait >= Duration::from_secs(2) {
            self.bar
                .set_message(format!("waiting {:.0?} for {name} (rate limit)", wait));
        }
        if !wait.is_zero() {
            tokio::time::sleep_until(start).await;
            if wait >= Duration::from_secs(2) {
                self.bar.set_message(String::new());
            }
        }
    }

    /// Read the budget a server announces.
    async fn note_budget(&self, host: &Host, headers: &HeaderMap) {
        // Mastodon's `X-RateLimit-*`, Twitter's `x-rate-limit-*`, and the AT Protocol's
        // `ratelimit-*` (the IETF draft's names; Bluesky also sends `ratelimit-policy`, the
        // window, which the reset already tells).
        let named = |suffix: &str| {
            ["x-ratelimit-", "x-rate-limit-", "ratelimit-"]
                .iter()
                .find_map(|prefix| header(headers, &format!("{prefix}{suffix}")))
        };
        let remaining = named("remaining").and_then(|v| v.parse().ok());
        let reset = named("reset").and_then(|v| parse_reset(v, Utc::now()));
        let limit = named("limit").and_then(|v| v.parse().ok());
        if let (Some(remaining), Some(reset)) = (remaining, reset) {
            let mut g = host.gate.lock().await;
            g.remaining = Some(remaining);
            g.limit = limit;
            g.reset = Some(Instant::now() + reset);
        }
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// `X-RateLimit-Reset` → time from `now` until the reset. Mastodon sends ISO 8601
/// (`2026-11-24T23:35:00.123Z`); other servers send epoch seconds; a small number is taken
/// as seconds from now.
pub fn parse_reset(v: &str, now: DateTime<Utc>) -> Option<Duration> {
    let at = if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        t.with_timezone(&Utc)
    } else if let Ok(n) = v.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        if n < 1e9 {
            return Some(Duration::from_secs_f64(n.min(86_400.0)));
        }
        DateTime::from_timestamp(n as i64, 0)?
    } else {
        return None;
    };
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// `Retry-After`: seconds, or an HTTP date. Falls back to the rate-limit reset.
pub fn retry_after_of(headers: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    if let Some(v) = header(headers, "retry-after") {
        if let Ok(secs) = v.parse::<f64>() {
            if secs.is_finite() && secs >= 0.0 {
                return Some(Duration::from_secs_f64(secs.min(86_400.0)));
            }
        }
        if let Ok(t) = DateTime::parse_from_rfc2822(v) {
            return Some(
                (t.with_timezone(&Utc) - now)
                    .to_std()
                    .unwrap_or(Duration::ZERO),
            );
        }
    }
    header(headers, "x-ratelimit-reset")
        .or_else(|| header(headers, "x-rate-limit-reset"))
        .or_else(|| header(headers, "ratelimit-reset"))
        .and_then(|v| parse_reset(v, now))
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// The HTTP totals are saved under the same top-level keys as before they had a struct of
    /// their own, in both collectors' counters: counters saved by an earlier run read back.
    #[test]
    fn saved_counters_keep_their_http_keys() {
        fn check<C: serde::Serialize + serde::de::DeserializeOwned>(
            saved: &str,
            http: impl Fn(&C) -> &HttpCounters,
        ) {
            let c: C = serde_json::from_str(saved).unwrap();
            let want = HttpCounters {
                http_requests: 7,
                retries: 1,
                rate_limited: 2,
            };
            assert_eq!(http(&c), &want, "{saved}");
            let back = serde_json::to_value(&c).unwrap();
            for key in ["matched", "http_requests", "retries", "rate_limited"] {
                assert!(back.get(key).is_some(), "{key} in {back}");
            }
            assert!(back.get("http").is_none(), "{back}");
        }
        let http = r#""http_requests":7,"retries":1,"rate_limited":2"#;
        check(
            &format!(r#"{{"matched":3,"context_requests":2,{http}}}"#),
            |c: &crate::source::mastodon_api::Counters| &c.http,
        );
        check(
            &format!(r#"{{"matched":3,"lookup_requests":2,{http}}}"#),
            |c: &crate::source::twitter_api::Counters| &c.http,
        );
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn reset_in_iso_8601_and_epoch_seconds() {
        assert_eq!(
            parse_reset("2026-11-24T12:05:00.000Z", now()),
            Some(Duration::from_secs(300))
        );
        let epoch = (now().timestamp() + 90).to_string();
        assert_eq!(parse_reset(&epoch, now()), Some(Duration::from_secs(90)));
        assert_eq!(parse_reset("30", now()), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_reset("2026-11-24T11:00:00Z", now()),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_reset("soon", now()), None);
    }

    #[test]
    fn retry_after_in_seconds_or_http_date() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after_of(&h, now()), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Tue, 24 Nov 2026 12:00:20 GMT"),
        );
        assert_eq!(retry_after_of(&h, now()), Some(Duration::from_secs(20)));
        let mut h = HeaderMap::new();
        h.insert(
            "x-ratelimit-reset",
            HeaderValue::from_static("2026-11-24T12:01:00Z"),
        );
        assert_eq!(retry_after_of(&h, now()), Some(Duration::from_secs(60)));
        // The Twitter/X API spells it with another dash, in epoch seconds.
        let mut h = HeaderMap::new();
        let epoch = (now().timestamp() + 45).to_string();
        h.insert("x-rate-limit-reset", HeaderValue::from_str(&epoch).unwrap());
        assert_eq!(retry_after_of(&h, now()), Some(Duration::from_secs(45)));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let http = Http::new(NetConfig::default(), None, ProgressBar::hidden()).unwrap();
        for attempt in 1..8 {
            let base = Duration::from_millis(500) * (1 << (attempt - 1));
            let base = base.min(Duration::from_secs(60));
            let b = http.backoff(attempt);
            assert!(b >= base / 2 && b <= base, "attempt {attempt}: {b:?}");
        }
        assert!(http.backoff(30) <= Duration::from_secs(60));
    }

    #[test]
    fn authority_keeps_the_port() {
        let u = Url::parse("http://127.0.0.1:8123/api/v1/x").unwrap();
        assert_eq!(authority(&u), "127.0.0.1:8123");
        let u = Url::parse("https://mastodon.social/api").unwrap();
        assert_eq!(authority(&u), "mastodon.social");
    }
}
