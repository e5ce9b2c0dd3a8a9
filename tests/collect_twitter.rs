//! `rethread collect twitter` against a loopback server that serves the real recorded API
//! pages of `../shared/data/twitter_v2/academictwitteR` (see `tests/common/xapi.rs`).

mod common;
#[path = "common/xapi.rs"]
mod xapi;

use common::{ok, shared_data, stderr, wait_until_asked};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;
use xapi::{Fault, XApi};

const TOKEN: &str = "test-bearer-token-not-a-real-one";

fn recordings(test: &str) -> Option<PathBuf> {
    shared_data(test).map(|d| d.join("twitter_v2/academictwitteR"))
}

fn collect(dir: &Path, api: &XApi, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rethread"))
        .args([
            "collect",
            "twitter",
            "--api-base",
            &api.base,
            "--pace",
            "0",
            "--backoff",
            "100",
        ])
        .args(extra)
        .env("TWITTER_BEARER_TOKEN", TOKEN)
        .env_remove("X_BEARER_TOKEN")
        .current_dir(dir)
        .output()
        .unwrap()
}

fn collect_ok(dir: &Path, api: &XApi, extra: &[&str]) -> String {
    let o = collect(dir, api, extra);
    assert!(o.status.success(), "collect failed:\n{}", stderr(&o));
    stderr(&o)
}

/// Every post as a row of its content columns (not where it was read from). The raw JSON is
/// compared as JSON: the test server re-serializes the recorded pages it serves.
fn posts(db: &Path) -> Vec<(Vec<Option<String>>, Option<serde_json::Value>)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT id, uri, url, author_id, author_handle, author_name, created_at, text, reply_to,
                    reply_to_author, conversation_id, quote_of, repost_of, language, hashtags,
                    mentions, media_alt, raw
             FROM posts ORDER BY platform, id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            let cols = (0..17)
                .map(|i| r.get::<_, Option<String>>(i))
                .collect::<Result<Vec<_>, _>>()?;
            let raw: Option<String> = r.get(17)?;
            Ok((cols, raw.map(|j| serde_json::from_str(&j).unwrap())))
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn assert_same_posts(a: &Path, b: &Path, what: &str) {
    let (a, b) = (posts(a), posts(b));
    assert_eq!(a.len(), b.len(), "{what}: post counts differ");
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y, "{what}: post {:?} differs", x.0[0]);
    }
}

#[test]
fn collected_pages_give_the_same_corpus_as_importing_them() {
    let Some(dir) = recordings("collected_pages_give_the_same_corpus_as_importing_them") else {
        return;
    };
    for (file, query) in [
        ("kfc_to.jsonl", "(to:kfc)"),
        ("commtwitter.jsonl", "#commtwitter"),
    ] {
        let api = XApi::start(&dir, &[file]);
        let work = tempfile::tempdir().unwrap();
        let s = collect_ok(
            work.path(),
            &api,
            &["--query", query, "--archive", "--no-conversations"],
        );
        ok(
            work.path(),
            &[
                "import",
                dir.join(file).to_str().unwrap(),
                "--db",
                "imported.db",
            ],
        );
        assert!(!posts(&work.path().join("rethread.db")).is_empty());
        assert_same_posts(
            &work.path().join("rethread.db"),
            &work.path().join("imported.db"),
            file,
        );
        // Full-archive search: one page a second, and the token on every request.
        let log = api.log();
        let pages = std::fs::read_to_string(dir.join(file))
            .unwrap()
            .lines()
            .count();
        assert_eq!(
            log.len(),
            pages,
            "{file}: one request per recorded page\n{s}"
        );
        for pair in log.windows(2) {
            assert!(
                pair[1].at - pair[0].at >= Duration::from_millis(950),
                "full-archive pages less than a second apart"
            );
        }
        assert!(log
            .iter()
            .all(|l| l.authorization.as_deref() == Some(&format!("Bearer {TOKEN}"))));
        assert!(log[0].target.starts_with("/2/tweets/search/all?query="));
        let raw = std::fs::read(work.path().join("rethread.db")).unwrap();
        assert!(!String::from_utf8_lossy(&raw).contains(TOKEN));
        // Every page is kept as received.
        let kept: i64 = Connection::open(work.path().join("rethread.db"))
            .unwrap()
            .query_row("SELECT count(*) FROM api_pages", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kept as usize, pages);
    }
}

