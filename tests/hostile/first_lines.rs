//! Defect 3 of issue 11: a blank, whitespace-only or malformed first line made a JSON Lines file
//! read as one JSON document, so `import --skip-bad` stored none of its records ("skipped 1
//! malformed records of 1"). Blank lines are passed over, and a bad first line is a bad line
//! like any other: named as line 1, skipped with `--skip-bad`, in every JSON Lines format,
//! detected or forced.

use crate::common::{fixture, ok, rethread, stderr};
use std::path::Path;

/// A JSON Lines sample of one format: its records, one a line, and how many posts they hold.
struct Sample {
    format: &'static str,
    lines: Vec<String>,
    posts: u64,
}

fn fixture_lines(name: &str) -> Vec<String> {
    std::fs::read_to_string(fixture(name))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn samples() -> Vec<Sample> {
    let flattened = (1..=3)
        .map(|i| {
            let reply = match i {
                1 => String::new(),
                _ => format!(r#","referenced_tweets":[{{"type":"replied_to","id":"{}"}}]"#, i - 1),
            };
            format!(
                r#"{{"id":"{i}","text":"tweet {i}","author_id":"7","conversation_id":"1","created_at":"2020-01-01T00:0{i}:00.000Z","author":{{"id":"7","username":"ana"}}{reply}}}"#
            )
        })
        .collect();
    let convokit = (1..=3)
        .map(|i| {
            let reply = match i {
                1 => "null".to_string(),
                _ => format!("\"u{}\"", i - 1),
            };
            format!(
                r#"{{"id":"u{i}","speaker":"s{i}","conversation_id":"u1","reply_to":{reply},"timestamp":{},"text":"utterance {i}","meta":{{}}}}"#,
                1_500_000_000 + i
            )
        })
        .collect();
    vec![
        Sample {
            format: "mastodon",
            lines: fixture_lines("seed002/mastodon.jsonl"),
            posts: 17,
        },
        Sample {
            format: "twarc2",
            lines: fixture_lines("seed002/twarc2.jsonl"),
            posts: 17,
        },
        Sample {
            format: "twarc1",
            lines: fixture_lines("seed002/twarc1.jsonl"),
            posts: 17,
        },
        Sample {
            format: "twarc2",
            lines: flattened,
            posts: 3,
        },
        Sample {
            format: "convokit",
            lines: convokit,
            posts: 3,
        },
    ]
}

/// Posts stored in the corpus at `db`.
fn stored(db: &Path) -> u64 {
    rethread::corpus::Corpus::open_existing(db)
        .unwrap()
        .post_count()
        .unwrap()
}

/// Posts over all threads `threads --format json` lists for these arguments.
fn posts_in_threads(dir: &Path, args: &[&str]) -> u64 {
    let mut all = vec!["threads", "--format", "json"];
    all.extend_from_slice(args);
    let json: serde_json::Value = serde_json::from_str(&ok(dir, &all)).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .map(|t| t["posts"].as_u64().unwrap())
        .sum()
}

/// `first` then the sample's records, each line ending in `eol`.
fn write(dir: &Path, name: &str, first: &str, sample: &Sample, eol: &str) {
    let mut text = format!("{first}{eol}");
    for line in &sample.lines {
        text.push_str(line);
        text.push_str(eol);
    }
    std::fs::write(dir.join(name), text).unwrap();
}

#[test]
fn blank_first_lines_are_passed_over_in_every_json_lines_format() {
    for sample in samples() {
        for (first, eol) in [("", "\n"), (" \t ", "\n"), ("", "\r\n"), ("  ", "\r\n")] {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            write(d, "in.jsonl", first, &sample, eol);
            let what = format!("{} with first line {first:?}{eol:?}", sample.format);
            // Detected and forced alike.
            for forced in [false, true] {
                let db = format!("corpus-{forced}.db");
                let mut args = vec!["import", "--db", &db, "in.jsonl"];
                if forced {
                    args.extend(["--format", sample.format]);
                }
                ok(d, &args);
                assert_eq!(
                    stored(&d.join(&db)),
                    sample.posts,
                    "{what}, forced {forced}"
                );
                let mut input = vec!["--input", "in.jsonl"];
                if forced {
                    input.extend(["--input-format", sample.format]);
                }
                assert_eq!(
                    posts_in_threads(d, &input),
                    sample.posts,
                    "{what}, forced {forced}"
                );
            }
        }
    }
}

#[test]
fn a_malformed_first_line_is_line_1_stopped_at_or_skipped() {
    // Broken in the ways a first line gets broken: cut off, garbage, a stray array.
    let broken = [r#"{"id": "1", "content": "#, "not json at all", "[1, 2]"];
    for sample in samples() {
        for bad in broken {
            let dir = tempfile::tempdir().unwrap();
            let d = dir.path();
            write(d, "in.jsonl", bad, &sample, "\n");
            let what = format!("{} after {bad:?}", sample.format);
            for forced in [false, true] {
                let db = format!("corpus-{forced}.db");
                let mut args = vec!["import", "--db", &db, "in.jsonl"];
                if forced {
                    args.extend(["--format", sample.format]);
                }
                // Strict: the first line is named, and the import stops there (nothing came
                // before it to keep).
                let o = rethread(d, &args);
                assert!(!o.status.success(), "{what}: strict import must fail");
                let err = stderr(&o);
                assert!(err.contains("in.jsonl:1:"), "{what}: {err}");
                assert_eq!(stored(&d.join(&db)), 0, "{what}");
                // --skip-bad: line 1 is skipped and every record after it is stored.
                args.push("--skip-bad");
                let o = rethread(d, &args);
                let err = stderr(&o);
                assert!(o.status.success(), "{what}: {err}");
                let of = sample.lines.len() + 1;
                assert!(
                    err.contains(&format!("skipped 1 malformed records of {of}")),
                    "{what}: {err}"
                );
                assert!(err.contains("in.jsonl:1:"), "{what}: {err}");
                assert_eq!(
                    stored(&d.join(&db)),
                    sample.posts,
                    "{what}, forced {forced}"
                );

                let mut input = vec!["threads", "--input", "in.jsonl"];
                if forced {
                    input.extend(["--input-format", sample.format]);
                }
                let o = rethread(d, &input);
                assert!(!o.status.success(), "{what}");
                assert!(stderr(&o).contains("in.jsonl:1:"), "{what}: {}", stderr(&o));
                input.push("--skip-bad");
                assert_eq!(posts_in_threads(d, &input[1..]), sample.posts, "{what}");
            }
        }
    }
}

/// A bad line after good ones still keeps the good ones in strict mode, with blank lines before
/// them: what held for a bad line 5 holds with a blank line 1.
#[test]
fn a_bad_line_after_a_blank_first_line_keeps_the_records_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut lines = fixture_lines("seed002/twarc1.jsonl");
    lines.insert(4, "{\"id_str\": ".into());
    let sample = Sample {
        format: "twarc1",
        lines,
        posts: 17,
    };
    write(d, "in.jsonl", "", &sample, "\n");
    let o = rethread(d, &["import", "--db", "c.db", "in.jsonl"]);
    assert!(!o.status.success());
    // Line 1 is blank, the four tweets are lines 2-5, the broken one line 6.
    assert!(stderr(&o).contains("in.jsonl:6:"), "{}", stderr(&o));
    assert_eq!(stored(&d.join("c.db")), 4);
}

/// Pretty-printed documents are still read as documents: their first line is `[` or `{`, not a
/// whole object, and their other lines are not whole objects at the start of a line.
#[test]
fn pretty_printed_documents_are_still_one_document() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let statuses: Vec<serde_json::Value> = fixture_lines("seed002/mastodon.jsonl")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    std::fs::write(
        d.join("array.json"),
        format!("\n{}", serde_json::to_string_pretty(&statuses).unwrap()),
    )
    .unwrap();
    let context = serde_json::json!({"ancestors": statuses[..1], "descendants": statuses[1..]});
    std::fs::write(
        d.join("context.json"),
        serde_json::to_string_pretty(&context).unwrap(),
    )
    .unwrap();
    for file in ["array.json", "context.json"] {
        ok(d, &["import", "--db", "c.db", file]);
        assert_eq!(stored(&d.join("c.db")), 17, "{file}");
        assert_eq!(posts_in_threads(d, &["--input", file]), 17, "{file}");
    }
}
