//! `rethread collect bluesky` against a loopback XRPC server that serves the real recorded
//! Bluesky post views (`tests/common/xrpc.rs`), with 429s, 502 UpstreamFailure, an expired
//! session, a hung request and a depth-capped AppView.

mod common;
#[path = "common/xrpc.rs"]
mod xrpc;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;
use xrpc::{Fault, Xrpc};

const SELF_THREAD: &str = "at://did:plc:ntd53albt5ffa4rgervvgibd/app.bsky.feed.post/3kbi55xm6u62v";
const OPTED_OUT: &str = "at://did:plc:35asdziyhgfyzwel3pzyhsvb/app.bsky.feed.post/3lt3on47xp52h";

fn collect_cmd(dir: &Path, server: &Xrpc, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rethread"));
    cmd.args(["collect", "bluesky", "--pds", &server.base])
        .args([
            "--pace",
            "0",
            "--backoff",
            "10",
            "--retries",
            "3",
            "--timeout",
            "2",
        ])
        .args(args)
        .env("BLUESKY_IDENTIFIER", xrpc::IDENTIFIER)
        .env("BLUESKY_APP_PASSWORD", xrpc::PASSWORD)
        .current_dir(dir);
    cmd
}

fn collect(dir: &Path, server: &Xrpc, args: &[&str]) -> Output {
    collect_cmd(dir, server, args)
        .output()
        .expect("run rethread")
}