#[test]
fn conversations_are_searched_and_roots_and_parents_looked_up() {
    let Some(dir) = recordings("conversations_are_searched_and_roots_and_parents_looked_up") else {
        return;
    };
    let api = XApi::start(&dir, &["commtwitter.jsonl"]);
    let work = tempfile::tempdir().unwrap();
    let s = collect_ok(work.path(), &api, &["--query", "#commtwitter"]);
    let log = api.log();
    let conv_searches = log
        .iter()
        .filter(|l| l.target.contains("query=conversation_id%3A"))
        .count();
    let lookups: Vec<&str> = log
        .iter()
        .filter(|l| l.target.starts_with("/2/tweets?ids="))
        .map(|l| l.target.as_str())
        .collect();
    assert!(log[0].target.starts_with("/2/tweets/search/recent?"));
    let conn = Connection::open(work.path().join("rethread.db")).unwrap();
    let conversations: i64 = conn
        .query_row(
            "SELECT count(DISTINCT local_id) FROM collect_frontier WHERE state = 'asked'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(conversations, 189, "{s}");
    assert_eq!(conv_searches, 189, "one search per conversation");
    assert!(!lookups.is_empty(), "roots and parents are looked up");
    // What the API could not give is a gap with the API's own reason.
    let reasons: Vec<String> = conn
        .prepare("SELECT DISTINCT reason FROM missing WHERE platform = 'twitter'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("Not Found Error: Could not find tweet")),
        "{reasons:?}"
    );
    // No tweet a conversation needs is left unexplained.
    let unexplained: i64 = conn
        .query_row(
            "SELECT count(*) FROM posts p WHERE p.platform = 'twitter' AND p.reply_to IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM posts q WHERE q.platform = 'twitter' AND q.id = p.reply_to)
               AND NOT EXISTS (SELECT 1 FROM missing m WHERE m.platform = 'twitter' AND m.id = p.reply_to)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unexplained, 0);
    assert!(s.contains("conversations: 189"), "{s}");
    // Every tweet of the recordings' conversations is in the corpus.
    let stored: i64 = conn
        .query_row("SELECT count(*) FROM posts", [], |r| r.get(0))
        .unwrap();
    assert!(stored >= 192, "{stored}");
}

#[test]
fn rate_limits_and_server_errors_are_waited_out_and_nothing_is_lost() {
    let Some(dir) = recordings("rate_limits_and_server_errors_are_waited_out_and_nothing_is_lost")
    else {
        return;
    };
    let api = XApi::start(&dir, &["kfc_to.jsonl"]);
    api.queue(Fault::RateLimited { reset_in: 1 });
    api.queue(Fault::Unavailable);
    let work = tempfile::tempdir().unwrap();
    let s = collect_ok(
        work.path(),
        &api,
        &["--query", "(to:kfc)", "--no-conversations"],
    );
    assert!(s.contains("1 rate-limited"), "{s}");
    assert!(s.contains("1 retried"), "{s}");
    ok(
        work.path(),
        &[
            "import",
            dir.join("kfc_to.jsonl").to_str().unwrap(),
            "--db",
            "imported.db",
        ],
    );
    assert_same_posts(
        &work.path().join("rethread.db"),
        &work.path().join("imported.db"),
        "kfc_to.jsonl",
    );
    // The 429 was waited out until its reset (about a second), not retried at once.
    let log = api.log();
    assert!(log[1].at - log[0].at >= Duration::from_millis(900));
}

/// `collect twitter --query x` plus `extra`, with `token` as the bearer token (none: unset),
/// against an address where no server listens: for what must fail before any request.
fn collect_unreachable(extra: &[&str], token: Option<&str>) -> (tempfile::TempDir, Output) {
    let work = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rethread"));
    cmd.args([
        "collect",
        "twitter",
        "--query",
        "x",
        "--api-base",
        "http://127.0.0.1:9",
    ])
    .args(extra)
    .env_remove("TWITTER_BEARER_TOKEN")
    .env_remove("X_BEARER_TOKEN")
    .current_dir(work.path());
    if let Some(token) = token {
        cmd.env("TWITTER_BEARER_TOKEN", token);
    }
    let o = cmd.output().unwrap();
    (work, o)
}

#[test]
fn a_missing_token_is_a_clear_error() {
    let (_work, o) = collect_unreachable(&[], None);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("TWITTER_BEARER_TOKEN"),
        "{}",
        stderr(&o)
    );
}

/// A window that ends before it starts is refused before any request, as Mastodon's is: the
/// API would only answer an error page, or nothing at all.
#[test]
fn an_empty_date_window_is_refused_before_asking() {
    let window = ["--since", "2024-02-01", "--until", "2024-01-31"];
    let (work, o) = collect_unreachable(&window, Some(TOKEN));
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--since is not before --until"),
        "{}",
        stderr(&o)
    );
    assert!(
        !work.path().join("rethread.db").exists(),
        "nothing was started"
    );
}

