//! `rethread collect mastodon` against Mastodon 4.4/4.5 behaviour that mastodon-mock does not
//! have: `Mastodon-Async-Refresh` on contexts, quote posts and their states, and the caps on
//! logged-out contexts. A loopback server of the test's own serves statuses made from a real
//! Mastodon 4.5 status (Mastodon.py's recordings in `../shared/data/mastodon`), with the
//! header in the documented form.

mod common;

use common::loopback::{Loopback, Response};
use common::{ok, stderr};
use rusqlite::Connection;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// The real 4.5 status every status here is made from (its account, its shape, its `quote`).
fn template() -> Option<Value> {
    let dir = common::shared("data/mastodon/mastodonpy_cassettes", "collect_mastodon45")?;
    let text =
        std::fs::read_to_string(dir.join("test_status_reply_with_quote__03_POST.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v["quote"]["state"].is_string(), "a real 4.5 quote field");
    Some(v)
}

/// A public status on `host` (ids as Mastodon 4.5 writes its uris: `/ap/users/ACCOUNT/...`).
fn status(t: &Value, host: &str, id: u64, parent: Option<u64>, text: &str) -> Value {
    let mut s = t.clone();
    let account = s["account"]["id"].as_str().unwrap().to_string();
    s["id"] = json!(id.to_string());
    s["uri"] = json!(format!("http://{host}/ap/users/{account}/statuses/{id}"));
    s["url"] = json!(format!("http://{host}/@mastodonpy_test/{id}"));
    s["in_reply_to_id"] = json!(parent.map(|p| p.to_string()));
    s["in_reply_to_account_id"] = json!(parent.map(|_| account.clone()));
    s["visibility"] = json!("public");
    s["content"] = json!(format!("<p>{text}</p>"));
    s["replies_count"] = json!(0);
    s["quotes_count"] = json!(0);
    s["tags"] = json!([]);
    s["quote"] = Value::Null;
    s["account"]["locked"] = json!(false);
    s
}

/// Thread roots: 100 is refreshed and done on the second ask, 200 is never done, 300 is cut
/// at the logged-out cap (61 replies, 60 shown), 400 is quoted twice, 500 quotes a post whose
/// author revoked the quote, 600 has a quote pending approval.
struct Server {
    lb: Loopback,
    contexts: Arc<Mutex<HashMap<String, u32>>>,
}

fn server(t: Value) -> Server {
    let contexts: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let asked = contexts.clone();
    let lb = Loopback::start(10_000, move |r| {
        let host = r.header("host").unwrap_or("").to_string();
        let st = |id, parent, text: &str| status(&t, &host, id, parent, text);
        let tagged = |mut s: Value, replies: u64| {
            s["tags"] = json!([{"name": "cx", "url": "http://x/tags/cx"}]);
            s["replies_count"] = json!(replies);
            s
        };
        let path = r.path().to_string();
        let authed = r.header("authorization").is_some();
        let body = |v: Value| Response::json("200 OK", v.to_string());
        match path.as_str() {
            "/api/v1/timelines/tag/cx" => {
                let mut quoted = tagged(st(400, None, "#cx a form with seven steps"), 0);
                quoted["quotes_count"] = json!(2);
                let mut revoked = tagged(st(500, None, "#cx look at this"), 0);
                revoked["quote"] = json!({"state": "revoked",
                    "quoted_status": st(90, None, "SECRET words of someone who said no")});
                let mut pending = tagged(st(600, None, "#cx and this"), 0);
                pending["quote"] =
                    json!({"state": "pending", "quoted_status": null, "quoted_status_id": "91"});
                body(json!([
                    tagged(st(100, None, "#cx refunds take forever"), 2),
                    tagged(st(200, None, "#cx nobody answers"), 1),
                    tagged(st(300, None, "#cx a popular complaint"), 61),
                    quoted,
                    revoked,
                    pending,
                ]))
            }
            p if p.starts_with("/api/v1/statuses/") && p.ends_with("/context") => {
                let id = p.split('/').nth(4).unwrap_or("").to_string();
                let n = {
                    let mut c = asked.lock().unwrap();
                    let n = c.entry(id.clone()).or_default();
                    *n += 1;
                    *n
                };
                let refresh = |rid: &str| format!(r#"id="{rid}", retry=1, result_count=0"#);
                match id.as_str() {
                    // First ask: one reply, and the server still fetching; then two.
                    "100" if n == 1 => body(json!({"ancestors": [], "descendants": [st(101, Some(100), "same here")]}))
                        .with_header("Mastodon-Async-Refresh", &refresh("ctx100")),
                    "100" => body(json!({"ancestors": [], "descendants": [
                        st(101, Some(100), "same here"), st(102, Some(101), "from a far server")]})),
                    "200" => body(json!({"ancestors": [], "descendants": [st(201, Some(200), "still waiting")]}))
                        .with_header("Mastodon-Async-Refresh", &refresh("ctx200")),
                    "300" => {
                        let cap = if authed { 61 } else { 60 };
                        let d: Vec<Value> = (0..cap).map(|k| st(3000 + k, Some(300), &format!("me too {k}"))).collect();
                        body(json!({"ancestors": [], "descendants": d}))
                    }
                    _ => body(json!({"ancestors": [], "descendants": []})),
                }
            }
            "/api/v1_alpha/async_refreshes/ctx100" if authed => body(json!({"async_refresh":
                {"id": "ctx100", "status": "finished", "result_count": 1}})),
            "/api/v1_alpha/async_refreshes/ctx200" if authed => body(json!({"async_refresh":
                {"id": "ctx200", "status": "running", "result_count": 0}})),
            "/api/v1/statuses/400/quotes" => {
                let quoting = |id, text: &str| {
                    let mut q = st(id, None, text);
                    q["quote"] = json!({"state": "accepted", "quoted_status": st(400, None, "#cx a form with seven steps")});
                    q
                };
                if r.target.contains("max_id") {
                    body(json!([quoting(402, "seven! mine had nine")]))
                } else {
                    body(json!([quoting(401, "this is us every day")])).with_header(
                        "Link",
                        &format!("<http://{host}/api/v1/statuses/400/quotes?limit=40&max_id=401>; rel=\"next\""),
                    )
                }
            }
            _ => Response::json("404 Not Found", r#"{"error":"Record not found"}"#),
        }
    });
    Server { lb, contexts }
}

fn host(s: &Server) -> String {
    s.lb.base.trim_start_matches("http://").to_string()
}

fn collect(dir: &Path, s: &Server, extra: &[&str], token: Option<&str>) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rethread"));
    cmd.args([
        "collect",
        "mastodon",
        "--instance",
        &s.lb.base,
        "--tag",
        "cx",
    ])
    .args(["--pace", "0", "--timeout", "5", "--retries", "0"])
    .args(extra)
    .current_dir(dir)
    .env_remove("MASTODON_TOKEN");
    if let Some(t) = token {
        cmd.env("MASTODON_TOKEN", t);
    }
    cmd.output().unwrap()
}

fn threads(dir: &Path) -> Vec<Value> {
    serde_json::from_str::<Value>(&ok(dir, &["threads", "--format", "json"]))
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn thread_of<'a>(ts: &'a [Value], root: &str) -> &'a Value {
    ts.iter()
        .find(|t| t["root"] == root)
        .unwrap_or_else(|| panic!("no thread rooted at {root}: {ts:?}"))
}

fn missing(dir: &Path) -> HashMap<String, String> {
    let conn = Connection::open(dir.join("rethread.db")).unwrap();
    let mut stmt = conn.prepare("SELECT id, reason FROM missing").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[test]
fn an_async_refresh_is_waited_for_and_what_it_brought_is_stored() {
    let Some(t) = template() else { return };
    let s = server(t);
    let h = host(&s);
    let dir = tempfile::tempdir().unwrap();
    let o = collect(dir.path(), &s, &[], None);
    let summary = stderr(&o);
    assert!(o.status.success(), "{summary}");
    // 100: asked again after the wait, done; 200: asked again three times, never done.
    assert_eq!(s.contexts.lock().unwrap()["100"], 2, "{summary}");
    assert_eq!(s.contexts.lock().unwrap()["200"], 4, "{summary}");
    assert!(
        summary.contains("threads their server was still fetching (Mastodon-Async-Refresh): 2; asked again (4 contexts, 0 polls): 1 finished, bringing 1 more posts, 1 not finished in time"),
        "{summary}"
    );
    let ts = threads(dir.path());
    let t100 = thread_of(&ts, &format!("100@{h}"));
    assert_eq!(
        (t100["posts"].as_u64(), t100["complete"].as_bool()),
        (Some(3), Some(true))
    );
    // Not silently complete: the thread still being fetched carries a gap saying so.
    let t200 = thread_of(&ts, &format!("200@{h}"));
    assert_eq!(t200["complete"], false, "{t200}");
    let gaps = missing(dir.path());
    let reason = &gaps[&format!("refresh-of-200@{h}")];
    assert!(
        reason.starts_with("replies still being fetched"),
        "{reason}"
    );
    assert!(
        !gaps.contains_key(&format!("refresh-of-100@{h}")),
        "a finished refresh leaves no gap"
    );
    let md = dir.path().join("md");
    ok(
        dir.path(),
        &["export", "markdown", "--out", md.to_str().unwrap()],
    );
    let mut all = String::new();
    let mut dirs = vec![md.clone()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else {
                all += &std::fs::read_to_string(&p).unwrap_or_default();
            }
        }
    }
    assert!(
        all.contains("replies still being fetched"),
        "the transcript shows the gap:\n{all}"
    );
}

#[test]
fn with_a_token_the_refresh_is_polled_and_the_caps_are_lifted() {
    let Some(t) = template() else { return };
    let s = server(t);
    let dir = tempfile::tempdir().unwrap();
    let o = collect(dir.path(), &s, &[], Some("tok-45"));
    let summary = stderr(&o);
    assert!(o.status.success(), "{summary}");
    let polls = |id: &str| s.lb.count(&format!("/api/v1_alpha/async_refreshes/{id}"));
    assert_eq!(polls("ctx100"), 1, "finished at the first poll");
    assert_eq!(
        polls("ctx200"),
        9,
        "three polls before each of three asks again"
    );
    let authed =
        s.lb.requests()
            .iter()
            .filter(|r| r.path().starts_with("/api/v1_alpha/"))
            .all(|r| r.header("authorization") == Some("Bearer tok-45"));
    assert!(authed);
    assert!(!summary.contains("tok-45"));
    // With the token the cap is 4,096: the 61 replies come whole, nothing is said of caps.
    let ts = threads(dir.path());
    let t300 = thread_of(&ts, &format!("300@{}", host(&s)));
    assert_eq!(t300["posts"], 62, "{t300}");
    assert!(!summary.contains("threads cut by the caps"), "{summary}");
}

#[test]
fn a_thread_cut_at_the_logged_out_cap_is_said_and_a_token_named() {
    let Some(t) = template() else { return };
    let s = server(t);
    let dir = tempfile::tempdir().unwrap();
    let o = collect(dir.path(), &s, &[], None);
    let summary = stderr(&o);
    assert!(o.status.success(), "{summary}");
    assert!(
        summary.contains("threads cut by the caps on logged-out clients (40 ancestors, 60 descendants, depth 20): 1, asked again from where they were cut; 1 could not be finished that way: a token for the server (MASTODON_TOKEN or --token-file) lifts the caps"),
        "{summary}"
    );
}

#[test]
fn quotes_are_edges_and_quotes_not_allowed_are_gaps_without_content() {
    let Some(t) = template() else { return };
    let s = server(t);
    let h = host(&s);
    let dir = tempfile::tempdir().unwrap();
    let o = collect(dir.path(), &s, &["--quotes"], None);
    let summary = stderr(&o);
    assert!(o.status.success(), "{summary}");
    // 400 is quoted twice, over two pages of its quotes; nothing else says it is quoted.
    assert_eq!(s.lb.count("/api/v1/statuses/400/quotes"), 2, "{summary}");
    assert_eq!(
        s.lb.requests()
            .iter()
            .filter(|r| r.path().ends_with("/quotes"))
            .count(),
        2
    );
    assert!(
        summary.contains("quotes (--quotes): 2 quoting posts found in 2 requests"),
        "{summary}"
    );
    let conn = Connection::open(dir.path().join("rethread.db")).unwrap();
    let quote_of = |id: &str| -> Option<String> {
        conn.query_row(
            "SELECT quote_of FROM posts WHERE id = ?1",
            [format!("{id}@{h}")],
            |r| r.get(0),
        )
        .unwrap()
    };
    assert_eq!(quote_of("401"), Some(format!("400@{h}")));
    assert_eq!(quote_of("402"), Some(format!("400@{h}")));
    assert_eq!(quote_of("500"), Some(format!("90@{h}")));
    let gaps = missing(dir.path());
    assert!(
        gaps[&format!("90@{h}")].starts_with("quote revoked: "),
        "{gaps:?}"
    );
    assert!(
        gaps[&format!("91@{h}")].starts_with("quote pending: "),
        "{gaps:?}"
    );
    assert!(
        summary.contains("quotes not shown 1: quote revoked"),
        "{summary}"
    );
    // The revoked quote's words are nowhere in the corpus, not even in the raw JSON.
    let bytes = std::fs::read(dir.path().join("rethread.db")).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains("SECRET words"));
    // With --quotes the quoting posts hang under the post they quote.
    let out = ok(dir.path(), &["threads", "--format", "json", "--quotes"]);
    let ts: Vec<Value> = serde_json::from_str(&out).unwrap();
    assert_eq!(thread_of(&ts, &format!("400@{h}"))["posts"], 3);
    // Without --quotes, nothing is asked about quotes.
    let plain = tempfile::tempdir().unwrap();
    let before = s.lb.count("/api/v1/statuses/400/quotes");
    assert!(collect(plain.path(), &s, &[], None).status.success());
    assert_eq!(s.lb.count("/api/v1/statuses/400/quotes"), before);
}
