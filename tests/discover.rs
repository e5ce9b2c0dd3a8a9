//! `rethread themes discover`, end to end: clusters by meaning with the real model, and the
//! word-level fallback without one.
//!
//! fixtures/discover/two_topics.csv (TWCS) holds 36 posts on two obvious topics: 18 on lost
//! luggage (ids 1-16, and the agents' replies 100 and 101) and 18 on broken inflight wifi
//! (17-32, 102 and 103). The agents sign their replies "-Becky" and "^JD".

mod common;
#[path = "common/model.rs"]
mod model;
#[path = "common/peer.rs"]
mod peer;

use common::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::{Command, Output};

fn corpus() -> String {
    fixture("discover/two_topics.csv").display().to_string()
}

fn topic(id: &str) -> &'static str {
    match id.parse::<u32>().expect("numeric id") {
        1..=16 | 100 | 101 => "luggage",
        17..=32 | 102 | 103 => "wifi",
        other => panic!("unknown post {other}"),
    }
}

/// `themes discover` on the fixture with the model and `extra` flags; stdout.
fn discover(dir: &Path, extra: &[&str]) -> String {
    let model = model::model_dir();
    let corpus = corpus();
    let mut args = vec![
        "themes",
        "discover",
        "--input",
        &corpus,
        "--model",
        model.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(dir, &args)
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn ids(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn discovery_finds_both_topics_and_lists_every_post_once() {
    let dir = tempfile::tempdir().unwrap();
    let doc = json(&discover(dir.path(), &["--all", "--format", "json"]));
    assert_eq!(doc["method"], "clusters");
    assert_eq!(
        doc["k"].as_u64(),
        Some(doc["clusters"].as_array().unwrap().len() as u64)
    );
    assert_eq!(doc["unclustered"], 0);
    let mut seen: Vec<String> = Vec::new();
    let mut majority: BTreeSet<&str> = BTreeSet::new();
    for c in doc["clusters"].as_array().unwrap() {
        for key in [
            "id", "label", "phrases", "size", "threads", "authors", "posts", "central",
        ] {
            assert!(c.get(key).is_some(), "{key} missing from {c}");
        }
        let posts = ids(&c["posts"]);
        assert_eq!(c["size"].as_u64(), Some(posts.len() as u64));
        let central = ids(&c["central"]);
        assert!(!central.is_empty() && central.len() <= 3);
        assert!(central.iter().all(|p| posts.contains(p)), "{c}");
        let mut count: HashMap<&str, usize> = HashMap::new();
        for p in &posts {
            *count.entry(topic(p)).or_default() += 1;
        }
        let (top, n) = count.iter().max_by_key(|(_, n)| **n).unwrap();
        assert!(
            *n as f64 >= 0.8 * posts.len() as f64,
            "cluster {} is not one topic: {count:?}",
            c["id"]
        );
        majority.insert(top);
        seen.extend(posts);
    }
    assert_eq!(majority, BTreeSet::from(["luggage", "wifi"]), "{doc}");
    let n = seen.len();
    let unique: BTreeSet<String> = seen.into_iter().collect();
    assert_eq!(n, unique.len(), "a post in two clusters");
    assert_eq!(unique.len(), 36, "every post is in a cluster");
}

#[test]
fn k_is_respected_and_a_seed_gives_the_same_clusters() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--all", "--format", "json", "--k", "2", "--seed", "7"];
    let first = discover(dir.path(), &args);
    let doc = json(&first);
    assert_eq!(doc["k"], 2);
    assert_eq!(doc["k_by_silhouette"], false);
    assert_eq!(doc["clusters"].as_array().unwrap().len(), 2);
    // Labels name the topics, and no agent's signature names anything.
    let labels: Vec<&str> = doc["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["label"].as_str().unwrap())
        .collect();
    assert!(
        labels
            .iter()
            .any(|l| l.contains("luggage") || l.contains("bag") || l.contains("suitcase")),
        "{labels:?}"
    );
    assert!(labels.iter().any(|l| l.contains("wifi")), "{labels:?}");
    for c in doc["clusters"].as_array().unwrap() {
        for p in c["phrases"].as_array().unwrap() {
            let p = p.as_str().unwrap();
            assert!(
                !p.contains("becky") && !p.split(' ').any(|w| w == "jd"),
                "{p}"
            );
        }
    }
    assert_eq!(
        first,
        discover(dir.path(), &args),
        "the same seed, the same output"
    );
    let table = discover(dir.path(), &["--all", "--k", "2", "--seed", "7"]);
    assert!(table.contains("2 themes found by meaning"), "{table}");
}

#[test]
fn out_writes_a_draft_codebook_that_checks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("draft.toml");
    discover(
        dir.path(),
        &["--all", "--k", "2", "--out", out.to_str().unwrap()],
    );
    ok(
        dir.path(),
        &["themes", "codebook", "--check", out.to_str().unwrap()],
    );
    let text = std::fs::read_to_string(&out).unwrap();
    let book: toml::Table = toml::from_str(&text).unwrap();
    let themes = book["theme"].as_array().unwrap();
    assert_eq!(themes.len(), 2);
    for t in themes {
        assert!(
            t["label"].as_str().unwrap().starts_with("SUGGESTION"),
            "{t}"
        );
        assert!(!t["examples"].as_array().unwrap().is_empty());
        assert!(!t["description"].as_str().unwrap().is_empty());
    }
}

#[test]
fn uncoded_posts_only_unless_all() {
    // A codebook that codes every wifi post: only the luggage posts are left to cluster.
    let dir = tempfile::tempdir().unwrap();
    let book = dir.path().join("wifi.toml");
    std::fs::write(
        &book,
        "[meta]\nname = \"wifi\"\n\n[[theme]]\nid = \"wifi\"\nlabel = \"Wifi\"\npatterns = [\"wifi\", \"internet\"]\n",
    )
    .unwrap();
    let doc = json(&discover(
        dir.path(),
        &["--codebook", book.to_str().unwrap(), "--format", "json"],
    ));
    let posts: Vec<String> = doc["clusters"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| ids(&c["posts"]))
        .collect();
    assert!(!posts.is_empty());
    assert!(posts.iter().all(|p| topic(p) == "luggage"), "{posts:?}");
}

#[test]
fn from_a_corpus_the_embeddings_are_kept_and_reused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let db = db.to_str().unwrap();
    ok(dir.path(), &["import", &corpus(), "--db", db]);
    let model = model::model_dir();
    let args = [
        "themes",
        "discover",
        "--db",
        db,
        "--all",
        "--k",
        "2",
        "--format",
        "json",
        "--model",
        model.to_str().unwrap(),
    ];
    let first = rethread(dir.path(), &args);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("36 computed, 0 reused"),
        "{}",
        stderr(&first)
    );
    let again = rethread(dir.path(), &args);
    assert!(
        stderr(&again).contains("0 computed, 36 reused"),
        "{}",
        stderr(&again)
    );
    assert_eq!(
        stdout(&first),
        stdout(&again),
        "the same vectors, the same clusters"
    );
    // The vectors read back from the corpus are the ones computed from files.
    let from_files = discover(dir.path(), &["--all", "--k", "2", "--format", "json"]);
    assert_eq!(
        json(&from_files)["clusters"],
        json(&stdout(&first))["clusters"]
    );
}

