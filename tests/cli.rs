//! End-to-end tests of the `rethread` binary: what a researcher types, what they get back.

mod common;

use common::*;
use pulldown_cmark::{Event, Parser, Tag, TagEnd};
use std::path::{Path, PathBuf};

/// Plain text of each paragraph of a markdown document, as a CommonMark reader sees it.
fn paragraphs(md: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur: Option<String> = None;
    for e in Parser::new(md) {
        match e {
            Event::Start(Tag::Paragraph) => cur = Some(String::new()),
            Event::End(TagEnd::Paragraph) => out.extend(cur.take()),
            Event::Text(t) | Event::Code(t) => {
                if let Some(c) = cur.as_mut() {
                    c.push_str(&t);
                }
            }
            Event::SoftBreak | Event::HardBreak => {
                if let Some(c) = cur.as_mut() {
                    c.push('\n');
                }
            }
            _ => {}
        }
    }
    out
}

/// The utterances of the seed 002 transcript, `(handle, text)` in the order the author wrote.
fn seed_002_utterances() -> Option<Vec<(String, String)>> {
    let seeds = shared("seeds", "seed 002 comparison")?;
    let file = std::fs::read_dir(&seeds)
        .ok()?
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("002_"))?;
    let text = std::fs::read_to_string(file).ok()?;
    let start = text.find("Twitter Transcript")?;
    let end = text.find("So, for me")?;
    Some(
        text[start..end]
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(": "))
            .map(|(h, t)| (h.trim().to_string(), t.trim().to_string()))
            .collect(),
    )
}

/// Export the given fixture and return the `(handle, text)` lines of its one transcript. Without
/// the themes (`--no-themes`): these tests compare the posts with the seed's own words, and the
/// themes under each post have tests of their own (tests/export_themes.rs).
fn transcript_lines(dir: &Path, input: &Path, layout: &str) -> Vec<(String, String)> {
    let stem = input.file_stem().unwrap().to_string_lossy();
    let out = dir.join(format!("md-{layout}-{stem}"));
    ok(
        dir,
        &[
            "export",
            "markdown",
            "--input",
            input.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--layout",
            layout,
            "--no-themes",
        ],
    );
    let files: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "index.md")
        .collect();
    assert_eq!(files.len(), 1, "one thread: {files:?}");
    let md = std::fs::read_to_string(&files[0]).unwrap();
    let mut lines = Vec::new();
    if layout == "tree" {
        // List items: their text, in document order.
        let mut in_item = false;
        let mut cur = String::new();
        for e in Parser::new(&md) {
            match e {
                Event::Start(Tag::Item) => {
                    if in_item && !cur.is_empty() {
                        lines.push(std::mem::take(&mut cur));
                    }
                    in_item = true;
                    cur.clear();
                }
                Event::End(TagEnd::Item) => {
                    if !cur.is_empty() {
                        lines.push(std::mem::take(&mut cur));
                    }
                    in_item = false;
                }
                Event::Text(t) if in_item => cur.push_str(&t),
                _ => {}
            }
        }
    } else {
        lines = paragraphs(&md);
    }
    lines
        .into_iter()
        .filter_map(|p| {
            let (h, t) = p.split_once(": ")?;
            // Header lines ("Platform: …") are list items of the header, not posts.
            if [
                "Platform",
                "Root",
                "Posts",
                "Participants",
                "Time span",
                "Depth",
                "Gaps",
                "Reposts",
            ]
            .contains(&h)
            {
                return None;
            }
            // Mastodon handles carry their server; the seed wrote bare names.
            Some((h.split('@').next().unwrap().to_string(), t.to_string()))
        })
        .collect()
}

#[test]
fn seed_002_comes_back_whole_and_in_order_from_every_fixture() {
    let dir = tempfile::tempdir().unwrap();
    for fixture_file in [
        "seed002/twarc2.jsonl",
        "seed002/mastodon.jsonl",
        "seed002/twarc1.jsonl",
    ] {
        let got = transcript_lines(dir.path(), &fixture(fixture_file), "chronological");
        assert_eq!(got.len(), 17, "{fixture_file}: {got:#?}");
        assert_eq!(got[0].0, "Gripnostril");
        assert_eq!(got[16].0, "audaciousgloop");
        if let Some(seed) = seed_002_utterances() {
            assert_eq!(seed.len(), 17, "the seed transcript has 17 utterances");
            assert_eq!(
                got, seed,
                "{fixture_file}: every utterance, as written, in the seed's order"
            );
        }
    }
}

