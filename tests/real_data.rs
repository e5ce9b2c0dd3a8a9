//! Thread reconstruction checked against real public data in `../shared/data` (read at test
//! time, never copied into the repository). Each test is skipped, with a message, when that
//! folder is absent.

mod common;

use common::*;
use rethread::corpus::PostSet;
use rethread::model::Platform;
use rethread::source::{self, Format, ReadOptions};
use rethread::thread::{self, Node, Options};
use std::path::Path;

fn read(files: &[&Path]) -> PostSet {
    let files: Vec<_> = files.iter().map(|p| p.to_path_buf()).collect();
    PostSet::from_files(
        &files,
        &ReadOptions::default(),
        &indicatif::ProgressBar::hidden(),
    )
    .expect("read")
    .0
}

#[test]
fn twcs_head5k_rebuilds_its_threads() {
    let Some(data) = shared_data("twcs_head5k_rebuilds_its_threads") else {
        return;
    };
    let file = data.join("twcs/monalisapatra26_twcs_head5k.csv");
    let set = read(&[&file]);
    assert_eq!(set.len(), 5000, "tweets");
    let replies = set
        .posts()
        .iter()
        .filter(|p| p.reply_to().is_some())
        .count();
    assert_eq!(replies, 3694, "reply edges");
    let absent = set
        .posts()
        .iter()
        .filter(|p| {
            p.reply_to()
                .is_some_and(|r| set.find(Platform::Twitter, r).is_none())
        })
        .count();
    assert_eq!(absent, 6, "replies to parents absent from the file");

    let t = thread::build(&set, &Options::default());
    assert_eq!(t.threads.len(), 1312, "threads");
    assert_eq!(
        t.threads.iter().map(|th| th.depth).max(),
        Some(118),
        "longest chain"
    );
    assert_eq!(t.threads.iter().map(|th| th.posts).sum::<usize>(), 5000);
    // The six replies to absent parents hang from gap nodes, one per missing parent.
    let under_gaps: usize = t
        .graph
        .node_indices()
        .filter(|&n| matches!(t.node(n), Node::Gap(_)))
        .map(|n| t.children(n).len())
        .sum();
    assert_eq!(under_gaps, 6, "replies under gaps");
    assert_eq!(t.gaps.len(), 6, "gap nodes");
    assert_eq!(t.threads.iter().map(|th| th.gaps).sum::<usize>(), 6);
    let edges = t.graph.edge_count();
    assert_eq!(edges, 3694, "one graph edge per reply");
    assert!(t.cycles.is_empty());

    // Tweet 3399 has two bare CRs inside an unquoted field: it must stay one tweet, whole.
    let p = &set.posts()[set.find(Platform::Twitter, "3399").expect("tweet 3399")];
    assert!(p.text().starts_with("@AskPayPal"), "{:?}", p.text());
    assert!(
        p.text().contains("I just love the start of email"),
        "{:?}",
        p.text()
    );
    assert!(
        p.text().ends_with("https://t.co/8u1Pf5rJoN"),
        "{:?}",
        p.text()
    );
    assert_eq!(p.author().handle.as_deref(), Some("116510"));
}

#[test]
fn twcs_kaggle_sample_reads() {
    let Some(data) = shared_data("twcs_kaggle_sample_reads") else {
        return;
    };
    let set = read(&[&data.join("twcs/naman-tiwari_sample.csv")]);
    assert_eq!(set.len(), 93);
    assert!(set.posts().iter().all(|p| p.created_at().is_some()));
}

