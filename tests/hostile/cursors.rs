//! Defect 4 of issue 11: a server that answers the same cursor again (the same
//! `Link: rel="next"` from Mastodon, the same `meta.next_token` from the Twitter/X API) was
//! asked again and again (42,673 requests in 40 s at `--pace 0`), and Mastodon counted the
//! same post as matched each time. Here loopback servers repeat a cursor (always the same one,
//! or a cycle of two), or send fresh cursors with nothing new: each collection must end by
//! itself after a few requests (counted on the server), exit 0 with the data it got, say in
//! its summary that it stopped paging and why, keep that in the corpus so that a resumed run
//! does not page again, and count every post once.

use crate::common::loopback::{collect, Loopback, Request, Response};
use crate::common::stderr;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Past this many requests the server stops answering: a collector that loops fails instead of
/// running forever (and the test fails on the count).
const MAX: usize = 40;

fn mastodon(dir: &Path, base: &str, extra: &[&str]) -> Output {
    collect(dir, "mastodon", base, None, extra)
}

fn twitter(dir: &Path, base: &str, extra: &[&str]) -> Output {
    let args: Vec<&str> = ["--query", "loop"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    collect(dir, "twitter", base, Some("cursor-test-token"), &args)
}

fn status(host: &str, id: u64) -> Value {
    json!({
        "id": id.to_string(),
        "uri": format!("http://{host}/users/ana/statuses/{id}"),
        "url": format!("http://{host}/@ana/{id}"),
        "created_at": "2024-05-01T10:00:00.000Z",
        "visibility": "public",
        "replies_count": 0,
        "content": format!("<p>#loop post {id}</p>"),
        "account": {"id": "9", "username": "ana", "acct": "ana", "note": ""}
    })
}

fn tweet(id: u64) -> Value {
    json!({"id": id.to_string(), "text": format!("loop {id}"), "author_id": "7",
           "conversation_id": id.to_string(), "created_at": "2024-05-01T10:00:00.000Z"})
}

fn host(r: &Request) -> String {
    r.header("host").unwrap_or("").to_string()
}

fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("rethread.db")).unwrap()
}

fn count(dir: &Path, sql: &str) -> i64 {
    db(dir).query_row(sql, [], |r| r.get(0)).unwrap()
}

/// The job's saved counters.
fn saved(dir: &Path) -> Value {
    let c: String = db(dir)
        .query_row("SELECT counters FROM collect_jobs", [], |r| r.get(0))
        .unwrap();
    serde_json::from_str(&c).unwrap()
}

/// Make the job look unfinished, as after a run that stopped early, so that the next run
/// resumes it instead of starting over.
fn unfinish(dir: &Path) {
    db(dir)
        .execute("UPDATE collect_jobs SET finished_at = NULL", [])
        .unwrap();
}

fn not_found() -> Response {
    Response::json("404 Not Found", r#"{"error":"not found"}"#)
}

#[test]
fn a_mastodon_timeline_that_repeats_its_link_stops_and_counts_each_post_once() {
    let server = Loopback::start(MAX, |r| {
        if r.path() != "/api/v1/timelines/tag/loop" {
            return not_found();
        }
        // Always the same two posts and the same next page.
        let h = host(r);
        let body = json!([status(&h, 2), status(&h, 1)]).to_string();
        let link = format!("<http://{h}/api/v1/timelines/tag/loop?max_id=1>; rel=\"next\"");
        Response::json("200 OK", body).with_header("link", &link)
    });
    let dir = tempfile::tempdir().unwrap();
    let o = mastodon(dir.path(), &server.base, &["--tag", "loop", "--no-context"]);
    let err = stderr(&o);
    let asked = server.count("/api/v1/timelines/tag/loop");
    assert!(asked <= 3, "{asked} timeline requests:\n{err}");
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "stopped paging {}/api/v1/timelines/tag/loop?max_id=1",
            server.base
        )),
        "{err}"
    );
    assert!(err.contains("the server repeated a cursor"), "{err}");
    assert!(err.contains(" 2 matched"), "two distinct posts:\n{err}");
    assert_eq!(count(dir.path(), "SELECT count(*) FROM posts"), 2);
    let c = saved(dir.path());
    assert_eq!(c["matched"], 2, "{c}");
    assert!(
        c["warnings"].to_string().contains("repeated a cursor"),
        "kept in the corpus: {c}"
    );

    // A resumed run does not page again: the timeline is done, and the summary still says why.
    unfinish(dir.path());
    let o = mastodon(dir.path(), &server.base, &["--tag", "loop", "--no-context"]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("resumed"), "{err}");
    assert_eq!(server.count("/api/v1/timelines/tag/loop"), asked, "{err}");
    assert!(err.contains("the server repeated a cursor"), "{err}");
    assert!(err.contains(" 2 matched"), "{err}");
}

