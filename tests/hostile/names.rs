//! Defect 6 of issue 11: two threads could get one file. `export html` named each page by
//! `file_stem` alone, so thread `a/b` (stem `a_b-<hash>`) and a thread whose id is literally
//! that stem shared a page: one thread was lost and both index rows linked to the other. And
//! names differing only in letter case (`Abc.md`, `abc.md`) are one file on macOS and Windows.
//! Markdown and html now share one naming function that reserves names case-insensitively;
//! every thread gets its own page and each index row links to the page holding that thread.

use crate::common::ok;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

/// Root posts (one thread each): `(status id, a word only its post holds)`.
fn statuses() -> Vec<(String, &'static str)> {
    // Thread ids are `mastodon-<root id>`; the stem of `mastodon-a/b` is `mastodon-a_b-<hash>`,
    // which a status whose id is the rest of that stem gets as is.
    let stem = rethread::export::file_stem("mastodon-a/b");
    let literal = stem.strip_prefix("mastodon-").unwrap().to_string();
    assert_eq!(
        rethread::export::file_stem(&format!("mastodon-{literal}")),
        stem,
        "the two ids collide on one stem"
    );
    vec![
        ("a/b".to_string(), "wordalpha"),
        (literal, "wordbravo"),
        ("Abc".to_string(), "wordcharlie"),
        ("abc".to_string(), "worddelta"),
    ]
}

fn write_input(dir: &Path) -> std::path::PathBuf {
    let mut lines = String::new();
    for (k, (id, word)) in statuses().iter().enumerate() {
        let status = serde_json::json!({
            "id": id,
            "created_at": format!("2024-01-0{}T00:00:00.000Z", k + 1),
            "content": format!("<p>{word}</p>"),
            "account": {"id": format!("{k}"), "username": format!("user{k}"), "acct": format!("user{k}")},
        });
        lines.push_str(&status.to_string());
        lines.push('\n');
    }
    let path = dir.join("statuses.jsonl");
    std::fs::write(&path, lines).unwrap();
    path
}

/// Check that each `(thread id, linked file)` row of an index links to a file of its own that
/// holds that thread's post, and that no two files differ only in case.
fn assert_one_page_each(out: &Path, rows: &[(String, String)], ext: &str) {
    let words: BTreeMap<String, &str> = statuses()
        .into_iter()
        .map(|(id, w)| (format!("mastodon-{id}"), w))
        .collect();
    assert_eq!(rows.len(), words.len(), "{rows:?}");
    let folded: HashSet<String> = rows.iter().map(|(_, f)| f.to_lowercase()).collect();
    assert_eq!(
        folded.len(),
        rows.len(),
        "two threads share a name (ignoring case): {rows:?}"
    );
    for (thread, file) in rows {
        let page = std::fs::read_to_string(out.join(file))
            .unwrap_or_else(|e| panic!("{thread} links to {file}: {e}"));
        for (other, word) in &words {
            assert_eq!(
                page.contains(word),
                other == thread,
                "{file}, linked from {thread}'s row, and the post of {other}:\n{page}"
            );
        }
    }
    let pages = std::fs::read_dir(out)
        .unwrap()
        .filter(|e| {
            let n = e.as_ref().unwrap().file_name();
            let n = n.to_string_lossy();
            n.ends_with(ext) && !n.starts_with("index.")
        })
        .count();
    assert_eq!(pages, rows.len());
}

#[test]
fn every_thread_gets_its_own_markdown_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    ok(
        dir.path(),
        &[
            "export",
            "markdown",
            "--input",
            input.to_str().unwrap(),
            "--out",
            "md",
        ],
    );
    let out = dir.path().join("md");
    let index = std::fs::read_to_string(out.join("index.md")).unwrap();
    // `| [ID](FILE) | ...`, the id escaped for markdown (these ids need only `\_`).
    let rows: Vec<(String, String)> = index
        .lines()
        .filter_map(|l| l.strip_prefix("| ["))
        .filter_map(|l| l.split_once("]("))
        .map(|(id, rest)| {
            (
                id.replace('\\', ""),
                rest.split_once(')').unwrap().0.to_string(),
            )
        })
        .collect();
    assert_one_page_each(&out, &rows, ".md");
}

#[test]
fn every_thread_gets_its_own_html_page() {
    let dir = tempfile::tempdir().unwrap();
    let input = write_input(dir.path());
    ok(
        dir.path(),
        &[
            "export",
            "html",
            "--input",
            input.to_str().unwrap(),
            "--out",
            "html",
        ],
    );
    let out = dir.path().join("html");
    let index = std::fs::read_to_string(out.join("index.html")).unwrap();
    // `<tr><td><a href="FILE">ID</a></td>...`
    let rows: Vec<(String, String)> = index
        .lines()
        .filter_map(|l| l.strip_prefix("<tr><td><a href=\""))
        .filter_map(|l| l.split_once("\">"))
        .map(|(file, rest)| {
            (
                rest.split_once("</a>").unwrap().0.to_string(),
                file.to_string(),
            )
        })
        .collect();
    assert_one_page_each(&out, &rows, ".html");
}
