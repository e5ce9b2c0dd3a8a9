//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

pub mod loopback;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `../shared/data` beside the checkout, or `None` (with a message saying the test is skipped).
pub fn shared_data(test: &str) -> Option<PathBuf> {
    shared("data", test)
}

/// `../shared/<sub>` beside the checkout, or `None` with a skip message.
pub fn shared(sub: &str, test: &str) -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("shared")
        .join(sub);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping {test}: ../shared/{sub} not found beside the checkout");
        None
    }
}

pub fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(rel)
}

/// Run the rethread binary in `dir`.
pub fn rethread(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rethread"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run rethread")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run and insist on success, returning stdout.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let o = rethread(dir, args);
    assert!(
        o.status.success(),
        "rethread {args:?} failed:\n{}",
        stderr(&o)
    );
    stdout(&o)
}

/// Wait (up to a minute) until a collection running in another process has asked for at least
/// `n` contexts or conversations, reading its corpus at `db` as it goes.
pub fn wait_until_asked(db: &Path, n: i64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let asked: i64 = rusqlite::Connection::open(db)
            .and_then(|c| {
                c.query_row(
                    "SELECT count(*) FROM collect_frontier WHERE state = 'asked'",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap_or(0);
        if asked >= n {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never got going"
        );
    }
}

/// One public Mastodon status as the API gives it (a line of a `--input` JSONL file): post `id`
/// by `user`, replying to `reply_to`, with `html` as its content, a second apart by id.
pub fn status(id: u32, reply_to: Option<u32>, user: &str, html: &str) -> String {
    serde_json::json!({
        "id": id.to_string(),
        "created_at": format!("2024-01-01T00:00:{:02}.000Z", id),
        "in_reply_to_id": reply_to.map(|r| r.to_string()),
        "content": html,
        "visibility": "public",
        "uri": format!("https://h.example/users/{user}/statuses/{id}"),
        "account": {"id": user, "username": user, "acct": user, "url": format!("https://h.example/@{user}")}
    })
    .to_string()
}