#[test]
fn a_mastodon_timeline_whose_links_cycle_stops_at_the_first_cursor_seen_before() {
    // Fresh posts on every page, so that only the cursors tell the loop: max_id 5 → 6 → 5 …
    let next_id = Arc::new(AtomicU64::new(100));
    let server = Loopback::start(MAX, move |r| {
        if r.path() != "/api/v1/timelines/tag/loop" {
            return not_found();
        }
        let h = host(r);
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let to = if r.target.contains("max_id=5") { 6 } else { 5 };
        let link = format!("<http://{h}/api/v1/timelines/tag/loop?max_id={to}>; rel=\"next\"");
        Response::json("200 OK", json!([status(&h, id)]).to_string()).with_header("link", &link)
    });
    let dir = tempfile::tempdir().unwrap();
    let o = mastodon(dir.path(), &server.base, &["--tag", "loop", "--no-context"]);
    let err = stderr(&o);
    let asked = server.count("/api/v1/timelines/tag/loop");
    assert_eq!(
        asked, 3,
        "first page, max_id=5, max_id=6, then 5 again is not asked:\n{err}"
    );
    assert!(o.status.success(), "{err}");
    assert!(err.contains("the server repeated a cursor"), "{err}");
    assert!(err.contains(" 3 matched"), "{err}");
}

#[test]
fn a_mastodon_timeline_with_fresh_links_and_nothing_new_stops() {
    let n = Arc::new(AtomicU64::new(1));
    let server = Loopback::start(MAX, move |r| {
        if r.path() != "/api/v1/timelines/tag/loop" {
            return not_found();
        }
        let h = host(r);
        let to = n.fetch_add(1, Ordering::Relaxed);
        let link = format!("<http://{h}/api/v1/timelines/tag/loop?max_id={to}>; rel=\"next\"");
        Response::json("200 OK", json!([status(&h, 2), status(&h, 1)]).to_string())
            .with_header("link", &link)
    });
    let dir = tempfile::tempdir().unwrap();
    let o = mastodon(dir.path(), &server.base, &["--tag", "loop", "--no-context"]);
    let err = stderr(&o);
    let asked = server.count("/api/v1/timelines/tag/loop");
    assert!(asked <= 3, "{asked} requests:\n{err}");
    assert!(o.status.success(), "{err}");
    assert!(err.contains("the page brought nothing new"), "{err}");
    assert!(err.contains(" 2 matched"), "{err}");
}

#[test]
fn a_mastodon_search_that_ignores_its_offset_stops() {
    let server = Loopback::start(MAX, |r| {
        if r.path() != "/api/v2/search" {
            return not_found();
        }
        let h = host(r);
        let body =
            json!({"accounts": [], "hashtags": [], "statuses": [status(&h, 2), status(&h, 1)]});
        Response::json("200 OK", body.to_string())
    });
    let dir = tempfile::tempdir().unwrap();
    let o = mastodon(
        dir.path(),
        &server.base,
        &["--search", "loop", "--no-context"],
    );
    let err = stderr(&o);
    let asked = server.count("/api/v2/search");
    assert!(asked <= 3, "{asked} requests:\n{err}");
    assert!(o.status.success(), "{err}");
    assert!(err.contains("stopped paging"), "{err}");
    assert!(err.contains(" 2 matched"), "{err}");
}

