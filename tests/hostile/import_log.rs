//! The import log (issue 11, smaller points): a failed or killed import leaves its row in
//! `imports`, saying it did not finish, with what it stored. Before the fix a row was written
//! only after the whole file had been read, so a failed or killed import left no trace of itself.

use crate::common::{ok, rethread, stderr};
use rusqlite::Connection;
use std::path::Path;

/// (state, error, finished_at, inserted) of every import, in order.
fn imports(db: &Path) -> Vec<(String, Option<String>, Option<String>, i64)> {
    let conn = Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT state, error, finished_at, inserted FROM imports ORDER BY rowid")
        .unwrap();
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn posts(db: &Path) -> i64 {
    Connection::open(db)
        .unwrap()
        .query_row("SELECT count(*) FROM posts", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn a_failed_import_is_logged_as_failed_with_its_error_and_what_it_kept() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = d.join("good.jsonl");
    crate::concurrent::statuses(&good, 1, 4);
    let text = std::fs::read_to_string(&good).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[2] = "{\"id\": \"3\", \"content\": ";
    let bad = d.join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let o = rethread(d, &["import", bad.to_str().unwrap()]);
    assert!(!o.status.success());
    let db = d.join("rethread.db");
    let log = imports(&db);
    assert_eq!(log.len(), 1, "{log:?}");
    let (state, error, finished, inserted) = &log[0];
    assert_eq!(state, "failed");
    let error = error.as_deref().unwrap_or_default();
    assert!(
        error.contains(&format!("{}:3:", bad.display())),
        "the error names file and line: {error:?} (stderr: {})",
        stderr(&o)
    );
    assert!(finished.is_some());
    assert_eq!(
        (*inserted, posts(&db)),
        (2, 2),
        "the posts before it are kept and counted"
    );

    // The same file with --skip-bad is logged as done, beside the failed run.
    ok(d, &["import", bad.to_str().unwrap(), "--skip-bad"]);
    let log = imports(&db);
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(
        (log[1].0.as_str(), log[1].1.as_deref(), log[1].3),
        ("done", None, 1)
    );
}

#[test]
fn a_killed_import_is_logged_as_not_finished_with_what_it_committed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("big.jsonl");
    crate::concurrent::statuses(&file, 1, 200_000);
    let db = d.join("rethread.db");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rethread"))
        .args(["import", file.to_str().unwrap()])
        .current_dir(d)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it (SIGKILL: no chance to clean up) once a first batch is committed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let stored = Connection::open(&db)
            .and_then(|c| c.query_row("SELECT count(*) FROM posts", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0);
        if stored > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the import never got going"
        );
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed before it finished");
    let log = imports(&db);
    assert_eq!(log.len(), 1, "{log:?}");
    let (state, error, finished, inserted) = &log[0];
    assert_eq!((state.as_str(), error, finished), ("running", &None, &None));
    let stored = posts(&db);
    assert!(stored > 0 && stored < 200_000, "{stored}");
    assert_eq!(
        *inserted, stored,
        "the row counts what the committed batches stored"
    );
}