/// Every post of a corpus as the fields a researcher reads, and every gap with its reason.
fn contents(dir: &Path, db: &str) -> (BTreeMap<String, Value>, BTreeMap<String, String>) {
    let out = dir.join(format!("{db}.jsonl"));
    ok(
        dir,
        &[
            "export",
            "jsonl",
            "--db",
            db,
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let mut posts = BTreeMap::new();
    let mut gaps = BTreeMap::new();
    for line in std::fs::read_to_string(&out).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let id = v["id"].as_str().unwrap().to_string();
        if v["gap"] == true {
            gaps.insert(id, v["reason"].as_str().unwrap_or("").to_string());
        } else {
            let keep = [
                "text",
                "parent",
                "author",
                "created_at",
                "url",
                "thread",
                "depth",
            ];
            let o: serde_json::Map<String, Value> = v
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| keep.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            posts.insert(id, Value::Object(o));
        }
    }
    (posts, gaps)
}

fn threads(dir: &Path, db: &str) -> Vec<Value> {
    let t: Value =
        serde_json::from_str(&ok(dir, &["threads", "--db", db, "--format", "json"])).unwrap();
    t.as_array().unwrap().clone()
}

#[test]
fn collected_threads_are_whole_and_equal_what_importing_the_answers_gives() {
    let Some(data) =
        shared_data("collected_threads_are_whole_and_equal_what_importing_the_answers_gives")
    else {
        return;
    };
    let server = Xrpc::start(&data.join("bluesky"));
    // The AppView stops paging after 60 posts, and cuts threads one level deep.
    server.set_page_cap(60);
    server.set_depth_cap(1);
    // Faults on the way: a 429, an upstream failure, an expired session, a hung request.
    for f in [
        Fault::RateLimited { reset_in: 1 },
        Fault::Upstream,
        Fault::Expire,
        Fault::Hang(Duration::from_secs(4)),
    ] {
        server.queue(f);
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = collect(
        d,
        &server,
        &["--query", "rstats", "--include-opted-out", "--db", "c.db"],
    );
    let (out, err) = (stdout(&o), stderr(&o));
    assert!(o.status.success(), "{err}");
    assert!(err.contains("continued before the oldest post"), "{err}");

    // Every loaded post was found, though the search stopped paging at 60 (and the posts
    // they quote, which the views show, came too).
    let (posts, gaps) = contents(d, "c.db");
    assert!(posts.len() >= server.post_count(), "{err}");
    for uri in server.uris() {
        assert!(posts.contains_key(&uri), "{uri} was not collected\n{err}");
    }
    // The self-thread came out whole through the depth cap: one request for it, and one for
    // each of its two cut branches.
    let t = threads(d, "c.db");
    let me = t.iter().find(|t| t["root"] == SELF_THREAD).unwrap();
    assert_eq!(
        (
            me["posts"].as_u64(),
            me["depth"].as_u64(),
            me["gaps"].as_u64()
        ),
        (Some(4), Some(3), Some(0))
    );
    let asked: Vec<String> = server
        .log()
        .into_iter()
        .filter(|t| t.contains("getPostThread"))
        .collect();
    let for_self = |u: &str| {
        asked
            .iter()
            .filter(|t| t.contains(&u.replace(':', "%3A").replace('/', "%2F")))
            .count()
    };
    assert_eq!(for_self(SELF_THREAD), 1, "{asked:#?}");
    assert!(err.contains("cut branch"), "{err}");

    // Import exactly what the server answered: the same posts, and the same gaps (a root the
    // AppView could not find at all is known to the collector alone, from the error).
    let answers: String = server
        .answered()
        .into_iter()
        .map(|(_, body)| body + "\n")
        .collect();
    std::fs::write(d.join("answers.jsonl"), answers).unwrap();
    ok(d, &["import", "--db", "i.db", "answers.jsonl"]);
    let (iposts, igaps) = contents(d, "i.db");
    assert_eq!(posts, iposts);
    for (id, reason) in &igaps {
        assert_eq!(gaps.get(id), Some(reason), "{id}");
    }
    for (id, reason) in &gaps {
        assert!(
            igaps.contains_key(id) || reason.contains("notFoundPost"),
            "{id}: {reason}"
        );
    }

    // The session was made, refreshed after it expired, and its secrets went nowhere.
    assert!(err.contains("sessions 1 made, 1 refreshed"), "{err}");
    let db = std::fs::read(d.join("c.db")).unwrap();
    let mut secrets = server.issued();
    secrets.push(xrpc::PASSWORD.to_string());
    assert!(secrets.len() >= 5);
    for s in &secrets {
        assert!(
            !out.contains(s.as_str()) && !err.contains(s.as_str()),
            "a secret was printed"
        );
        assert!(
            memchr::memmem::find(&db, s.as_bytes()).is_none(),
            "a secret is in the corpus"
        );
    }
}

#[test]
fn opted_out_accounts_are_left_out_with_a_gap_that_says_so() {
    let Some(data) = shared_data("opted_out_accounts_are_left_out_with_a_gap_that_says_so") else {
        return;
    };
    let server = Xrpc::start(&data.join("bluesky"));
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = collect(
        d,
        &server,
        &["--tag", "rstats", "--no-context", "--db", "c.db"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("left out 1: author opted out"),
        "{}",
        stderr(&o)
    );
    let db = rusqlite_posts(&d.join("c.db"));
    assert!(!db.contains(&OPTED_OUT.to_string()));
    assert!(
        db.contains(&SELF_THREAD.to_string()),
        "the tag facet of a 2023 post"
    );
    // --tag asks the tag, not the words.
    assert!(server
        .log()
        .iter()
        .any(|t| t.contains("searchPosts") && t.contains("tag=rstats")));
}

fn rusqlite_posts(db: &Path) -> Vec<String> {
    let out = db.with_extension("jsonl");
    ok(
        db.parent().unwrap(),
        &[
            "export",
            "jsonl",
            "--db",
            db.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["gap"] != true)
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn a_wrong_password_is_a_clear_error_and_stores_nothing() {
    let Some(data) = shared_data("a_wrong_password_is_a_clear_error_and_stores_nothing") else {
        return;
    };
    let server = Xrpc::start(&data.join("bluesky"));
    let dir = tempfile::tempdir().unwrap();
    let o = collect_cmd(dir.path(), &server, &["--query", "x", "--db", "c.db"])
        .env("BLUESKY_APP_PASSWORD", "wrong-password-1234")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("could not log in") && err.contains("BLUESKY_APP_PASSWORD"),
        "{err}"
    );
    assert!(!err.contains("wrong-password-1234"), "{err}");
}

/// Killed with SIGKILL in the middle, the same command goes on and ends with what one
/// uninterrupted run collects.
#[test]
fn a_killed_collection_resumes_to_the_same_corpus() {
    let Some(data) = shared_data("a_killed_collection_resumes_to_the_same_corpus") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let whole = Xrpc::start(&data.join("bluesky"));
    whole.set_page_cap(40);
    let o = collect(d, &whole, &["--query", "rstats", "--db", "whole.db"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let server = Xrpc::start(&data.join("bluesky"));
    server.set_page_cap(40);
    server.set_delay(Duration::from_millis(60));
    let mut child = collect_cmd(d, &server, &["--query", "rstats", "--db", "part.db"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_until_asked(&d.join("part.db"), 5);
    child.kill().unwrap();
    child.wait().unwrap();
    server.set_delay(Duration::ZERO);
    let o = collect(d, &server, &["--query", "rstats", "--db", "part.db"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("resumed"), "{}", stderr(&o));
    assert_eq!(contents(d, "part.db"), contents(d, "whole.db"));
}