#[test]
fn a_twitter_search_that_repeats_its_next_token_stops() {
    // Fresh tweets on every page: only the token tells the loop.
    let next_id = Arc::new(AtomicU64::new(1000));
    let server = Loopback::start(MAX, move |_r| {
        let id = next_id.fetch_add(1, Ordering::Relaxed);
        let page = json!({"data": [tweet(id)], "meta": {"result_count": 1, "next_token": "same"}});
        Response::json("200 OK", page.to_string())
    });
    let dir = tempfile::tempdir().unwrap();
    let o = twitter(dir.path(), &server.base, &["--no-conversations"]);
    let err = stderr(&o);
    let asked = server.count("/2/tweets/search/recent");
    assert!(asked <= 3, "{asked} requests:\n{err}");
    assert!(o.status.success(), "{err}");
    assert!(err.contains("stopped paging"), "{err}");
    assert!(err.contains("the server repeated a cursor"), "{err}");
    let tweets = count(dir.path(), "SELECT count(*) FROM posts");
    assert!(err.contains(&format!(" {tweets} matched")), "{err}");
    assert!(saved(dir.path())["warnings"]
        .to_string()
        .contains("repeated a cursor"));
    unfinish(dir.path());
    let o = twitter(dir.path(), &server.base, &["--no-conversations"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        server.count("/2/tweets/search/recent"),
        asked,
        "not asked again"
    );
}

#[test]
fn twitter_pages_with_fresh_tokens_and_the_same_tweets_stop_and_count_once() {
    let n = Arc::new(AtomicU64::new(0));
    let server = Loopback::start(MAX, move |_r| {
        let t = n.fetch_add(1, Ordering::Relaxed);
        let page = json!({"data": [tweet(2), tweet(1)],
                          "meta": {"result_count": 2, "next_token": format!("t{t}")}});
        Response::json("200 OK", page.to_string())
    });
    let dir = tempfile::tempdir().unwrap();
    let o = twitter(dir.path(), &server.base, &["--no-conversations"]);
    let err = stderr(&o);
    assert!(server.count("/2/tweets/search/recent") <= 3, "{err}");
    assert!(o.status.success(), "{err}");
    assert!(err.contains("the page brought nothing new"), "{err}");
    assert!(err.contains(" 2 matched"), "{err}");
    assert_eq!(saved(dir.path())["matched"], 2);
}

#[test]
fn twitter_empty_pages_with_fresh_tokens_stop_after_a_bound() {
    let n = Arc::new(AtomicU64::new(0));
    let server = Loopback::start(MAX, move |_r| {
        let t = n.fetch_add(1, Ordering::Relaxed);
        let page = json!({"meta": {"result_count": 0, "next_token": format!("e{t}")}});
        Response::json("200 OK", page.to_string())
    });
    let dir = tempfile::tempdir().unwrap();
    let o = twitter(dir.path(), &server.base, &["--no-conversations"]);
    let err = stderr(&o);
    let asked = server.count("/2/tweets/search/recent");
    assert!(asked < MAX, "{asked} requests:\n{err}");
    assert!(o.status.success(), "{err}");
    assert!(err.contains("stopped paging"), "{err}");
}

#[test]
fn a_twitter_conversation_that_repeats_its_next_token_stops() {
    let server = Loopback::start(MAX, |r| {
        let url = url::Url::parse(&format!("http://x{}", r.target)).unwrap();
        let query = url
            .query_pairs()
            .find(|(k, _)| k == "query")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        let page = if query.starts_with("conversation_id:") {
            // The conversation: its root and a reply, and the same token forever.
            let mut reply = tweet(31);
            reply["conversation_id"] = json!("30");
            reply["referenced_tweets"] = json!([{"type": "replied_to", "id": "30"}]);
            json!({"data": [reply, tweet(30)], "meta": {"result_count": 2, "next_token": "again"}})
        } else {
            json!({"data": [tweet(30)], "meta": {"result_count": 1}})
        };
        Response::json("200 OK", page.to_string())
    });
    let dir = tempfile::tempdir().unwrap();
    let o = twitter(dir.path(), &server.base, &[]);
    let err = stderr(&o);
    let asked = server.count("/2/tweets/search/recent");
    assert!(
        asked <= 4,
        "one search page and at most 3 of the conversation: {asked}\n{err}"
    );
    assert!(o.status.success(), "{err}");
    assert!(err.contains("stopped paging"), "{err}");
    assert!(err.contains(" 1 matched"), "{err}");
    assert_eq!(count(dir.path(), "SELECT count(*) FROM posts"), 2);
}
