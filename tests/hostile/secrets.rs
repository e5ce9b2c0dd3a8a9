//! Defect 2 of issue 11: a server (or a proxy) that echoes the request headers made the bearer
//! token appear on stderr, because both collectors quote the start of an error body. Here a
//! loopback server echoes every header it receives, in JSON and in HTML, raw and in the forms an
//! echo takes (JSON-escaped, percent-encoded, HTML character references, split across the
//! 200-character quote), on the statuses that are quoted (Mastodon 400/401/500, Twitter 401)
//! and on 200 pages that are stored; the token must appear nowhere: not on stdout, not on
//! stderr, not in any byte of the corpus or its write-ahead log.

use crate::common::loopback::{collect, Loopback, Request, Response};
use crate::common::stderr;
use serde_json::json;
use std::path::Path;
use std::process::Output;

/// Has `/`, `+`, `=` and an already percent-encoded `%2B`, as real Twitter bearer tokens do.
const TOKEN: &str = "rt-S3cr3tT0k3n/ab+cd%2Bef=QWERTY42";

/// Credentials of somebody else (a proxy's) that an echo may show beside ours.
const PROXY_AUTH: &str = "Basic cHJveHlVc2VyOnByb3h5UGFzcw==";
const UPSTREAM_BEARER: &str = "upstreamCredential9876";

/// The forms the token takes in an echo, and the parts of it that any form a person could
/// read would show.
fn forms() -> Vec<String> {
    vec![
        TOKEN.to_string(),
        percent(TOKEN),
        percent(&percent(TOKEN)),
        json_u(TOKEN),
        TOKEN.replace('/', "\\/"),
        html_refs(TOKEN),
        "S3cr3tT0k3n".to_string(),
        "QWERTY42".to_string(),
        PROXY_AUTH.to_string(),
        "cHJveHlVc2VyOnByb3h5UGFzcw".to_string(),
        UPSTREAM_BEARER.to_string(),
    ]
}

fn percent(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Every character as a JSON `\uXXXX` escape.
fn json_u(s: &str) -> String {
    s.chars().map(|c| format!("\\u{:04x}", c as u32)).collect()
}

/// Every character that is not a letter or digit as an HTML character reference.
fn html_refs(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_string()
            } else {
                format!("&#x{:x};", c as u32)
            }
        })
        .collect()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The headers of `r`, with a proxy's own credentials added, as a proxy that shows what it
/// forwards would.
fn echoed(r: &Request) -> String {
    format!(
        "{}Proxy-Authorization: {PROXY_AUTH}\nX-Upstream: Bearer {UPSTREAM_BEARER}\n",
        r.header_text()
    )
}

