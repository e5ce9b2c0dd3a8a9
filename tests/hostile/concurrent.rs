//! Concurrent writers (issue 11, defect 11): two imports into one corpus, or an import beside a
//! running collection, both finish with every post stored. Before the fix one of them failed
//! with "database is locked" within half a second: a transaction begun as a reader cannot wait
//! to become the writer, so SQLite gave up at once whatever the busy timeout.

#[path = "../common/xapi.rs"]
mod xapi;

use crate::common::{rethread, stderr, wait_until_asked};
use rusqlite::Connection;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use xapi::XApi;

/// A Mastodon JSONL file of `n` statuses with ids `first..first + n`, each replying to the one
/// before it in tens (threads of ten), so that importing it takes a while.
pub fn statuses(path: &Path, first: u64, n: u64) {
    let mut text = String::with_capacity(n as usize * 400);
    for id in first..first + n {
        let parent = (id % 10 != 0).then(|| (id - 1).to_string());
        text.push_str(
            &serde_json::json!({
                "id": id.to_string(),
                "created_at": "2024-01-01T00:00:00.000Z",
                "in_reply_to_id": parent,
                "content": format!("<p>post {id}, written to take some room in the corpus</p>"),
                "visibility": "public",
                "uri": format!("https://h.example/users/a/statuses/{id}"),
                "account": {"id": "1", "username": "a", "acct": "a", "url": "https://h.example/@a"}
            })
            .to_string(),
        );
        text.push('\n');
    }
    std::fs::write(path, text).unwrap();
}

fn count(db: &Path, sql: &str) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

fn import(dir: &Path, file: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_rethread"))
        .args(["import", file.to_str().unwrap(), "--db", "same.db"])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn two_imports_into_one_corpus_both_finish_with_every_post() {
    const N: u64 = 20_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (a, b) = (d.join("a.jsonl"), d.join("b.jsonl"));
    statuses(&a, 1_000_000, N);
    statuses(&b, 2_000_000, N);
    // Several rounds, each into a new corpus, to make the race likely: the first round creates
    // the corpus from two processes at once, and every round writes from two.
    for round in 0..3 {
        let _ = std::fs::remove_file(d.join("same.db"));
        let (pa, pb) = (import(d, &a), import(d, &b));
        for (name, p) in [("a", pa), ("b", pb)] {
            let o = p.wait_with_output().unwrap();
            assert!(
                o.status.success(),
                "round {round}: import of {name} failed:\n{}",
                stderr(&o)
            );
        }
        let db = d.join("same.db");
        assert_eq!(
            count(&db, "SELECT count(*) FROM posts"),
            2 * N as i64,
            "round {round}: every post of both files is stored"
        );
        assert_eq!(
            count(&db, "SELECT count(*) FROM imports"),
            2,
            "round {round}: both imports are logged"
        );
    }
}

fn recordings() -> Option<PathBuf> {
    crate::common::shared_data("an_import_beside_a_running_collection_both_finish")
        .map(|d| d.join("twitter_v2/academictwitteR"))
}

fn collect(dir: &Path, api: &XApi) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rethread"));
    c.args([
        "collect",
        "twitter",
        "--api-base",
        &api.base,
        "--pace",
        "0",
        "--query",
        "(to:kfc)",
        "--db",
        "same.db",
    ])
    .env("TWITTER_BEARER_TOKEN", "test-bearer-token-not-a-real-one")
    .env_remove("X_BEARER_TOKEN")
    .current_dir(dir);
    c
}

#[test]
fn an_import_beside_a_running_collection_both_finish() {
    let Some(rec) = recordings() else {
        return;
    };
    // What the collection stores when it runs alone.
    let alone = tempfile::tempdir().unwrap();
    let api = XApi::start(&rec, &["kfc_to.jsonl"]);
    let o = collect(alone.path(), &api).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let tweets = count(
        &alone.path().join("same.db"),
        "SELECT count(*) FROM posts WHERE platform = 'twitter'",
    );
    assert!(tweets > 0);

    // The same collection, slowed down so that it writes page after page (each in its own short
    // transaction) while a large import writes into the same corpus.
    const N: u64 = 30_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("statuses.jsonl");
    statuses(&file, 1_000_000, N);
    let api = XApi::start(&rec, &["kfc_to.jsonl"]);
    api.set_delay(Duration::from_millis(40));
    let collection = collect(d, &api)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let db = d.join("same.db");
    wait_until_asked(&db, 5);
    let o = rethread(d, &["import", file.to_str().unwrap(), "--db", "same.db"]);
    assert!(o.status.success(), "import failed:\n{}", stderr(&o));
    api.set_delay(Duration::ZERO);
    let c = collection.wait_with_output().unwrap();
    assert!(c.status.success(), "collection failed:\n{}", stderr(&c));
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM posts WHERE platform = 'mastodon'"
        ),
        N as i64,
        "every imported post is stored"
    );
    assert_eq!(
        count(&db, "SELECT count(*) FROM posts WHERE platform = 'twitter'"),
        tweets,
        "every collected post is stored"
    );
}
