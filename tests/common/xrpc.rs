//! A stand-in for Bluesky's XRPC API on loopback (PDS and AppView in one), serving the real
//! recorded post views in `../shared/data/bluesky/`.
//!
//! It loads every post view of the recorded search pages and thread responses and answers:
//!
//! - `com.atproto.server.createSession` (POST, one account) and `refreshSession`, issuing fresh
//!   tokens each time; a read without the current access token is refused;
//! - `app.bsky.feed.searchPosts`: every loaded post (with `tag`, those carrying that tag),
//!   newest first by `sortAt`, `until`/`since` applied, paged by an offset `cursor`, with no
//!   cursor past `page_cap` posts (as the AppView stops near 10,000);
//! - `app.bsky.feed.getPostThread`: the post with its parents (a `notFoundPost` where a parent
//!   is not loaded) and its replies, built from `reply.parent` of the loaded posts, at most
//!   `depth_cap` levels deep (the public AppView cuts at about 10), each post's `replyCount`
//!   the number of its loaded replies. An unknown anchor is `400 NotFound`.
//!
//! So the threads served are the real recorded posts, reassembled by their real reply links;
//! nothing is invented but the envelope. Faults can be queued for the next reads (429 with `ratelimit-*`
//! headers, 502 UpstreamFailure, an expired token, a hung request). Every 200 answer to a read
//! is logged, so a test can import exactly what the collector was sent.
#![allow(dead_code)]

use crate::common::loopback::Request;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const IDENTIFIER: &str = "researcher.test";
pub const PASSWORD: &str = "pw-7f3k-2m9q-x8v1";

#[derive(Clone, Debug)]
pub enum Fault {
    /// 429 with `ratelimit-remaining: 0` and a reset this many seconds ahead.
    RateLimited { reset_in: u64 },
    /// 502 `UpstreamFailure`, as the AppView answers when a backend is down.
    Upstream,
    /// The current access token expires now: this request gets `400 ExpiredToken`.
    Expire,
    /// The answer comes after this long (past the collector's timeout).
    Hang(Duration),
}

#[derive(Default)]
struct State {
    posts: HashMap<String, Value>,
    /// Newest first by sortAt, for search.
    order: Vec<String>,
    children: HashMap<String, Vec<String>>,
    access: Option<String>,
    refresh: Option<String>,
    issued: Vec<String>,
    serial: u64,
    faults: VecDeque<Fault>,
    depth_cap: usize,
    page_cap: usize,
    delay: Duration,
    /// (path and query, body) of every 200 answer to a read.
    answered: Vec<(String, String)>,
    /// Every request's path and query.
    log: Vec<String>,
}

pub struct Xrpc {
    pub base: String,
    state: Arc<Mutex<State>>,
}

fn sort_at(v: &Value) -> String {
    let c = v["record"]["createdAt"].as_str().unwrap_or("");
    let i = v["indexedAt"].as_str().unwrap_or("");
    if !c.is_empty() && (i.is_empty() || c < i) {
        c
    } else {
        i
    }
    .to_string()
}

/// Every post view in a recorded thread node (iteratively; the recordings are shallow anyway).
fn views_of_thread(node: &Value, out: &mut Vec<Value>) {
    let mut stack = vec![node];
    while let Some(n) = stack.pop() {
        if n.get("post").is_some() {
            out.push(n["post"].clone());
        }
        if let Some(p) = n.get("parent") {
            stack.push(p);
        }
        for r in n["replies"].as_array().into_iter().flatten() {
            stack.push(r);
        }
    }
}