/// The ways an error body shows the headers it was sent. Each starts with the echo (only the
/// start of an error body is quoted).
fn error_bodies(r: &Request) -> Vec<(&'static str, String)> {
    let auth = r.header("authorization").unwrap_or("").to_string();
    let token = auth.strip_prefix("Bearer ").unwrap_or(&auth).to_string();
    let rows: String = echoed(r)
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| {
            format!(
                "<tr><th>{}</th><td>{}</td></tr>",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    // The token straddles the 200th character of the quote: 190 characters before it.
    let pad = "x".repeat(190);
    vec![
        (
            "application/json",
            json!({"error": "bad request", "headers": echoed(r)}).to_string(),
        ),
        (
            "application/json",
            json!({"authorization": auth, "proxy-authorization": PROXY_AUTH}).to_string(),
        ),
        (
            "text/html",
            format!("<html><body><h1>400</h1><table>{rows}</table></body></html>"),
        ),
        ("text/html", format!("<p>{}</p>", html_refs(&token))),
        (
            "application/json",
            format!(r#"{{"token":"{}"}}"#, json_u(&token)),
        ),
        (
            "application/json",
            format!(r#"{{"t":"{}"}}"#, token.replace('/', "\\/")),
        ),
        ("text/plain", format!("echo={}", percent(&token))),
        ("text/plain", format!("echo={}", percent(&percent(&token)))),
        ("text/plain", format!("{pad}{token} and more after it")),
    ]
}

/// Fail if any form of a secret is in `what`.
fn assert_clean(what: &str, hay: &[u8]) {
    let hay = String::from_utf8_lossy(hay);
    for f in forms() {
        assert!(!hay.contains(&f), "{f:?} appears in {what}:\n{hay:.3000}");
    }
}

/// Every file the collection left in `dir` (the corpus, its -wal and -shm if any).
fn assert_dir_clean(dir: &Path) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            assert_clean(&p.display().to_string(), &std::fs::read(&p).unwrap());
        }
    }
}

fn assert_output_clean(o: &Output) {
    assert_clean("stdout", &o.stdout);
    assert_clean("stderr", &o.stderr);
}

fn mastodon(dir: &Path, base: &str, extra: &[&str]) -> Output {
    let args: Vec<&str> = ["--tag", "echo"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    collect(dir, "mastodon", base, Some(TOKEN), &args)
}

fn twitter(dir: &Path, base: &str, extra: &[&str]) -> Output {
    let args: Vec<&str> = ["--query", "echo"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    collect(dir, "twitter", base, Some(TOKEN), &args)
}

/// Megalodon's server detection asks this first; it is told nothing.
fn not_found() -> Response {
    Response::json("404 Not Found", r#"{"error":"not found"}"#)
}

#[test]
fn mastodon_error_bodies_that_echo_the_headers_never_show_the_token() {
    let n = error_bodies(&Request {
        target: "/".into(),
        ..Request::default()
    })
    .len();
    for status in [
        "400 Bad Request",
        "401 Unauthorized",
        "500 Internal Server Error",
    ] {
        for form in 0..n {
            let server = Loopback::start(10, move |r| {
                if !r.path().starts_with("/api/") {
                    return not_found();
                }
                let (ct, body) = error_bodies(r).swap_remove(form);
                Response::new(status, ct, body)
            });
            let dir = tempfile::tempdir().unwrap();
            let o = mastodon(dir.path(), &server.base, &[]);
            let err = stderr(&o);
            assert!(!o.status.success(), "{status} form {form}: {err}");
            // The server did get the token, and the error is still reported with its status.
            assert!(
                server
                    .requests()
                    .iter()
                    .any(|r| r.header("authorization") == Some(&format!("Bearer {TOKEN}"))),
                "the token was sent"
            );
            let code = &status[..3];
            assert!(err.contains(&format!("HTTP {code}")), "{err}");
            assert_output_clean(&o);
            assert_dir_clean(dir.path());
            assert!(err.contains("[redacted]"), "form {form}: {err}");
        }
    }
}

#[test]
fn twitter_error_bodies_that_echo_the_headers_never_show_the_token() {
    let n = error_bodies(&Request {
        target: "/".into(),
        ..Request::default()
    })
    .len();
    for form in 0..n {
        let server = Loopback::start(10, move |r| {
            let (ct, body) = error_bodies(r).swap_remove(form);
            Response::new("401 Unauthorized", ct, body)
        });
        let dir = tempfile::tempdir().unwrap();
        let o = twitter(dir.path(), &server.base, &[]);
        let err = stderr(&o);
        assert!(!o.status.success(), "form {form}: {err}");
        assert!(err.contains("HTTP 401"), "{err}");
        assert!(
            err.contains("TWITTER_BEARER_TOKEN"),
            "the hint stays: {err}"
        );
        assert_output_clean(&o);
        assert_dir_clean(dir.path());
        assert!(err.contains("[redacted]"), "form {form}: {err}");
    }
}

/// Every form of our token at once, for a 200 page that is stored whole.
fn all_forms(r: &Request) -> String {
    let auth = r.header("authorization").unwrap_or("");
    let token = auth.strip_prefix("Bearer ").unwrap_or(auth);
    format!(
        "{auth} | {} | {} | {} | {} | {}",
        percent(token),
        percent(&percent(token)),
        html_refs(token),
        token.replace('/', "\\/"),
        json_u(token)
    )
}

#[test]
fn a_mastodon_page_that_echoes_the_token_is_stored_without_it() {
    let server = Loopback::start(20, |r| {
        if r.path() != "/api/v1/timelines/tag/echo" {
            return not_found();
        }
        if r.target.contains("max_id") {
            return Response::json("200 OK", "[]");
        }
        // The status's fields are JSON strings; `all_forms` is put in raw (already escaped).
        let echo = all_forms(r).replace('"', "\\\"");
        let body = format!(
            r#"[{{"id":"1","uri":"http://{host}/users/ana/statuses/1","url":"http://{host}/@ana/1",
                "created_at":"2024-05-01T10:00:00.000Z","visibility":"public","replies_count":0,
                "content":"<p>{echo}</p>","spoiler_text":"{echo}",
                "account":{{"id":"9","username":"ana","acct":"ana","display_name":"{echo}","note":""}}}}]"#,
            host = r.header("host").unwrap_or("")
        );
        // A Link that carries the token back (percent-encoded in its query).
        let next = format!(
            "<http://{}/api/v1/timelines/tag/echo?max_id=1&echo={}>; rel=\"next\"",
            r.header("host").unwrap_or(""),
            percent(TOKEN)
        );
        Response::json("200 OK", body).with_header("link", &next)
    });
    let dir = tempfile::tempdir().unwrap();
    let o = mastodon(dir.path(), &server.base, &["--no-context"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("1 matched"), "{}", stderr(&o));
    assert_output_clean(&o);
    assert_dir_clean(dir.path());
    let conn = rusqlite::Connection::open(dir.path().join("rethread.db")).unwrap();
    let (text, raw): (String, String) = conn
        .query_row("SELECT text, raw FROM posts", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(text.contains("[redacted]"), "{text}");
    let raw: serde_json::Value = serde_json::from_str(&raw).expect("still JSON");
    assert!(raw["content"].as_str().unwrap().contains("[redacted]"));
}

#[test]
fn a_twitter_page_that_echoes_the_token_is_stored_without_it() {
    let server = Loopback::start(20, |r| {
        let body = if r.target.contains("next_token") {
            json!({"meta": {"result_count": 0}})
        } else {
            json!({
                "data": [{"id": "20", "text": format!("echo {}", all_forms(r)), "author_id": "7",
                          "conversation_id": "20", "created_at": "2024-05-01T10:00:00.000Z"}],
                "includes": {"users": [{"id": "7", "username": "ana", "name": all_forms(r)}]},
                // A cursor that carries the token back.
                "meta": {"result_count": 1, "next_token": format!("n-{TOKEN}")}
            })
        };
        Response::json("200 OK", body.to_string())
    });
    let dir = tempfile::tempdir().unwrap();
    let o = twitter(dir.path(), &server.base, &["--no-conversations"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_output_clean(&o);
    assert_dir_clean(dir.path());
    let conn = rusqlite::Connection::open(dir.path().join("rethread.db")).unwrap();
    let pages: i64 = conn
        .query_row("SELECT count(*) FROM api_pages", [], |r| r.get(0))
        .unwrap();
    assert_eq!(pages, 2, "both pages kept");
    let page: String = conn
        .query_row(
            "SELECT body FROM api_pages ORDER BY rowid LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let page: serde_json::Value = serde_json::from_str(&page).expect("still JSON");
    assert!(page["data"][0]["text"]
        .as_str()
        .unwrap()
        .contains("[redacted]"));
}
