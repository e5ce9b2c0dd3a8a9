//! A stand-in for the Twitter/X API v2 on loopback, serving real recorded pages.
//!
//! It loads the academictwitteR recordings in `../shared/data/twitter_v2/academictwitteR/`
//! (one API response per line; MANIFEST.json gives each line's request) and answers:
//!
//! - `/2/tweets/search/all` and `/recent`: the recorded pages of the request's `query`, in file
//!   order, chained by `meta.next_token` (a page recorded without one gets a token that leads
//!   to the next recorded page; the last page ends the chain);
//! - a `conversation_id:ID` query: one page with every recorded tweet of that conversation;
//! - `/2/tweets?ids=`: the recorded tweets with those ids, and for the others the error the API
//!   gives for a tweet it cannot find.
//!
//! Every answer carries `x-rate-limit-*` headers. Faults (a 429 until a reset, a 503) can be
//! queued to answer the next requests. Requests are logged with their time and Authorization.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A canned answer for the next request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// 429 with `x-rate-limit-remaining: 0` and a reset this many seconds ahead.
    RateLimited { reset_in: u64 },
    /// 503 with an API-style error body.
    Unavailable,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub at: Instant,
    pub target: String,
    pub authorization: Option<String>,
}

#[derive(Default)]
struct State {
    /// query → recorded page bodies, in file order.
    searches: HashMap<String, Vec<Value>>,
    /// Every recorded tweet by id (`data` and `includes.tweets`), and users by id.
    tweets: HashMap<String, Value>,
    users: HashMap<String, Value>,
    faults: VecDeque<Fault>,
    log: Vec<Logged>,
    /// Ids a lookup leaves out of both `data` and `errors`, as the API sometimes does.
    silent: std::collections::HashSet<String>,
    /// Added before every answer.
    delay: std::time::Duration,
}