#[test]
fn export_twarc2_writes_what_the_importer_reads_back() {
    let Some(dir) = recordings("export_twarc2_writes_what_the_importer_reads_back") else {
        return;
    };
    let api = XApi::start(&dir, &["commtwitter.jsonl"]);
    let work = tempfile::tempdir().unwrap();
    collect_ok(work.path(), &api, &["--query", "#commtwitter"]);
    // Also a tweet from another format, and the missing-tweet notes.
    let twcs = dir.join("../../twcs/naman-tiwari_sample.csv");
    ok(work.path(), &["import", twcs.to_str().unwrap()]);
    ok(work.path(), &["export", "twarc2", "--out", "out.jsonl"]);
    ok(work.path(), &["import", "out.jsonl", "--db", "back.db"]);
    let conn = Connection::open(work.path().join("rethread.db")).unwrap();
    let back = Connection::open(work.path().join("back.db")).unwrap();
    // The same posts, field by field (the TWCS raw rows become v2 tweets, so raw is left out).
    let rows = |c: &Connection| -> Vec<Vec<Option<String>>> {
        let mut stmt = c
            .prepare(
                "SELECT id, author_id, author_handle, created_at, text, reply_to, conversation_id,
                        quote_of, repost_of, language
                 FROM posts ORDER BY id",
            )
            .unwrap();
        let rows = stmt
            .query_map([], |r| {
                (0..10).map(|i| r.get(i)).collect::<Result<Vec<_>, _>>()
            })
            .unwrap();
        rows.map(Result::unwrap).collect()
    };
    let (a, b) = (rows(&conn), rows(&back));
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x, y);
    }
    let missing = |c: &Connection| -> Vec<(String, String)> {
        let mut stmt = c
            .prepare("SELECT id, reason FROM missing WHERE platform = 'twitter' ORDER BY id")
            .unwrap();
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
        rows.map(Result::unwrap).collect()
    };
    assert!(!missing(&conn).is_empty());
    assert_eq!(missing(&conn), missing(&back));
    // Pages fetched from the API are written as received.
    let text = std::fs::read_to_string(work.path().join("out.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert!(first.get("__rethread").is_none());
    assert!(text
        .lines()
        .any(|l| l.contains("\"__rethread\":{\"assembled\":true}")));
}

#[test]
fn a_killed_collection_resumes_and_a_silent_id_is_marked_not_returned() {
    let Some(dir) =
        recordings("a_killed_collection_resumes_and_a_silent_id_is_marked_not_returned")
    else {
        return;
    };
    // The reference: one uninterrupted run.
    let api = XApi::start(&dir, &["kfc_to.jsonl"]);
    let whole = tempfile::tempdir().unwrap();
    collect_ok(whole.path(), &api, &["--query", "(to:kfc)"]);
    let conn = Connection::open(whole.path().join("rethread.db")).unwrap();
    let silent: String = conn
        .query_row(
            "SELECT id FROM missing WHERE platform = 'twitter' ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();

    // The same, killed in the middle of the conversations and run again.
    let api = XApi::start(&dir, &["kfc_to.jsonl"]);
    api.silence(&silent);
    api.set_delay(Duration::from_millis(20));
    let work = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rethread"))
        .args([
            "collect",
            "twitter",
            "--api-base",
            &api.base,
            "--pace",
            "0",
            "--query",
            "(to:kfc)",
        ])
        .env("TWITTER_BEARER_TOKEN", TOKEN)
        .current_dir(work.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until_asked(&work.path().join("rethread.db"), 20);
    child.kill().unwrap();
    child.wait().unwrap();
    api.set_delay(Duration::ZERO);
    let s = collect_ok(work.path(), &api, &["--query", "(to:kfc)"]);
    assert!(s.contains("resumed"), "{s}");
    let db = work.path().join("rethread.db");
    assert_same_posts(&db, &whole.path().join("rethread.db"), "resumed run");
    let reason: String = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT reason FROM missing WHERE platform = 'twitter' AND id = ?1",
            [&silent],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(reason, "not returned by the API");
}

#[test]
fn max_posts_asks_for_small_pages_and_stops() {
    let Some(dir) = recordings("max_posts_asks_for_small_pages_and_stops") else {
        return;
    };
    let api = XApi::start(&dir, &["commtwitter.jsonl"]);
    let work = tempfile::tempdir().unwrap();
    collect_ok(
        work.path(),
        &api,
        &[
            "--query",
            "#commtwitter",
            "--max-posts",
            "5",
            "--no-conversations",
        ],
    );
    let log = api.log();
    assert_eq!(log.len(), 1, "one page was enough: {log:?}");
    assert!(
        log[0].target.contains("max_results=10&"),
        "{}",
        log[0].target
    );
    let work = tempfile::tempdir().unwrap();
    collect_ok(
        work.path(),
        &api,
        &["--query", "#commtwitter", "--no-conversations"],
    );
    assert!(api.log()[1].target.contains("max_results=100&"));
}
