//! Codes in every export (issue 12, points 6 and 8): each format that carries themes says which
//! coder made each code; the readable exports (markdown, html) show the themes without being
//! asked, and leave them out with --no-themes; the README's quick start shows the whole job.
//!
//! Only the pattern coder runs here (the bundled fixtures, no model): semantic and learned
//! evidence is rendered by the unit tests of `src/export/markdown` and `src/export/html.rs`.

mod common;
#[path = "common/peer.rs"]
mod peer;

use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The seed 002 exchange, as twarc2 pages.
fn seed() -> String {
    fixture("seed002/twarc2.jsonl")
        .to_str()
        .unwrap()
        .to_string()
}

/// The root of the seed exchange and what the built-in codebook's patterns give it.
const ROOT: &str = "1268730000000000001";
const ROOT_CODERS: &str = "customer-shoes:pattern";

fn export(dir: &Path, format: &str, out: &str, extra: &[&str]) {
    let input = seed();
    let mut args = vec!["export", format, "--out", out];
    args.extend(extra);
    args.extend(["--input", input.as_str()]);
    ok(dir, &args);
}

fn read(dir: &Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Every `.md` or `.html` file of a directory, concatenated.
fn all_files(dir: &Path) -> String {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect()
}

#[test]
fn jsonl_and_csv_carry_the_coder_of_every_code() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    export(d, "jsonl", "posts.jsonl", &[]);
    let rows: Vec<Value> = read(d, "posts.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let codes: Vec<&Value> = rows
        .iter()
        .filter_map(|r| r["themes"].as_array())
        .flatten()
        .collect();
    assert!(codes.len() >= 5, "the seed exchange is coded: {codes:?}");
    for c in &codes {
        assert_eq!(c["coder"], "pattern", "{c}");
        assert!(!c["pattern"].as_str().unwrap().is_empty(), "{c}");
    }

    export(d, "csv", "csv", &[]);
    let text = read(d, "csv/posts.csv");
    let mut csv = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    // The columns scripts already read keep their names and places; the coder comes after.
    assert_eq!(&header[13..], ["themes", "evidence", "theme_coders"]);
    let (themes, evidence, coders) = (col("themes"), col("evidence"), col("theme_coders"));
    let mut coded = 0;
    for r in csv.records() {
        let r = r.unwrap();
        if r[1] == *ROOT {
            assert_eq!(&r[coders], ROOT_CODERS);
        }
        if r[themes].is_empty() {
            assert!(r[coders].is_empty());
            continue;
        }
        coded += 1;
        // One `id:coder` per theme, in the themes' order.
        let ids: Vec<&str> = r[coders]
            .split(';')
            .map(|c| c.strip_suffix(":pattern").unwrap())
            .collect();
        assert_eq!(ids.join(";"), r[themes]);
        // Pattern evidence as before: `id: words`.
        for e in r[evidence].split(" | ") {
            let (id, words) = e.split_once(": ").unwrap();
            assert!(ids.contains(&id) && !words.is_empty(), "{e}");
        }
    }
    assert!(coded >= 5);
}

const READ_GRAPHML: &str = r#"
import json, sys
import networkx as nx
g = nx.read_graphml(sys.argv[1])
print(json.dumps({n: d for n, d in g.nodes(data=True)}))
"#;

#[test]
fn graph_exports_carry_the_coder_of_every_theme() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    export(d, "graphml", "replies.graphml", &[]);
    export(d, "gexf", "replies.gexf", &[]);
    export(d, "dot", "replies.dot", &[]);

    // networkx reads the attribute back, typed as declared.
    let out = Command::new(peer::venv_python())
        .args(["-c", READ_GRAPHML])
        .arg(d.join("replies.graphml"))
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "networkx: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nodes: Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = &nodes[format!("twitter:{ROOT}")];
    assert_eq!(root["themes"], "customer-shoes");
    assert_eq!(root["theme_coders"], ROOT_CODERS);
    let coded = nodes
        .as_object()
        .unwrap()
        .values()
        .filter(|n| !n["themes"].as_str().unwrap_or("").is_empty())
        .inspect(|n| {
            let ids: Vec<&str> = n["theme_coders"]
                .as_str()
                .unwrap()
                .split(';')
                .map(|c| c.strip_suffix(":pattern").unwrap())
                .collect();
            assert_eq!(ids.join(";"), n["themes"].as_str().unwrap());
        })
        .count();
    assert!(coded >= 5);

    let gexf = read(d, "replies.gexf");
    assert!(gexf.contains(r#"<attribute id="theme_coders" title="theme_coders" type="string"/>"#));
    assert!(gexf.contains(&format!(
        r#"<attvalue for="theme_coders" value="{ROOT_CODERS}"/>"#
    )));
    let dot = read(d, "replies.dot");
    assert!(
        dot.contains(&format!(r#"theme_coders="{ROOT_CODERS}""#)),
        "{dot}"
    );
}

#[test]
fn convokit_utterances_carry_the_coder_of_every_theme() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    export(d, "convokit", "ck", &[]);
    let utterances: Vec<Value> = read(d, "ck/utterances.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let root = utterances.iter().find(|u| u["id"] == ROOT).unwrap();
    assert_eq!(root["meta"]["theme_coders"], ROOT_CODERS);
    assert!(utterances
        .iter()
        .all(|u| u["meta"]["theme_coders"].is_string()));
    // Declared in the index as every other meta key is (ConvoKit reads it from there).
    let index: Value = serde_json::from_str(&read(d, "ck/index.json")).unwrap();
    assert!(index["utterances-index"]["theme_coders"].is_array());
}

#[test]
fn markdown_and_html_show_codes_and_theme_tables_unless_no_themes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    export(d, "markdown", "md", &[]);
    let md = all_files(&d.join("md"));
    assert!(md.contains("## Themes"), "{md}");
    assert!(
        md.contains("| Theme | Posts | Share | Authors | First raised by | At depth | Coded by |"),
        "{md}"
    );
    assert!(
        md.contains("| In the customer's shoes (outside-in) (`customer-shoes`) |"),
        "{md}"
    );
    assert!(md.contains("*themes: customer-shoes (“"), "{md}");
    // Every theme row names its coders, here the patterns alone.
    let rows: Vec<&str> = md
        .lines()
        .filter(|l| l.contains("(`") && l.starts_with('|'))
        .collect();
    assert!(!rows.is_empty());
    for row in rows {
        let coded_by = row.trim_end_matches(" |").rsplit(" | ").next().unwrap();
        assert!(coded_by.starts_with("pattern "), "{row}");
    }

    export(d, "html", "html", &[]);
    let html = all_files(&d.join("html"));
    assert!(html.contains("<h2>Themes</h2>"));
    assert!(html.contains("<th>Coded by</th>"));
    assert!(html.contains("themes: customer-shoes (“"), "{html}");

    // --themes, kept for scripts, changes nothing.
    export(d, "markdown", "md-themes", &["--themes"]);
    assert_eq!(all_files(&d.join("md-themes")), md);
    export(d, "html", "html-themes", &["--themes"]);
    assert_eq!(all_files(&d.join("html-themes")), html);

    // --no-themes leaves every trace of them out.
    export(d, "markdown", "md-plain", &["--no-themes"]);
    let plain = all_files(&d.join("md-plain"));
    assert!(
        plain.contains("**Gripnostril**"),
        "the transcript is still there"
    );
    assert!(
        !plain.contains("themes:") && !plain.contains("## Themes"),
        "{plain}"
    );
    export(d, "html", "html-plain", &["--no-themes"]);
    let plain = all_files(&d.join("html-plain"));
    assert!(plain.contains("Gripnostril"));
    assert!(!plain.contains("themes:") && !plain.contains("<h2>Themes</h2>"));

    // Asking for both, or for a codebook without themes, is a mistake to point out.
    for extra in [
        &["--no-themes", "--themes"][..],
        &["--no-themes", "--codebook", "x.toml"],
    ] {
        let input = seed();
        let mut args = vec!["export", "markdown", "--out", "bad"];
        args.extend(extra);
        args.extend(["--input", input.as_str()]);
        let o = rethread(d, &args);
        assert!(!o.status.success(), "{extra:?}");
        assert!(stderr(&o).contains("--no-themes"), "{}", stderr(&o));
    }
}

/// The quick start's first command, as the README writes it, shows threads, transcripts and
/// themes from the bundled fixtures, offline.
#[test]
fn the_quick_start_shows_threads_transcripts_and_themes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find("## Quick start").expect("a quick start");
    let line = readme[start..]
        .lines()
        .find_map(|l| l.trim().strip_prefix("cargo run --release -- "))
        .expect("the quick start runs rethread with cargo run");
    let dir = tempfile::tempdir().unwrap();
    // Run in a scratch directory, the fixtures named from the checkout.
    let args: Vec<String> = line
        .split_whitespace()
        .map(|a| {
            if a.starts_with("fixtures/") {
                root.join(a).to_str().unwrap().to_string()
            } else {
                a.to_string()
            }
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(dir.path(), &args);
    let out = args[args.iter().position(|&a| a == "--out").unwrap() + 1];
    let index = read(dir.path(), &format!("{out}/index.md"));
    assert!(index.contains("2 threads"), "{index}");
    assert!(index.contains("| Top themes |"), "{index}");
    assert!(
        index.contains("Over-designed, rigid systems (5)"),
        "{index}"
    );
    let all = all_files(&dir.path().join(out));
    assert_eq!(all.matches("# Thread ").count(), 2, "two transcripts");
    assert_eq!(all.matches("## Themes").count(), 2, "a theme table each");
    assert!(all.contains("*themes: "), "codes under the posts");
}