#[test]
fn the_tree_layout_nests_the_seed_exchange_by_reply() {
    let dir = tempfile::tempdir().unwrap();
    let got = transcript_lines(dir.path(), &fixture("seed002/twarc2.jsonl"), "tree");
    assert_eq!(got.len(), 17);
    // Depth first: the root, "can you elaborate?", then the branch under Gripnostril's reply.
    assert!(
        got[1].1.starts_with("@Gripnostril can you elaborate?"),
        "{got:#?}"
    );
    assert!(
        got[2].1.starts_with("@audaciousgloop Persoanlly"),
        "{got:#?}"
    );
    assert!(
        got[3].1.starts_with("@Gripnostril is this a lamentation"),
        "{got:#?}"
    );
}

#[test]
fn import_upserts_and_reading_from_db_or_files_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let twarc = fixture("seed002/twarc2.jsonl");
    let masto = fixture("seed002/mastodon.jsonl");
    let (t, m) = (twarc.to_str().unwrap(), masto.to_str().unwrap());
    let first = rethread(d, &["import", t, m]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(
        stderr(&first).contains("34 posts in the corpus"),
        "{}",
        stderr(&first)
    );
    // The two twarc2 pages overlap by one tweet: 18 tweets read, 17 stored.
    assert!(
        stderr(&first).contains("17 new, 0 updated, 1 unchanged"),
        "{}",
        stderr(&first)
    );
    let again = rethread(d, &["import", t, m]);
    assert!(
        stderr(&again).contains("0 new, 0 updated, 18 unchanged"),
        "{}",
        stderr(&again)
    );
    assert!(stderr(&again).contains("34 posts in the corpus"));

    let from_db = ok(d, &["threads", "--format", "json"]);
    let from_files = ok(d, &["threads", "--format", "json", "--input", t, m]);
    assert_eq!(from_db, from_files);
    let json: serde_json::Value = serde_json::from_str(&from_db).unwrap();
    let threads = json.as_array().unwrap();
    assert_eq!(threads.len(), 2);
    for th in threads {
        let keys: Vec<&str> = th.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = vec![
            "id",
            "root",
            "posts",
            "gaps",
            "depth",
            "breadth",
            "participants",
            "start",
            "end",
            "complete",
        ];
        want.sort();
        let mut keys = keys.clone();
        keys.sort();
        assert_eq!(keys, want);
        assert_eq!(th["posts"], 17);
        assert_eq!(th["gaps"], 0);
        assert_eq!(th["participants"], 3);
        assert_eq!(th["depth"], 11);
        assert_eq!(th["breadth"], 3);
        assert_eq!(th["start"], "2010-03-16T09:00:00.000Z");
    }
    let csv = ok(d, &["threads", "--format", "csv"]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("id,root,posts,gaps,depth,breadth,participants,start,end,complete")
    );
    assert_eq!(lines.count(), 2);
    assert_eq!(
        ok(d, &["threads", "--format", "csv", "--min-posts", "18"])
            .lines()
            .count(),
        1
    );
    let table = ok(d, &["threads"]);
    assert!(table.lines().next().unwrap().starts_with("id"));
    assert_eq!(table.lines().count(), 3);
}

fn status_line(id: u32, reply_to: Option<u32>) -> String {
    serde_json::json!({
        "id": id.to_string(),
        "created_at": format!("2024-01-01T00:00:{:02}.000Z", id),
        "in_reply_to_id": reply_to.map(|r| r.to_string()),
        "content": format!("<p>post {id}</p>"),
        "visibility": "public",
        "uri": format!("https://h.example/users/a/statuses/{id}"),
        "account": {"id": "1", "username": "a", "acct": "a", "url": "https://h.example/@a"}
    })
    .to_string()
}