impl Xrpc {
    /// Serve the recorded posts of `dir` (the `bluesky` data folder).
    pub fn start(dir: &Path) -> Xrpc {
        let mut views = Vec::new();
        for f in [
            "search/atrrr_searchPosts_q-hashtag-rstats_limit100.json",
            "search/atrrr_searchPosts_q-rstats_limit100.json",
        ] {
            let page: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap();
            views.extend(page["posts"].as_array().unwrap().iter().cloned());
        }
        for f in [
            "threads/atrrr_getPostThread_3kbi55xm6u62v.json",
            "threads/atrrr_getPostThread_3kbi57u4sys2l.json",
            "threads/bskyr_getPostThread_3k7qmjev5lr2s.json",
        ] {
            let t: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap();
            views_of_thread(&t["thread"], &mut views);
        }
        let mut st = State {
            depth_cap: 1000,
            page_cap: usize::MAX,
            ..State::default()
        };
        for v in views {
            let uri = v["uri"].as_str().unwrap().to_string();
            st.posts.entry(uri).or_insert(v);
        }
        for (uri, v) in &st.posts {
            if let Some(parent) = v["record"]["reply"]["parent"]["uri"].as_str() {
                st.children
                    .entry(parent.to_string())
                    .or_default()
                    .push(uri.clone());
            }
        }
        for kids in st.children.values_mut() {
            kids.sort();
        }
        let mut order: Vec<String> = st.posts.keys().cloned().collect();
        order.sort_by(|a, b| {
            sort_at(&st.posts[b])
                .cmp(&sort_at(&st.posts[a]))
                .then_with(|| a.cmp(b))
        });
        st.order = order;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(st));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Xrpc { base, state }
    }

    pub fn queue(&self, f: Fault) {
        self.state.lock().unwrap().faults.push_back(f);
    }
    pub fn set_depth_cap(&self, n: usize) {
        self.state.lock().unwrap().depth_cap = n;
    }
    pub fn set_page_cap(&self, n: usize) {
        self.state.lock().unwrap().page_cap = n;
    }
    pub fn set_delay(&self, d: Duration) {
        self.state.lock().unwrap().delay = d;
    }
    /// The loaded posts.
    pub fn post_count(&self) -> usize {
        self.state.lock().unwrap().posts.len()
    }
    pub fn uris(&self) -> Vec<String> {
        self.state.lock().unwrap().order.clone()
    }
    pub fn answered(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().answered.clone()
    }
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }
    /// Every token issued so far.
    pub fn issued(&self) -> Vec<String> {
        self.state.lock().unwrap().issued.clone()
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    while let Some(req) = crate::common::loopback::read_request(&mut reader) {
        let (status, body, extra) = answer(state, &req);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        if !extra.iter().any(|(k, _)| k == "ratelimit-reset") {
            head += &format!(
                "ratelimit-limit: 3000\r\nratelimit-remaining: 2999\r\nratelimit-reset: {}\r\nratelimit-policy: 3000;w=300\r\n",
                now + 300
            );
        }
        for (k, v) in extra {
            head += &format!("{k}: {v}\r\n");
        }
        head += "\r\n";
        if stream.write_all(head.as_bytes()).is_err() || stream.write_all(body.as_bytes()).is_err()
        {
            return;
        }
    }
}

fn error(
    status: &'static str,
    name: &str,
    message: &str,
) -> (&'static str, String, Vec<(String, String)>) {
    (
        status,
        json!({"error": name, "message": message}).to_string(),
        vec![],
    )
}

