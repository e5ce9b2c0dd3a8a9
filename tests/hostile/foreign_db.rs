//! `--db` naming another program's SQLite file (issue 11, smaller points): every command that
//! opens a corpus refuses it, names it and its tables, and leaves it exactly as it was. Before
//! the fix rethread added its own tables to it (and switched it to WAL) without a word.

use crate::common::{ok, rethread, stderr};
use std::path::Path;

fn foreign(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT);
         CREATE TABLE people (name TEXT);
         INSERT INTO notes (body) VALUES ('keep me');",
    )
    .unwrap();
}

#[test]
fn a_database_of_another_program_is_refused_by_every_command_and_left_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("notes.db");
    foreign(&db);
    let before = std::fs::read(&db).unwrap();
    let posts = d.join("posts.jsonl");
    crate::concurrent::statuses(&posts, 1, 3);
    let out = d.join("out");
    let runs: Vec<Vec<&str>> = vec![
        vec!["import", posts.to_str().unwrap(), "--db", "notes.db"],
        vec!["threads", "--db", "notes.db"],
        vec!["themes", "--db", "notes.db"],
        vec![
            "export",
            "markdown",
            "--db",
            "notes.db",
            "--out",
            out.to_str().unwrap(),
        ],
        vec!["export", "twarc2", "--db", "notes.db", "--out", "t.jsonl"],
        vec![
            "collect",
            "twitter",
            "--db",
            "notes.db",
            "--query",
            "x",
            "--api-base",
            "http://127.0.0.1:9",
        ],
        vec![
            "collect",
            "mastodon",
            "--db",
            "notes.db",
            "--tag",
            "x",
            "--instance",
            "http://127.0.0.1:9",
        ],
    ];
    for args in &runs {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_rethread"))
            .args(args)
            .env("TWITTER_BEARER_TOKEN", "test-bearer-token-not-a-real-one")
            .current_dir(d)
            .output()
            .unwrap();
        assert!(!o.status.success(), "{args:?} accepted a foreign database");
        let err = stderr(&o);
        assert!(
            err.contains("notes.db: not a rethread corpus (it has tables notes, people)"),
            "{args:?}: {err}"
        );
        assert_eq!(
            std::fs::read(&db).unwrap(),
            before,
            "{args:?} changed the file"
        );
        assert!(
            !d.join("notes.db-wal").exists(),
            "{args:?} switched it to WAL"
        );
    }
}

#[test]
fn an_empty_sqlite_file_becomes_a_corpus() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let posts = d.join("posts.jsonl");
    crate::concurrent::statuses(&posts, 1, 3);
    // A 0-byte file, and an SQLite database with no tables (only a header written).
    std::fs::write(d.join("zero.db"), b"").unwrap();
    rusqlite::Connection::open(d.join("bare.db"))
        .unwrap()
        .execute_batch("PRAGMA user_version = 0; VACUUM;")
        .unwrap();
    for db in ["zero.db", "bare.db"] {
        ok(d, &["import", posts.to_str().unwrap(), "--db", db]);
        let o = rethread(d, &["threads", "--db", db, "--format", "csv"]);
        assert!(o.status.success(), "{db}: {}", stderr(&o));
    }
}