#[test]
fn a_malformed_line_stops_with_file_and_line_and_keeps_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lines = [
        status_line(1, None),
        status_line(2, Some(1)),
        status_line(3, Some(2)),
        "{\"id\": \"4\", \"content\": ".to_string(),
        status_line(5, Some(3)),
        status_line(6, Some(5)),
    ];
    let file = d.join("statuses.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let f = file.to_str().unwrap();

    let o = rethread(d, &["import", f]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{f}:4:")),
        "names file and line: {err}"
    );
    assert!(err.contains("malformed"), "{err}");
    assert!(err.contains("3 posts read before it are saved"), "{err}");
    let count = rethread::corpus::Corpus::open_existing(&d.join("rethread.db"))
        .unwrap()
        .post_count()
        .unwrap();
    assert_eq!(count, 3, "nothing before the bad record is lost");

    let o = rethread(d, &["import", f, "--skip-bad"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("skipped 1 malformed records of 6"), "{err}");
    assert!(err.contains(&format!("{f}:4:")), "{err}");
    assert!(err.contains("5 posts in the corpus"), "{err}");

    // Reading commands behave the same with --input.
    let o = rethread(d, &["threads", "--input", f]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains(&format!("{f}:4:")), "{}", stderr(&o));
    let o = rethread(
        d,
        &["threads", "--input", f, "--skip-bad", "--format", "csv"],
    );
    assert!(o.status.success());
    assert!(stderr(&o).contains("skipped 1 malformed records"));
    assert_eq!(stdout(&o).lines().count(), 2, "one thread of five posts");
}

#[test]
fn a_truncated_csv_row_is_reported_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("twcs.csv");
    std::fs::write(
        &file,
        "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n\
         1,a,True,Tue Oct 31 22:10:47 +0000 2017,hello,2,\n\
         2,b,False,Tue Oct 31 22:11:47 +0000 2017,\"hi there,",
    )
    .unwrap();
    let o = rethread(d, &["import", file.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("twcs.csv:3:"), "{err}");
    assert!(err.contains("1 posts read before it are saved"), "{err}");
}

#[test]
fn unknown_missing_and_mismatched_inputs_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let odd = d.join("notes.json");
    std::fs::write(&odd, "{\"hello\": \"world\"}\n").unwrap();
    let o = rethread(d, &["import", odd.to_str().unwrap()]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("notes.json") && stderr(&o).contains("--format"),
        "{}",
        stderr(&o)
    );

    let empty = d.join("empty.jsonl");
    std::fs::write(&empty, "\n").unwrap();
    let o = rethread(d, &["import", empty.to_str().unwrap()]);
    assert!(o.status.success(), "an empty collection is not an error");
    assert!(
        stderr(&o).contains("empty.jsonl: the file is empty"),
        "{}",
        stderr(&o)
    );

    let o = rethread(d, &["import", "no-such-file.jsonl"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("no-such-file.jsonl"), "{}", stderr(&o));

    let twarc = fixture("seed002/twarc2.jsonl");
    let o = rethread(
        d,
        &["import", twarc.to_str().unwrap(), "--format", "mastodon"],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("twarc2.jsonl:1:"), "{}", stderr(&o));

    let o = rethread(d, &["import", twarc.to_str().unwrap(), "--format", "excel"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("excel"), "{}", stderr(&o));

    let o = rethread(d, &["threads", "--db", "nope.db"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("nope.db"), "{}", stderr(&o));
    assert!(
        !d.join("nope.db").exists(),
        "a reading command never creates a corpus"
    );
}

#[test]
fn coverage_without_a_collection_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let o = rethread(d, &["coverage", "--db", "nope.db"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("nope.db: no such corpus"),
        "{}",
        stderr(&o)
    );
    assert!(!d.join("nope.db").exists());
    // An imported corpus has no collection that recorded its servers.
    let twarc = fixture("seed002/twarc2.jsonl");
    assert!(rethread(d, &["import", twarc.to_str().unwrap()])
        .status
        .success());
    let o = rethread(d, &["coverage"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o)
            .contains("no Mastodon collection in it recorded which server returned which post"),
        "{}",
        stderr(&o)
    );
    let o = rethread(d, &["coverage", "--job", "0123"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--job \"0123\": no such collection"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn ids_from_the_data_never_write_outside_the_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = d.join("evil.jsonl");
    let status = serde_json::json!({
        "id": "../../../escaped",
        "content": "<p># heading? <img src=x onerror=alert(1)></p>",
        "account": {"id": "1", "username": "a", "acct": "a", "url": "https://h.example/@a"}
    });
    std::fs::write(&file, status.to_string()).unwrap();
    let out = d.join("deep/out");
    ok(
        d,
        &[
            "export",
            "markdown",
            "--input",
            file.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    let written: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(written.len(), 2, "{written:?}");
    assert!(!d.join("escaped.md").exists() && !d.join("deep/escaped.md").exists());
    let all: Vec<_> = walk(d);
    assert!(
        all.iter().all(|p| p.starts_with(&out) || p == &file),
        "{all:?}"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn export_can_pick_threads_and_rejects_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (t, m) = (
        fixture("seed002/twarc2.jsonl"),
        fixture("seed002/mastodon.jsonl"),
    );
    ok(d, &["import", t.to_str().unwrap(), m.to_str().unwrap()]);
    let ids: Vec<String> = ok(d, &["threads", "--format", "csv"])
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().to_string())
        .collect();
    ok(
        d,
        &["export", "markdown", "--out", "one", "--thread", &ids[1]],
    );
    let files: Vec<_> = std::fs::read_dir(d.join("one"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 2, "one transcript and the index");
    let index = std::fs::read_to_string(d.join("one/index.md")).unwrap();
    assert!(index.contains(&format!("({}.md)", ids[1])), "{index}");
    // Exporting the other thread into the same directory: the first one's file is stale now.
    let o = rethread(
        d,
        &["export", "markdown", "--out", "one", "--thread", &ids[0]],
    );
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("warning: 1 other .md files in one are not from this export"),
        "{}",
        stderr(&o)
    );
    let o = rethread(
        d,
        &["export", "markdown", "--out", "x", "--thread", "twitter-0"],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("twitter-0"));
}

#[test]
fn reply_cycles_in_bad_data_are_cut_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 1 replies to 3, 2 to 1, 3 to 2: no root anywhere. 4 replies into the cycle.
    let lines = [
        status_line(1, Some(3)),
        status_line(2, Some(1)),
        status_line(3, Some(2)),
        status_line(4, Some(2)),
    ];
    let file = d.join("cycle.jsonl");
    std::fs::write(&file, lines.join("\n")).unwrap();
    let f = file.to_str().unwrap();
    let o = rethread(
        d,
        &[
            "threads",
            "--input",
            f,
            "--format",
            "csv",
            "--input-format",
            "mastodon",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("reply cycle among 3 posts (1 → 2 → 3); cut the reply link from 1 to 3"),
        "{err}"
    );
    let out = stdout(&o);
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "one thread holds all four posts");
    assert!(rows[0].starts_with("mastodon-1,1,4,0,2,"), "{}", rows[0]);
    // The same cut on every run.
    let again = rethread(d, &["threads", "--input", f, "--format", "csv"]);
    assert_eq!(stdout(&again), stdout(&o));
}

#[test]
fn convokit_utterances_and_a_twitter_archive_are_detected_and_threaded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let utterances = d.join("utterances.jsonl");
    std::fs::write(
        &utterances,
        [
            r#"{"id": "u1", "speaker": "ann", "conversation_id": "u1", "reply_to": null, "timestamp": 1262304000, "text": "Who designs these systems?", "meta": {}, "vectors": []}"#,
            r#"{"id": "u2", "speaker": "bob", "conversation_id": "u1", "reply-to": "u1", "timestamp": 1262304060, "text": "Nobody who uses them.", "meta": {}, "vectors": []}"#,
            r#"{"id": "u3", "speaker": "ann", "conversation_id": "u1", "reply_to": "u2", "timestamp": 1262304120, "text": "Exactly.", "meta": {}, "vectors": []}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let csv = ok(
        d,
        &[
            "threads",
            "--input",
            utterances.to_str().unwrap(),
            "--format",
            "csv",
        ],
    );
    assert_eq!(
        csv.lines().nth(1),
        Some("twitter-u1,u1,3,0,2,1,2,2010-01-01T00:00:00.000Z,2010-01-01T00:02:00.000Z,true")
    );

    let archive = d.join("data");
    std::fs::create_dir(&archive).unwrap();
    std::fs::write(
        archive.join("account.js"),
        r#"window.YTD.account.part0 = [ { "account": { "accountId": "42", "username": "owner", "accountDisplayName": "Owner" } } ]"#,
    )
    .unwrap();
    std::fs::write(
        archive.join("tweets.js"),
        r#"window.YTD.tweets.part0 = [
  { "tweet": { "id_str": "10", "full_text": "Service as a cost &amp; nothing more?", "created_at": "Tue Mar 16 09:00:00 +0000 2010", "lang": "en", "entities": {"hashtags": [], "user_mentions": []} } },
  { "tweet": { "id_str": "11", "full_text": "@owner no, an investment", "created_at": "Tue Mar 16 09:05:00 +0000 2010", "in_reply_to_status_id_str": "10", "in_reply_to_user_id_str": "42", "lang": "en", "entities": {"hashtags": [], "user_mentions": [{"screen_name": "owner"}]} } },
  { "tweet": { "id_str": "12", "full_text": "@someone agreed", "created_at": "Tue Mar 16 09:06:00 +0000 2010", "in_reply_to_status_id_str": "9", "lang": "en" } }
]"#,
    )
    .unwrap();
    let tweets = archive.join("tweets.js");
    ok(d, &["import", tweets.to_str().unwrap()]);
    let csv = ok(d, &["threads", "--format", "csv"]);
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(rows[0].starts_with("twitter-10,10,2,0,1,1,1,"), "{csv}");
    assert!(
        rows[1].starts_with("twitter-9,9,1,1,1,1,1,"),
        "a reply to a tweet not in the archive hangs from a gap: {csv}"
    );
    ok(d, &["export", "markdown", "--out", "md"]);
    let md = std::fs::read_to_string(d.join("md/twitter-10.md")).unwrap();
    assert!(
        md.contains("**owner**: Service as a cost \\& nothing more?"),
        "{md}"
    );
    assert!(md.contains("<https://twitter.com/owner/status/10>"), "{md}");
}

#[test]
fn export_twarc2_round_trips_the_seed_conversation() {
    let dir = tempfile::tempdir().unwrap();
    let input = common::fixture("seed002/twarc2.jsonl");
    ok(dir.path(), &["import", input.to_str().unwrap()]);
    ok(dir.path(), &["export", "twarc2", "--out", "seed.jsonl"]);
    ok(dir.path(), &["import", "seed.jsonl", "--db", "back.db"]);
    let before = ok(dir.path(), &["threads", "--format", "csv"]);
    let after = ok(
        dir.path(),
        &["threads", "--format", "csv", "--db", "back.db"],
    );
    assert_eq!(before, after);
    let md = |db: &str, out: &str| -> Vec<String> {
        ok(
            dir.path(),
            &["export", "markdown", "--db", db, "--out", out],
        );
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path().join(out))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    };
    assert_eq!(md("rethread.db", "a"), md("back.db", "b"));
    // Written to standard output too, one page per line.
    let out = ok(dir.path(), &["export", "twarc2", "--out", "-"]);
    assert!(out
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
}

/// Every subcommand, found by walking the `Commands:` sections of `--help` from the top (the
/// help is the tree a user sees), as space-separated paths: `collect bluesky`, `export dot`, ...
fn subcommands(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack: Vec<Vec<String>> = vec![Vec::new()];
    while let Some(path) = stack.pop() {
        let mut args: Vec<&str> = path.iter().map(String::as_str).collect();
        args.push("--help");
        let help = ok(dir, &args);
        let Some(section) = help.split("Commands:\n").nth(1) else {
            continue;
        };
        for line in section.lines() {
            if line.trim().is_empty() || !line.starts_with("  ") {
                break;
            }
            // A name starts two spaces in; a help text wrapped onto the next line starts deeper.
            if line.starts_with("   ") {
                continue;
            }
            let name = line.split_whitespace().next().unwrap().to_string();
            if name == "help" {
                continue;
            }
            let mut sub = path.clone();
            sub.push(name);
            found.push(sub.join(" "));
            stack.push(sub);
        }
    }
    found
}

#[test]
fn completions_and_man_pages_know_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let subs = subcommands(d);
    for must in [
        "collect bluesky",
        "collect mastodon",
        "import",
        "export markdown",
        "completions",
        "man",
    ] {
        assert!(subs.iter().any(|s| s == must), "{must} not in {subs:?}");
    }
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let script = ok(d, &["completions", shell]);
        for sub in &subs {
            let leaf = sub.rsplit(' ').next().unwrap();
            assert!(script.contains(leaf), "{shell} completions lack `{sub}`");
        }
        // Flags come from the same definitions: one of each kind.
        for flag in ["include-opted-out", "input-format", "appview"] {
            assert!(script.contains(flag), "{shell} completions lack --{flag}");
        }
    }
    assert!(rethread(d, &["completions", "tcsh"]).status.code() == Some(2));
    let man = ok(d, &["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH rethread"),
        "{}",
        &man[..200.min(man.len())]
    );
    ok(d, &["man", "--out", "pages"]);
    for sub in &subs {
        let page = format!("rethread-{}", sub.replace(' ', "-"));
        assert!(man.contains(&format!(".TH {page} ")), "man lacks {page}");
        let file = d.join("pages").join(format!("{page}.1"));
        let text =
            std::fs::read_to_string(&file).unwrap_or_else(|_| panic!("{} missing", file.display()));
        assert!(text.contains(".SH NAME"), "{page}");
    }
}

/// The shared flags: `-o`/`--out -` for every single-file export, `-f` and a listed set of
/// values for every `--format`, one `--db`.
#[test]
fn shared_flags_behave_the_same_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let seed = fixture("seed002/twarc2.jsonl");
    ok(d, &["import", "--db", "c.db", seed.to_str().unwrap()]);
    for format in ["jsonl", "dot", "gexf", "graphml"] {
        let file = format!("out.{format}");
        ok(d, &["export", format, "--db", "c.db", "-o", &file]);
        let to_stdout = ok(d, &["export", format, "--db", "c.db", "--out", "-"]);
        let written = std::fs::read_to_string(d.join(&file)).unwrap();
        assert!(!written.is_empty());
        assert_eq!(
            to_stdout, written,
            "export {format} --out - differs from the file"
        );
        assert!(!d.join("-").exists());
    }
    let json: serde_json::Value =
        serde_json::from_str(&ok(d, &["threads", "--db", "c.db", "-f", "json"])).unwrap();
    assert!(json.as_array().is_some_and(|a| !a.is_empty()));
    ok(d, &["themes", "--db", "c.db", "-f", "csv"]);
    // A value a command cannot write is refused by clap, which names the ones it can.
    let o = rethread(d, &["themes", "model", "--format", "csv"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("text") && err.contains("json") && err.contains("--format"),
        "{err}"
    );
    let o = rethread(d, &["threads", "--db", "c.db", "--format", "xml"]);
    assert!(stderr(&o).contains("table, json, csv"), "{}", stderr(&o));
    // The library's error is typed; each command names its own flag for forcing a format.
    std::fs::write(d.join("odd.json"), "{\"hello\": 1}\n").unwrap();
    let o = rethread(d, &["threads", "--input", "odd.json"]);
    let err = stderr(&o);
    assert!(
        err.contains("odd.json: cannot tell the format")
            && err.contains("use --input-format FORMAT"),
        "{err}"
    );
    let o = rethread(d, &["import", "--db", "c.db", "odd.json"]);
    assert!(
        stderr(&o).contains("use --input-format (or --format) FORMAT"),
        "{}",
        stderr(&o)
    );
}

/// A pipe has no length (`gen_corpus.py --out - | rethread import /dev/stdin`, `zcat |`): the
/// first buffer read from it is not the whole file. Before, it was taken for the whole file,
/// and a JSON Lines stream read as one broken document ("trailing characters at line 2").
#[test]
fn import_reads_json_lines_from_a_pipe() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.db");
    let mut lines = String::new();
    for id in 1..=3000u32 {
        let parent = if id > 1 {
            format!("\"{}\"", id - 1)
        } else {
            "null".into()
        };
        lines.push_str(&format!(
            "{{\"id\":\"{id}\",\"created_at\":\"2024-01-01T00:00:00.000Z\",\"in_reply_to_id\":{parent},\"content\":\"<p>post {id}</p>\",\"visibility\":\"public\",\"account\":{{\"id\":\"1\",\"username\":\"a\",\"acct\":\"a\",\"url\":\"https://h.example/@a\"}}}}\n"
        ));
    }
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rethread"))
        .args(["import", "--db", db.to_str().unwrap(), "/dev/stdin"])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Written in small pieces, so that the first read sees part of a line.
    for chunk in lines.as_bytes().chunks(1000) {
        stdin.write_all(chunk).unwrap();
        stdin.flush().unwrap();
    }
    drop(stdin);
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = ok(
        dir.path(),
        &["threads", "--db", db.to_str().unwrap(), "--format", "csv"],
    );
    assert!(out.contains("mastodon-1,1,3000,0,2999,"), "{out}");
}
