//! `--pseudonymize`: no raw handle, account id or profile link remains in any export.

mod common;

use common::*;
use std::path::Path;

/// What identifies the people of the seed fixture: handles, display names, account ids, links.
const RAW: &[&str] = &[
    "Gripnostril",
    "audaciousgloop",
    "nz_rob",
    "\"Rob\"",
    "14590231",
    "16420578",
    "17730914",
    "twitter.com",
];

fn all_text(dir: &Path) -> String {
    let mut s = String::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            s.push_str(&all_text(&p));
        } else {
            s.push_str(&std::fs::read_to_string(&p).unwrap());
        }
    }
    s
}

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rethread"))
        .args(args)
        .env("RETHREAD_SALT", "a-test-salt-of-some-length")
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn every_export_format_is_pseudonymised_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("seed002/twarc2.jsonl");
    let input = input.to_str().unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    for args in [
        vec!["export", "markdown", "--out", "out/md"],
        vec!["export", "jsonl", "--out", "out/posts.jsonl"],
        vec!["export", "csv", "--out", "out/csv"],
        vec!["export", "graphml", "--out", "out/replies.graphml"],
        vec![
            "export",
            "graphml",
            "--graph",
            "interactions",
            "--out",
            "out/people.graphml",
        ],
        vec!["export", "dot", "--out", "out/replies.dot"],
        vec!["export", "convokit", "--out", "out/ck"],
        vec!["export", "html", "--out", "out/html"],
        vec!["export", "gexf", "--out", "out/replies.gexf"],
    ] {
        let mut a = args.clone();
        a.extend(["--input", input, "--pseudonymize"]);
        let o = run(dir.path(), &a);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let out = all_text(&dir.path().join("out"));
    for raw in RAW {
        assert!(
            !out.contains(raw),
            "{raw} remains in the pseudonymised exports"
        );
    }
    // Each output says it is pseudonymised.
    let read = |p: &str| std::fs::read_to_string(dir.path().join("out").join(p)).unwrap();
    assert!(read("md/index.md").contains("Pseudonymised"));
    assert!(read("posts.jsonl")
        .lines()
        .all(|l| l.contains("\"pseudonymised\":true")));
    assert!(read("csv/posts.csv")
        .lines()
        .next()
        .unwrap()
        .ends_with(",pseudonymised"));
    assert!(read("replies.graphml").contains("<data key=\"g_pseudonymised\">true</data>"));
    assert!(read("replies.dot").contains("comment=\"pseudonymised\""));
    assert!(read("ck/corpus.json").contains("\"pseudonymised\":true"));
    assert!(read("html/index.html").contains("Pseudonymised"));
    assert!(read("replies.gexf").contains("pseudonymised: every account is a salted hash"));
    // The same account has the same pseudonym as author and as a mention.
    let rows: Vec<serde_json::Value> = read("posts.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let second = &rows[1];
    let author = second["author"].as_str().unwrap();
    assert!(author.starts_with("user-"));
    assert!(
        rows[0]["text"]
            .as_str()
            .unwrap()
            .contains(&format!("@{author}")),
        "the root mentions the second author"
    );
    // And the same pseudonyms again with the same salt.
    let again = run(
        dir.path(),
        &[
            "export",
            "jsonl",
            "--out",
            "again.jsonl",
            "--input",
            input,
            "--pseudonymize",
        ],
    );
    assert!(again.status.success());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("again.jsonl")).unwrap(),
        read("posts.jsonl")
    );
}

#[test]
fn pseudonymising_without_a_salt_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("seed002/twarc2.jsonl");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_rethread"))
        .args([
            "export",
            "jsonl",
            "--out",
            "x.jsonl",
            "--pseudonymize",
            "--input",
            input.to_str().unwrap(),
        ])
        .env_remove("RETHREAD_SALT")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("RETHREAD_SALT"), "{}", stderr(&o));
    assert!(!dir.path().join("x.jsonl").exists(), "nothing written");
}