/// rethread with no model anywhere: no --model, no RETHREAD_MODEL, an empty home and
/// Hugging Face cache.
fn without_model(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rethread"))
        .args(args)
        .current_dir(dir)
        .env_remove("RETHREAD_MODEL")
        .env("HOME", dir)
        .env("HF_HUB_CACHE", dir)
        .env_remove("HF_HOME")
        .env_remove("XDG_CACHE_HOME")
        .output()
        .expect("run rethread")
}

#[test]
fn without_a_model_discovery_is_by_words_and_says_how_to_do_better() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus();
    let o = without_model(
        dir.path(),
        &[
            "themes", "discover", "--input", &corpus, "--all", "--format", "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let doc = json(&stdout(&o));
    assert_eq!(doc["method"], "words");
    let phrases: Vec<&str> = doc["suggestions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["phrase"].as_str().unwrap())
        .collect();
    assert!(phrases.iter().any(|p| p.contains("wifi")), "{phrases:?}");
    let err = stderr(&o);
    assert!(err.contains("A model gives better themes"), "{err}");
    assert!(err.contains("--model"), "{err}");
}

#[test]
fn a_broken_model_folder_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let corpus = corpus();
    let missing = dir.path().join("no-such-model");
    let o = rethread(
        dir.path(),
        &[
            "themes",
            "discover",
            "--input",
            &corpus,
            "--model",
            missing.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no-such-model"), "{}", stderr(&o));
}