fn answer(state: &Mutex<State>, req: &Request) -> (&'static str, String, Vec<(String, String)>) {
    let delay = state.lock().unwrap().delay;
    std::thread::sleep(delay);
    let fault = {
        let mut st = state.lock().unwrap();
        st.log.push(req.target.clone());
        // Faults hit the reads (a session is made before any of them).
        if req.method == "GET" {
            st.faults.pop_front()
        } else {
            None
        }
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    match fault {
        Some(Fault::RateLimited { reset_in }) => {
            return (
                "429 Too Many Requests",
                json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}).to_string(),
                vec![
                    ("ratelimit-limit".into(), "3000".into()),
                    ("ratelimit-remaining".into(), "0".into()),
                    ("ratelimit-reset".into(), (now + reset_in).to_string()),
                    ("ratelimit-policy".into(), "3000;w=300".into()),
                ],
            )
        }
        Some(Fault::Upstream) => {
            return error("502 Bad Gateway", "UpstreamFailure", "Upstream Failure")
        }
        Some(Fault::Hang(d)) => std::thread::sleep(d),
        Some(Fault::Expire) => {
            state.lock().unwrap().access = None;
        }
        None => {}
    }
    let url = url::Url::parse(&format!("http://x{}", req.target)).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let bearer = req
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_string);
    let mut st = state.lock().unwrap();
    let issue = |st: &mut State| {
        st.serial += 1;
        let access = format!(
            "eyJhbGciOiJFUzI1NksifQ.acc{}-{:x}",
            st.serial,
            now.wrapping_mul(2654435761)
        );
        let refresh = format!(
            "eyJhbGciOiJFUzI1NksifQ.ref{}-{:x}",
            st.serial,
            now.wrapping_mul(40503)
        );
        st.issued.push(access.clone());
        st.issued.push(refresh.clone());
        st.access = Some(access.clone());
        st.refresh = Some(refresh.clone());
        json!({"accessJwt": access, "refreshJwt": refresh, "handle": IDENTIFIER, "did": "did:plc:researcher0000000000000", "active": true}).to_string()
    };
    match (req.method.as_str(), url.path()) {
        ("POST", "/xrpc/com.atproto.server.createSession") => {
            let b: Value = serde_json::from_str(&req.body).unwrap_or(Value::Null);
            if b["identifier"] == IDENTIFIER && b["password"] == PASSWORD {
                ("200 OK", issue(&mut st), vec![])
            } else {
                error(
                    "401 Unauthorized",
                    "AuthenticationRequired",
                    "Invalid identifier or password",
                )
            }
        }
        ("POST", "/xrpc/com.atproto.server.refreshSession") => {
            if bearer.is_some() && bearer == st.refresh {
                ("200 OK", issue(&mut st), vec![])
            } else {
                error("400 Bad Request", "ExpiredToken", "Token has expired")
            }
        }
        ("GET", path) if path.starts_with("/xrpc/app.bsky.") => {
            if bearer.is_none() {
                return error("401 Unauthorized", "AuthMissing", "Authentication Required");
            }
            if bearer != st.access {
                return error("400 Bad Request", "ExpiredToken", "Token has expired");
            }
            let body = match path {
                "/xrpc/app.bsky.feed.searchPosts" => search(&st, &param),
                "/xrpc/app.bsky.feed.getPostThread" => {
                    let uri = param("uri").unwrap_or_default();
                    if !st.posts.contains_key(&uri) {
                        return error(
                            "400 Bad Request",
                            "NotFound",
                            &format!("Post not found: {uri}"),
                        );
                    }
                    let depth: usize = param("depth").and_then(|d| d.parse().ok()).unwrap_or(6);
                    let height: usize = param("parentHeight")
                        .and_then(|d| d.parse().ok())
                        .unwrap_or(80);
                    json!({"thread": thread(&st, &uri, depth.min(st.depth_cap), height)})
                        .to_string()
                }
                _ => {
                    return error(
                        "400 Bad Request",
                        "MethodNotImplemented",
                        "Method Not Implemented",
                    )
                }
            };
            st.answered.push((req.target.clone(), body.clone()));
            ("200 OK", body, vec![])
        }
        _ => error("404 Not Found", "NotFound", "Not Found"),
    }
}