pub struct XApi {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl XApi {
    /// Serve the recordings of these files (names in the academictwitteR folder).
    pub fn start(dir: &Path, files: &[&str]) -> XApi {
        let manifest: Vec<Value> =
            serde_json::from_str(&std::fs::read_to_string(dir.join("MANIFEST.json")).unwrap())
                .unwrap();
        let mut state = State::default();
        for file in files {
            let lines: Vec<String> = std::fs::read_to_string(dir.join(file))
                .unwrap()
                .lines()
                .map(str::to_string)
                .collect();
            for entry in manifest.iter().filter(|e| e["file"] == *file) {
                let line = entry["line"].as_u64().unwrap() as usize;
                let url = url::Url::parse(entry["request_url"].as_str().unwrap()).unwrap();
                let query = url
                    .query_pairs()
                    .find(|(k, _)| k == "query")
                    .map(|(_, v)| v.into_owned())
                    .expect("a search request");
                let page: Value = serde_json::from_str(&lines[line - 1]).unwrap();
                for t in page["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .chain(page["includes"]["tweets"].as_array().into_iter().flatten())
                {
                    let id = t["id"].as_str().unwrap().to_string();
                    state.tweets.entry(id).or_insert_with(|| t.clone());
                }
                for u in page["includes"]["users"].as_array().into_iter().flatten() {
                    let id = u["id"].as_str().unwrap().to_string();
                    state.users.entry(id).or_insert_with(|| u.clone());
                }
                state.searches.entry(query).or_default().push(page);
            }
        }
        // Chain each query's pages: page i's next_token leads to page i + 1.
        for pages in state.searches.values_mut() {
            let n = pages.len();
            for (i, page) in pages.iter_mut().enumerate() {
                let meta = page
                    .as_object_mut()
                    .unwrap()
                    .entry("meta")
                    .or_insert_with(|| json!({}));
                if i + 1 < n {
                    meta["next_token"] = json!(format!("rt-page-{}", i + 1));
                } else {
                    meta.as_object_mut().unwrap().remove("next_token");
                }
            }
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(state));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        XApi { base, state }
    }

    pub fn queue(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push_back(fault);
    }

    /// Make lookups say nothing about this id.
    pub fn silence(&self, id: &str) {
        self.state.lock().unwrap().silent.insert(id.to_string());
    }

    /// Wait this long before every answer.
    pub fn set_delay(&self, delay: std::time::Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    while let Some(request) = crate::common::loopback::read_request(&mut reader) {
        let authorization = request.header("authorization").map(str::to_string);
        let target = request.target;
        let (status, body, extra) = answer(state, &target, authorization);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut head = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
            body.len()
        );
        if !extra.iter().any(|(k, _)| k == "x-rate-limit-reset") {
            head += &format!(
                "x-rate-limit-limit: 300\r\nx-rate-limit-remaining: 299\r\nx-rate-limit-reset: {}\r\n",
                now + 900
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

fn answer(
    state: &Mutex<State>,
    target: &str,
    authorization: Option<String>,
) -> (&'static str, String, Vec<(String, String)>) {
    let delay = state.lock().unwrap().delay;
    std::thread::sleep(delay);
    let mut st = state.lock().unwrap();
    st.log.push(Logged {
        at: Instant::now(),
        target: target.to_string(),
        authorization,
    });
    if let Some(f) = st.faults.pop_front() {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        return match f {
            Fault::RateLimited { reset_in } => (
                "429 Too Many Requests",
                json!({"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}).to_string(),
                vec![
                    ("x-rate-limit-limit".into(), "300".into()),
                    ("x-rate-limit-remaining".into(), "0".into()),
                    ("x-rate-limit-reset".into(), (now + reset_in).to_string()),
                ],
            ),
            Fault::Unavailable => (
                "503 Service Unavailable",
                json!({"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503}).to_string(),
                vec![],
            ),
        };
    }
    let url = url::Url::parse(&format!("http://x{target}")).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    match url.path() {
        "/2/tweets/search/all" | "/2/tweets/search/recent" => {
            let query = param("query").unwrap_or_default();
            if let Some(conv) = query.strip_prefix("conversation_id:") {
                let data: Vec<Value> = st
                    .tweets
                    .values()
                    .filter(|t| t["conversation_id"] == conv)
                    .cloned()
                    .collect();
                return ("200 OK", page_of(&st, data, vec![]).to_string(), vec![]);
            }
            let Some(pages) = st.searches.get(&query) else {
                return (
                    "200 OK",
                    json!({"meta": {"result_count": 0}}).to_string(),
                    vec![],
                );
            };
            let index = match param("next_token") {
                None => 0,
                Some(t) => match t.strip_prefix("rt-page-").and_then(|n| n.parse().ok()) {
                    Some(i) if i < pages.len() => i,
                    _ => {
                        return (
                            "400 Bad Request",
                            json!({"errors": [{"message": "Invalid next_token"}], "title": "Invalid Request"}).to_string(),
                            vec![],
                        )
                    }
                },
            };
            ("200 OK", pages[index].to_string(), vec![])
        }
        "/2/tweets" => {
            let ids = param("ids").unwrap_or_default();
            let mut data = Vec::new();
            let mut errors = Vec::new();
            for id in ids.split(',').filter(|s| !s.is_empty()) {
                if st.silent.contains(id) {
                    continue;
                }
                match st.tweets.get(id) {
                    Some(t) => data.push(t.clone()),
                    None => errors.push(json!({
                        "value": id,
                        "detail": format!("Could not find tweet with ids: [{id}]."),
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "ids",
                        "resource_id": id,
                        "type": "https://api.twitter.com/2/problems/resource-not-found"
                    })),
                }
            }
            ("200 OK", page_of(&st, data, errors).to_string(), vec![])
        }
        _ => (
            "404 Not Found",
            json!({"title": "Not Found"}).to_string(),
            vec![],
        ),
    }
}

/// A response page: `data`, the authors in `includes.users`, `errors`, `meta`.
fn page_of(st: &State, data: Vec<Value>, errors: Vec<Value>) -> Value {
    let mut users: Vec<Value> = Vec::new();
    for t in &data {
        if let Some(u) = t["author_id"].as_str().and_then(|a| st.users.get(a)) {
            if !users.contains(u) {
                users.push(u.clone());
            }
        }
    }
    let mut page = json!({"meta": {"result_count": data.len()}});
    if !data.is_empty() {
        page["data"] = Value::Array(data);
        page["includes"] = json!({"users": users});
    }
    if !errors.is_empty() {
        page["errors"] = Value::Array(errors);
    }
    page
}
