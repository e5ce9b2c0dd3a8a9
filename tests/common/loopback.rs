//! A tiny HTTP/1.1 server on 127.0.0.1 whose every answer a test writes: for hostile-server
//! tests (a server that echoes our headers, one that repeats its cursor), where a real peer
//! would not misbehave on purpose.
//!
//! Each request is read (request line and headers; collectors send GETs, so no body), logged,
//! and answered by the test's closure. The server answers at most `max` requests: past that it
//! still logs each request but closes the connection without answering, so a collector that
//! loops fails fast (network errors, then its breaker) and the test sees the count, instead of
//! running forever.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

/// One request as received.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub method: String,
    /// The request target: path and query, as sent.
    pub target: String,
    /// Header lines in the order sent, names as written.
    pub headers: Vec<(String, String)>,
    /// The body, by its `Content-Length` (empty for the collectors' GETs).
    pub body: String,
}

impl Request {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The header block as received, one `Name: value` per line.
    pub fn header_text(&self) -> String {
        self.headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\n"))
            .collect()
    }
}

/// An answer: the status line's code and reason (e.g. `"401 Unauthorized"`), extra headers,
/// and the body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn new(status: &str, content_type: &str, body: impl Into<String>) -> Response {
        Response {
            status: status.to_string(),
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn json(status: &str, body: impl Into<String>) -> Response {
        Response::new(status, "application/json", body)
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Response {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

type Answer = dyn Fn(&Request) -> Response + Send + Sync;

pub struct Loopback {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    log: Arc<Mutex<Vec<Request>>>,
}

impl Loopback {
    /// Serve up to `max` requests with `answer`.
    pub fn start(
        max: usize,
        answer: impl Fn(&Request) -> Response + Send + Sync + 'static,
    ) -> Loopback {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let log: Arc<Mutex<Vec<Request>>> = Arc::default();
        let answer: Arc<Answer> = Arc::new(answer);
        let shared = log.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (log, answer) = (shared.clone(), answer.clone());
                std::thread::spawn(move || serve(stream, &log, &*answer, max));
            }
        });
        Loopback { base, log }
    }

    /// Every request received so far (answered or not).
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }

    /// The requests received for this path (without the query).
    pub fn count(&self, path: &str) -> usize {
        self.requests().iter().filter(|r| r.path() == path).count()
    }
}

fn serve(stream: TcpStream, log: &Mutex<Vec<Request>>, answer: &Answer, max: usize) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut stream = stream;
    while let Some(request) = read_request(&mut reader) {
        let n = {
            let mut log = log.lock().unwrap();
            log.push(request.clone());
            log.len()
        };
        if n > max {
            return;
        }
        let r = answer(&request);
        let mut head = format!(
            "HTTP/1.1 {}\r\ncontent-length: {}\r\n",
            r.status,
            r.body.len()
        );
        for (k, v) in &r.headers {
            head += &format!("{k}: {v}\r\n");
        }
        head += "\r\n";
        if stream.write_all(head.as_bytes()).is_err()
            || stream.write_all(r.body.as_bytes()).is_err()
        {
            return;
        }
    }
}

/// Read one request: its line, headers and body (by `Content-Length`: XRPC sessions are POSTs);
/// `None` when the client closed the connection. Shared with the API servers in `xapi.rs` and
/// `xrpc.rs`.
pub fn read_request(reader: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return None;
    }
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("GET").to_string();
    let target = parts.next().unwrap_or("/").to_string();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Run `rethread collect NETWORK` (`mastodon` or `twitter`) in `dir` against the server at
/// `base`, with nothing that would slow a test down (no pacing, no retries, a short backoff and
/// timeout), and `token` as that network's token (the variable removed when `None`). `args`
/// give the tag or query and anything else.
pub fn collect(
    dir: &Path,
    network: &str,
    base: &str,
    token: Option<&str>,
    args: &[&str],
) -> Output {
    let (server_flag, token_var) = match network {
        "mastodon" => ("--instance", "MASTODON_TOKEN"),
        "twitter" => ("--api-base", "TWITTER_BEARER_TOKEN"),
        other => panic!("no collector {other}"),
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rethread"));
    cmd.args(["collect", network, server_flag, base])
        .args([
            "--pace",
            "0",
            "--backoff",
            "10",
            "--retries",
            "0",
            "--timeout",
            "5",
        ])
        .args(args)
        .env_remove("X_BEARER_TOKEN")
        .current_dir(dir);
    match token {
        Some(t) => cmd.env(token_var, t),
        None => cmd.env_remove(token_var),
    };
    cmd.output().unwrap()
}
