//! `rethread themes` and `export markdown --themes`, end to end.

mod common;

use common::*;
use serde_json::Value;

const BOOK: &str = r#"
[meta]
name = "test-book"
language = "en"

[[theme]]
id = "training"
label = "Training"
patterns = ["train"]
examples = ["more training please"]

[[theme]]
id = "rigid"
label = "Rigid rules"
patterns = ["rigid NEAR/3 rule", "inflexib*"]
exclude = ["rigid plastic"]
examples = ["rigid rules"]
"#;

fn corpus(dir: &std::path::Path) {
    let lines = [
        status(1, None, "ana", "<p>Why are the rules so rigid?</p>"),
        status(
            2,
            Some(1),
            "bo",
            "<p>Staff get no training. Inflexible <b>rules</b>!</p>",
        ),
        status(
            3,
            Some(1),
            "cy",
            "<p>More training: [click](http://evil.example) &lt;script&gt; # heading</p>",
        ),
        status(4, Some(2), "ana", "<p>Rigid plastic chairs, too.</p>"),
        status(5, None, "dee", "<p>Nothing to see here.</p>"),
    ];
    std::fs::write(dir.join("posts.jsonl"), lines.join("\n")).unwrap();
    std::fs::write(dir.join("book.toml"), BOOK).unwrap();
}