#[test]
fn rtoot_context_recordings_give_complete_threads() {
    let Some(data) = shared_data("rtoot_context_recordings_give_complete_threads") else {
        return;
    };
    let dir = data.join("mastodon/rtoot_fixtures");
    let manifest: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("MANIFEST.json")).unwrap()).unwrap();
    let contexts: Vec<(std::path::PathBuf, String)> = manifest
        .iter()
        .filter_map(|e| {
            let uri = e["uri"].as_str()?;
            let file = e["file"].as_str()?;
            let id = uri.split("/statuses/").nth(1)?.strip_suffix("/context")?;
            Some((dir.join(file), id.to_string()))
        })
        .collect();
    assert_eq!(contexts.len(), 3, "three context recordings");

    // One recording alone: a context response leaves out the status asked about, so its
    // replies hang from exactly one gap, which names that status.
    for (file, focal) in &contexts {
        let set = read(&[file]);
        let t = thread::build(&set, &Options::default());
        assert_eq!(t.threads.len(), 1, "{}", file.display());
        let gaps: Vec<&str> = t.gaps.iter().map(|g| g.id.as_str()).collect();
        if set
            .posts()
            .iter()
            .any(|p| p.reply_to() == Some(focal.as_str()))
        {
            assert_eq!(gaps, vec![focal.as_str()], "{}", file.display());
        } else {
            assert!(gaps.is_empty(), "{}", file.display());
        }
    }

    // Together they are the whole conversation: every parent link resolves, no gap is left.
    let files: Vec<&Path> = contexts.iter().map(|(f, _)| f.as_path()).collect();
    let set = read(&files);
    for p in set.posts() {
        if let Some(parent) = &p.reply_to() {
            assert!(
                set.find(Platform::Mastodon, parent).is_some(),
                "parent {parent} of {} missing",
                p.id()
            );
        }
    }
    let t = thread::build(&set, &Options::default());
    assert_eq!(t.threads.len(), 1);
    assert_eq!(t.gaps.len(), 0);
    let th = &t.threads[0];
    assert_eq!((th.posts, th.depth), (set.len(), 3));
    assert_eq!(set.len(), 7);
    assert!(matches!(t.node(th.root), Node::Post(_)));
}

#[test]
fn rtoot_tag_timeline_pages_import_whole() {
    let Some(data) = shared_data("rtoot_tag_timeline_pages_import_whole") else {
        return;
    };
    let dir = data.join("mastodon/rtoot_fixtures");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .contains("timelines_tag_ichbinhanna__handle_params_max_id")
        })
        .collect();
    assert_eq!(files.len(), 4);
    let refs: Vec<&Path> = files.iter().map(|p| p.as_path()).collect();
    let set = read(&refs);
    // 160 statuses with 36 replies (shared/data/README.md); boosts bring their originals in.
    let top: usize = files
        .iter()
        .map(|f| {
            serde_json::from_str::<Vec<serde_json::Value>>(&std::fs::read_to_string(f).unwrap())
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(top, 160);
    let replies = set
        .posts()
        .iter()
        .filter(|p| p.reply_to().is_some())
        .count();
    assert!(replies >= 36, "replies {replies}");
    assert!(set
        .posts()
        .iter()
        .all(|p| p.platform() == Platform::Mastodon && p.created_at().is_some()));
    assert!(set
        .posts()
        .iter()
        .any(|p| !p.text().is_empty() && !p.text().contains("<p>")));
}

#[test]
fn overlapping_twarc2_pages_store_each_tweet_once() {
    let Some(data) = shared_data("overlapping_twarc2_pages_store_each_tweet_once") else {
        return;
    };
    let file = data.join("twitter_v2/academictwitteR/kfc_to.jsonl");
    let dir = tempfile::tempdir().unwrap();
    let f = file.to_str().unwrap();
    ok(dir.path(), &["import", f]);
    let first = stderr_of(dir.path(), &["import", f]);
    assert!(
        first.contains(" 0 new, 0 updated"),
        "second import changes nothing: {first}"
    );

    // Distinct tweet ids across both pages (data and includes), counted independently.
    let mut ids = std::collections::BTreeSet::new();
    let mut total = 0;
    for line in std::fs::read_to_string(&file).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        for t in v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(v["includes"]["tweets"].as_array().into_iter().flatten())
        {
            ids.insert(t["id"].as_str().unwrap().to_string());
            total += 1;
        }
    }
    assert!(ids.len() < total, "the pages overlap");
    let db = rusqlite_count(&dir.path().join("rethread.db"));
    assert_eq!(db, ids.len(), "each tweet stored once");
    let _ = Format::Twarc2;
    let _ = source::Format::ALL;
}

fn stderr_of(dir: &Path, args: &[&str]) -> String {
    let o = rethread(dir, args);
    assert!(o.status.success(), "{}", stderr(&o));
    stderr(&o)
}

fn rusqlite_count(db: &Path) -> usize {
    let c = rethread::corpus::Corpus::open_existing(db).unwrap();
    c.post_count().unwrap() as usize
}
