//! Bluesky end to end: the recorded API responses and a real repository export in
//! `../shared/data/bluesky`, imported by format detection, rebuilt into threads, and written out
//! by every export, each linking a post to `https://bsky.app/profile/HANDLE/post/RKEY`.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;

const ROOT: &str = "at://did:plc:ntd53albt5ffa4rgervvgibd/app.bsky.feed.post/3kbi55xm6u62v";
const LINK: &str = "https://bsky.app/profile/jbgruber.bsky.social/post/3kbi55xm6u62v";

fn import(dir: &Path, b: &Path) -> String {
    let files = [
        "car/indigo_bnewbold.robocracy.org.20250310005405.car",
        "threads/atrrr_getPostThread_3kbi55xm6u62v.json",
        "threads/atrrr_getPostThread_3kbi57u4sys2l.json",
        "threads/synthetic/atproto-snap_thread_blocked-reply.json",
        "search/atrrr_searchPosts_q-hashtag-rstats_limit100.json",
    ];
    let mut args = vec!["import".to_string(), "--db".into(), "bs.db".into()];
    args.extend(files.iter().map(|f| b.join(f).display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = rethread(dir, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    stderr(&o)
}

#[test]
fn bluesky_data_imports_detected_and_threads_come_out_whole() {
    let Some(data) = shared_data("bluesky_data_imports_detected_and_threads_come_out_whole") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let err = import(dir.path(), &data.join("bluesky"));
    // The repository export: 38 records, 23 posts and a repost (README of the data).
    assert!(
        err.contains("38 records (bluesky, 24 posts of which 1 reposts)"),
        "{err}"
    );
    let threads: Value = serde_json::from_str(&ok(
        dir.path(),
        &["threads", "--db", "bs.db", "--format", "json"],
    ))
    .unwrap();
    let threads = threads.as_array().unwrap();
    // The self-thread, recorded anchored at its root and at its third post: one thread of 4.
    let t = threads
        .iter()
        .find(|t| t["root"] == ROOT)
        .expect("the self-thread");
    assert_eq!(
        (t["posts"].as_u64(), t["depth"].as_u64(), t["gaps"].as_u64()),
        (Some(4), Some(3), Some(0))
    );
    // The blocked reply of the snapshot is a gap of its thread, with its reason.
    let jsonl = dir.path().join("all.jsonl");
    ok(
        dir.path(),
        &[
            "export",
            "jsonl",
            "--db",
            "bs.db",
            "--out",
            jsonl.to_str().unwrap(),
        ],
    );
    let lines: Vec<Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let gap = |needle: &str| {
        lines
            .iter()
            .filter(|l| {
                l["gap"] == true && l["reason"].as_str().is_some_and(|r| r.contains(needle))
            })
            .count()
    };
    assert_eq!(gap("blockedPost"), 1);
    // The repository's replies to other accounts' posts: gaps that say so.
    assert!(gap("outside the repository") > 0);
    let root = lines.iter().find(|l| l["id"] == ROOT).unwrap();
    assert_eq!(root["url"], LINK);
    assert_eq!(root["platform"], "bluesky");
}

#[test]
fn every_export_writes_bluesky_posts_with_their_links() {
    let Some(data) = shared_data("every_export_writes_bluesky_posts_with_their_links") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    import(dir.path(), &data.join("bluesky"));
    let d = dir.path();
    for (format, out) in [
        ("markdown", "md"),
        ("html", "html"),
        ("csv", "csv"),
        ("convokit", "convokit"),
        ("jsonl", "out.jsonl"),
        ("gexf", "out.gexf"),
        ("graphml", "out.graphml"),
        ("dot", "out.dot"),
    ] {
        ok(d, &["export", format, "--db", "bs.db", "--out", out]);
        let path = d.join(out);
        let text: String = if path.is_dir() {
            std::fs::read_dir(&path)
                .unwrap()
                .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
                .collect()
        } else {
            std::fs::read_to_string(&path).unwrap()
        };
        assert!(
            text.contains("3kbi55xm6u62v"),
            "{format} lacks the self-thread"
        );
        // Every export carries the link to the post (the HTML report as text: it makes no
        // request, not even on a click).
        {
            assert!(text.contains(LINK), "{format} lacks the post's link");
        }
    }
}