fn tags_of(v: &Value) -> Vec<String> {
    let mut tags: Vec<String> = v["record"]["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_lowercase))
        .collect();
    for f in v["record"]["facets"].as_array().into_iter().flatten() {
        for feature in f["features"].as_array().into_iter().flatten() {
            if let Some(t) = feature["tag"].as_str() {
                tags.push(t.to_lowercase());
            }
        }
    }
    tags
}

fn search(st: &State, param: &dyn Fn(&str) -> Option<String>) -> String {
    let tag = param("tag").map(|t| t.to_lowercase());
    let until = param("until");
    let since = param("since");
    let hits: Vec<&Value> = st
        .order
        .iter()
        .map(|u| &st.posts[u])
        .filter(|v| tag.as_ref().is_none_or(|t| tags_of(v).contains(t)))
        .filter(|v| {
            until
                .as_ref()
                .is_none_or(|u| sort_at(v).as_str() < u.as_str())
        })
        .filter(|v| {
            since
                .as_ref()
                .is_none_or(|s| sort_at(v).as_str() >= s.as_str())
        })
        .collect();
    let offset: usize = param("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    let limit: usize = param("limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(25)
        .clamp(1, 100);
    let page: Vec<Value> = hits
        .iter()
        .skip(offset)
        .take(limit)
        .map(|v| (*v).clone())
        .collect();
    let next = offset + page.len();
    let mut body = json!({"posts": page});
    if next < hits.len() && next < st.page_cap {
        body["cursor"] = json!(next.to_string());
    }
    body.to_string()
}

/// A post view with its `replyCount` set to its loaded replies.
fn view(st: &State, uri: &str) -> Value {
    let mut v = st.posts[uri].clone();
    v["replyCount"] = json!(st.children.get(uri).map_or(0, Vec::len));
    v
}

/// The thread node of `uri`: replies to `depth` levels, parents to `height`.
fn thread(st: &State, uri: &str, depth: usize, height: usize) -> Value {
    // Replies, built bottom-up without recursion: nodes deepest first.
    let mut levels: Vec<Vec<String>> = vec![vec![uri.to_string()]];
    for _ in 0..depth {
        let next: Vec<String> = levels
            .last()
            .unwrap()
            .iter()
            .flat_map(|u| st.children.get(u).cloned().unwrap_or_default())
            .collect();
        if next.is_empty() {
            break;
        }
        levels.push(next);
    }
    let mut built: HashMap<String, Value> = HashMap::new();
    for (d, level) in levels.iter().enumerate().rev() {
        for u in level {
            let mut node = json!({"$type": "app.bsky.feed.defs#threadViewPost", "post": view(st, u), "threadContext": {}});
            if d < levels.len() - 1 || st.children.get(u).is_none_or(Vec::is_empty) {
                let replies: Vec<Value> = st
                    .children
                    .get(u)
                    .into_iter()
                    .flatten()
                    .filter_map(|c| built.remove(c))
                    .collect();
                node["replies"] = json!(replies);
            }
            built.insert(u.clone(), node);
        }
    }
    let mut top = built.remove(uri).unwrap();
    // Parents, from the anchor up.
    let mut chain: Vec<Value> = Vec::new();
    let mut at = st.posts[uri]["record"]["reply"]["parent"]["uri"]
        .as_str()
        .map(str::to_string);
    while let Some(p) = at.take() {
        if chain.len() >= height {
            break;
        }
        match st.posts.get(&p) {
            Some(v) => {
                chain.push(json!({"$type": "app.bsky.feed.defs#threadViewPost", "post": view(st, &p), "threadContext": {}}));
                at = v["record"]["reply"]["parent"]["uri"]
                    .as_str()
                    .map(str::to_string);
            }
            None => chain.push(
                json!({"$type": "app.bsky.feed.defs#notFoundPost", "uri": p, "notFound": true}),
            ),
        }
    }
    // Nest them: the anchor's parent holds its own parent, and so on.
    let mut parent: Option<Value> = None;
    for mut node in chain.into_iter().rev() {
        if let Some(p) = parent.take() {
            node["parent"] = p;
        }
        parent = Some(node);
    }
    if let Some(p) = parent {
        top["parent"] = p;
    }
    top
}
