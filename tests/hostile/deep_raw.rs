//! Defect 10 of issue 11: one stored record blocked `export twarc2` for the whole corpus. A
//! tweet with a field nested 130 deep imports fine (the importer skips fields it does not use,
//! iteratively), but the export parsed each stored tweet into a `serde_json::Value`, whose
//! parser stops at 128 levels: the export failed for every post, named none, and left
//! `FILE.partial` behind. Stored JSON is now passed through as text (checked without
//! recursion), a damaged record is named, and a failed export leaves no file behind.

use crate::common::{fixture, ok, rethread, stderr};
use std::path::Path;

/// A twarc2 page of a root tweet and a reply to it; the reply carries `"deep"`, an array
/// nested `depth` levels.
fn page(depth: usize) -> String {
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    format!(
        concat!(
            r#"{{"data":[{{"id":"2","text":"@one a reply","author_id":"20","created_at":"2024-01-01T00:01:00.000Z","#,
            r#""conversation_id":"1","in_reply_to_user_id":"10","referenced_tweets":[{{"type":"replied_to","id":"1"}}],"deep":{deep}}},"#,
            r#"{{"id":"1","text":"the root","author_id":"10","created_at":"2024-01-01T00:00:00.000Z","conversation_id":"1"}}],"#,
            r#""includes":{{"users":[{{"id":"10","username":"one","name":"One"}},{{"id":"20","username":"two","name":"Two"}}]}},"#,
            r#""meta":{{"result_count":2}}}}"#
        ),
        deep = deep
    )
}

fn partials(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".partial"))
        .collect()
}

fn round_trip(depth: usize) {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("deep.jsonl"), page(depth) + "\n").unwrap();
    // The format is named: detecting it reads the first record into a `Value`, which the
    // depth limit stops (the importer's business, not the export's).
    ok(
        d,
        &[
            "import",
            "deep.jsonl",
            "--format",
            "twarc2",
            "--db",
            "deep.db",
        ],
    );
    ok(
        d,
        &["export", "twarc2", "--db", "deep.db", "--out", "out.jsonl"],
    );
    assert!(partials(d).is_empty(), "left behind: {:?}", partials(d));
    let out = std::fs::read_to_string(d.join("out.jsonl")).unwrap();
    // The stored tweet, deep field and all, is written as it was read.
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    assert!(out.contains(&format!(r#""deep":{deep}"#)), "depth {depth}");
    ok(
        d,
        &[
            "import",
            "out.jsonl",
            "--format",
            "twarc2",
            "--db",
            "back.db",
        ],
    );
    let threads = |db: &str| ok(d, &["threads", "--format", "csv", "--db", db]);
    assert_eq!(threads("deep.db"), threads("back.db"));
    let posts = |db: &str| {
        ok(
            d,
            &[
                "export",
                "jsonl",
                "--db",
                db,
                "--out",
                &format!("{db}.posts.jsonl"),
            ],
        );
        std::fs::read_to_string(d.join(format!("{db}.posts.jsonl"))).unwrap()
    };
    let (before, after) = (posts("deep.db"), posts("back.db"));
    assert_eq!(before.lines().count(), 2, "{before}");
    assert_eq!(before, after);
}

#[test]
fn a_field_nested_130_deep_is_exported() {
    round_trip(130);
}

#[test]
fn a_field_nested_100000_deep_is_exported_without_recursing() {
    round_trip(100_000);
}

/// An export that fails half-way (a stored tweet damaged after import) names the tweet, leaves
/// no temporary file, and leaves the file already at `--out` as it was.
#[test]
fn a_failed_export_names_the_tweet_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let input = fixture("seed002/twarc2.jsonl");
    ok(d, &["import", input.to_str().unwrap(), "--db", "seed.db"]);
    let damaged: String = {
        let c = rusqlite::Connection::open(d.join("seed.db")).unwrap();
        let id: String = c
            .query_row(
                "SELECT max(id) FROM posts WHERE platform = 'twitter' AND raw IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        c.execute(
            "UPDATE posts SET raw = '{\"id\": \"' || id || '\", \"text\": ' WHERE id = ?1",
            [&id],
        )
        .unwrap();
        id
    };
    std::fs::write(d.join("out.jsonl"), "an earlier export\n").unwrap();
    let o = rethread(
        d,
        &["export", "twarc2", "--db", "seed.db", "--out", "out.jsonl"],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains(&format!("tweet {damaged}")),
        "the damaged tweet is named: {}",
        stderr(&o)
    );
    assert!(partials(d).is_empty(), "left behind: {:?}", partials(d));
    assert_eq!(
        std::fs::read_to_string(d.join("out.jsonl")).unwrap(),
        "an earlier export\n"
    );
}