#[test]
fn the_summary_counts_posts_threads_and_authors_per_theme() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    let csv = ok(
        dir.path(),
        &[
            "themes",
            "--codebook",
            "book.toml",
            "--input",
            "posts.jsonl",
            "--format",
            "csv",
        ],
    );
    assert_eq!(
        csv.lines().collect::<Vec<_>>(),
        [
            "theme,label,posts,threads,authors",
            "training,Training,2,1,2",
            "rigid,Rigid rules,2,1,2",
        ]
    );
    let json: Value = serde_json::from_str(&ok(
        dir.path(),
        &[
            "themes",
            "--codebook",
            "book.toml",
            "--input",
            "posts.jsonl",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    assert_eq!(json["posts"], 5);
    assert_eq!(
        json["uncoded"], 2,
        "the plastic chairs and the empty thread"
    );
    let thread = json["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["posts"] == 4)
        .unwrap();
    let rigid = thread["themes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "rigid")
        .unwrap();
    assert_eq!(rigid["first"]["author"], "ana@h.example");
    assert_eq!(rigid["first"]["depth"], 0);
    assert_eq!(rigid["quotes"][1]["evidence"][0], "Inflexible");
    assert_eq!(
        thread["together"][0]["themes"],
        serde_json::json!(["training", "rigid"])
    );
    assert_eq!(thread["branches"].as_array().unwrap().len(), 2);
    let table = ok(
        dir.path(),
        &[
            "themes",
            "--codebook",
            "book.toml",
            "--input",
            "posts.jsonl",
        ],
    );
    assert!(table.contains("5 posts, 2 with no code (40.0%)"), "{table}");
}

#[test]
fn transcripts_show_codes_with_escaped_evidence_and_a_theme_table() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    ok(
        dir.path(),
        &[
            "export",
            "markdown",
            "--input",
            "posts.jsonl",
            "--out",
            "md",
            "--themes",
            "--codebook",
            "book.toml",
        ],
    );
    let md: String = std::fs::read_dir(dir.path().join("md"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(md.contains("## Themes"));
    assert!(
        md.contains("| Rigid rules (`rigid`) | 2 | 50% | 2 | ana@h.example | 0 |"),
        "{md}"
    );
    assert!(
        md.contains("*themes: training (“training”); rigid (“Inflexible”)*"),
        "{md}"
    );
    // Post text and evidence stay text: no link, no HTML, no heading gets through.
    assert!(md.contains(r"\[click\](http://evil.example)") && !md.contains("[click]("));
    assert!(!md.contains("<script>"));
    assert!(!md.lines().any(|l| l.starts_with("# heading")));
    // Themes are shown by default now (`--themes` is kept so that older scripts still run);
    // with --no-themes, nothing of them.
    ok(
        dir.path(),
        &[
            "export",
            "markdown",
            "--input",
            "posts.jsonl",
            "--out",
            "plain",
            "--no-themes",
        ],
    );
    let plain: String = std::fs::read_dir(dir.path().join("plain"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert!(!plain.contains("themes:") && !plain.contains("## Themes"));
}

#[test]
fn the_built_in_codebook_prints_and_a_bad_one_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let toml = ok(dir.path(), &["themes", "codebook"]);
    assert!(toml.contains("id = \"rigid-systems\""));
    std::fs::write(dir.path().join("default.toml"), &toml).unwrap();
    let o = rethread(
        dir.path(),
        &["themes", "codebook", "--check", "default.toml"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(
        dir.path().join("bad.toml"),
        BOOK.replace("\"inflexib*\"", "\"in*flexible\""),
    )
    .unwrap();
    let o = rethread(dir.path(), &["themes", "codebook", "--check", "bad.toml"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("bad.toml") && err.contains("theme \"rigid\", pattern \"in*flexible\""),
        "{err}"
    );
}

#[test]
fn eval_scores_a_codebook_against_labelled_texts() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    std::fs::write(
        dir.path().join("gold.csv"),
        "id,text,themes\n1,more training please,training\n2,\"rigid, inflexible rules\",rigid;training\n3,nothing,\n4,rigid plastic rules,rigid\n",
    )
    .unwrap();
    let json: Value = serde_json::from_str(&ok(
        dir.path(),
        &[
            "themes",
            "eval",
            "--codebook",
            "book.toml",
            "--gold",
            "gold.csv",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    let training = &json["themes"]["training"];
    assert_eq!(training["precision"], 1.0);
    assert_eq!(training["recall"], 0.5);
    assert_eq!(training["support"], 2);
    // "rigid plastic rules" is excluded by the codebook: a false negative.
    assert_eq!(json["themes"]["rigid"]["recall"], 0.5);
    for avg in ["micro", "macro"] {
        for k in ["precision", "recall", "f1", "support"] {
            assert!(json[avg][k].is_number(), "{avg}.{k}");
        }
    }
    assert_eq!(json["micro"]["support"], 4);
    assert_eq!(json["false_negatives"].as_array().unwrap().len(), 2);
    let table = ok(
        dir.path(),
        &[
            "themes",
            "eval",
            "--codebook",
            "book.toml",
            "--gold",
            "gold.csv",
        ],
    );
    assert!(table.contains("false negatives (2):"), "{table}");
    // A gold file without the columns is a clear error.
    std::fs::write(dir.path().join("bad.csv"), "id,body\n1,x\n").unwrap();
    let o = rethread(
        dir.path(),
        &[
            "themes",
            "eval",
            "--codebook",
            "book.toml",
            "--gold",
            "bad.csv",
        ],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("bad.csv: no column \"text\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn eval_runs_on_the_labelled_real_data() {
    let Some(data) = shared_data("eval_runs_on_the_labelled_real_data") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // complaints-data.csv (headerless id,text,complaint,domain) as a gold CSV.
    let mut w = csv::Writer::from_path(dir.path().join("gold.csv")).unwrap();
    w.write_record(["id", "text", "themes"]).unwrap();
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(data.join("labeled/complaints-data.csv"))
        .unwrap();
    let mut complaints = 0;
    for rec in r.records() {
        let rec = rec.unwrap();
        let yes = rec[2].trim() == "1";
        complaints += yes as usize;
        w.write_record([&rec[0], &rec[1], if yes { "complaint" } else { "" }])
            .unwrap();
    }
    w.flush().unwrap();
    let book = fixture("codebooks/complaints.toml");
    let json: Value = serde_json::from_str(&ok(
        dir.path(),
        &[
            "themes",
            "eval",
            "--codebook",
            book.to_str().unwrap(),
            "--gold",
            "gold.csv",
            "--format",
            "json",
        ],
    ))
    .unwrap();
    let c = &json["themes"]["complaint"];
    assert_eq!(c["support"], complaints);
    let (p, r, f) = (
        c["precision"].as_f64().unwrap(),
        c["recall"].as_f64().unwrap(),
        c["f1"].as_f64().unwrap(),
    );
    assert!((f - 2.0 * p * r / (p + r)).abs() < 1e-9);
    assert!(p > 0.0 && r > 0.0, "the codebook finds complaints at all");
    let fp = json["false_positives"].as_array().unwrap().len() as f64;
    let tp = r * complaints as f64;
    assert!(
        (p - tp / (tp + fp)).abs() < 1e-9,
        "precision agrees with the listed false positives"
    );
}

#[test]
fn jsonl_and_csv_exports_carry_structure_gaps_and_themes() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    // A reply to a post that is not in the file: a gap row.
    let mut lines = std::fs::read_to_string(dir.path().join("posts.jsonl")).unwrap();
    lines.push('\n');
    lines.push_str(&status(
        7,
        Some(99),
        "gus",
        "<p>training, \"quoted\", and a comma</p>",
    ));
    std::fs::write(dir.path().join("posts.jsonl"), lines).unwrap();
    ok(
        dir.path(),
        &[
            "export",
            "jsonl",
            "--input",
            "posts.jsonl",
            "--codebook",
            "book.toml",
            "--out",
            "out.jsonl",
        ],
    );
    let rows: Vec<Value> = std::fs::read_to_string(dir.path().join("out.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 7, "six posts and one gap");
    let by_id = |id: &str| rows.iter().find(|r| r["id"] == id).unwrap();
    assert_eq!(by_id("4")["parent"], "2");
    assert_eq!(by_id("4")["depth"], 2);
    assert_eq!(by_id("4")["thread"], "mastodon-1");
    let gap = by_id("99");
    assert_eq!(gap["gap"], true);
    assert_eq!(gap["reason"], "not in corpus");
    assert_eq!(by_id("7")["parent"], "99");
    // Evidence offsets point at the evidence in the text, in characters.
    for r in rows.iter().filter(|r| r["gap"] == false) {
        let text: Vec<char> = r["text"].as_str().unwrap().chars().collect();
        for t in r["themes"].as_array().unwrap() {
            let (s, e) = (
                t["start"].as_u64().unwrap() as usize,
                t["end"].as_u64().unwrap() as usize,
            );
            assert_eq!(
                text[s..e].iter().collect::<String>(),
                t["text"].as_str().unwrap()
            );
        }
    }
    assert_eq!(by_id("2")["themes"][0]["theme"], "training");

    ok(
        dir.path(),
        &[
            "export",
            "csv",
            "--input",
            "posts.jsonl",
            "--codebook",
            "book.toml",
            "--out",
            "csv",
        ],
    );
    let read = |name: &str| -> Vec<csv::StringRecord> {
        csv::Reader::from_path(dir.path().join("csv").join(name))
            .unwrap()
            .records()
            .map(Result::unwrap)
            .collect()
    };
    let posts = read("posts.csv");
    assert_eq!(posts.len(), 7);
    let seven = posts.iter().find(|r| &r[1] == "7").unwrap();
    assert_eq!(
        &seven[10], "training, \"quoted\", and a comma",
        "RFC 4180 quoting round-trips"
    );
    assert_eq!(&seven[13], "training");
    let edges = read("edges.csv");
    assert_eq!(edges.len(), 4, "every row but the three roots has a parent");
    assert!(edges
        .iter()
        .any(|e| &e[1] == "7" && &e[2] == "99" && &e[3] == "reply"));
    let threads = read("threads.csv");
    assert_eq!(threads.len(), 3);
    assert!(threads
        .iter()
        .any(|t| &t[0] == "mastodon-99" && &t[9] == "false"));
}
