//! Bounded memory from the corpus (issue 15, point 1): `threads --db`, `themes --db` and
//! every `export … --db` build threads a batch of groups at a time and read posts from SQLite batch
//! by batch. Their output must be byte for byte what reading the whole corpus into memory
//! gives (the path every command took before, still there behind `RETHREAD_WHOLE_CORPUS=1`).
//! `RETHREAD_BATCH_POSTS` makes the batches a few posts small, so that even a small corpus is
//! cut into many: a link not followed across two batches shows as a difference.

mod common;

use common::{ok, shared, shared_data, stderr};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Run rethread with the batch size set (None: the default; Some(0): the whole corpus in
/// memory, as every command read it before batches: the reference).
fn run(dir: &Path, batch: Option<usize>, args: &[&str]) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rethread"));
    c.args(args).current_dir(dir);
    c.env_remove("RETHREAD_BATCH_POSTS")
        .env_remove("RETHREAD_WHOLE_CORPUS");
    match batch {
        Some(0) => c.env("RETHREAD_WHOLE_CORPUS", "1"),
        Some(n) => c.env("RETHREAD_BATCH_POSTS", n.to_string()),
        None => &mut c,
    };
    let o = c.output().expect("run rethread");
    assert!(o.status.success(), "rethread {args:?}: {}", stderr(&o));
    o
}

/// Import `files` into DIR/NAME.db and return its path.
fn import(dir: &Path, name: &str, files: &[PathBuf]) -> PathBuf {
    let db = dir.join(format!("{name}.db"));
    let mut args = vec![
        "import".to_string(),
        "--db".into(),
        db.display().to_string(),
    ];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    ok(dir, &args);
    db
}

/// Every file under `dir`, relative name → bytes.
fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// `threads` and `export markdown` from the corpus, at several batch sizes, against the same
/// commands reading the whole corpus into memory (the path every command took before
/// batches). Returns how many transcripts were compared.
fn same_as_whole_corpus(dir: &Path, name: &str, files: &[PathBuf], extra: &[&[&str]]) -> usize {
    let db = import(dir, name, files);
    let db = db.to_str().unwrap();
    let input: Vec<&str> = vec!["--db", db];
    let mut compared = 0;
    let batches = [Some(1), Some(7), None];
    for format in ["json", "csv", "table"] {
        for flags in extra.iter().chain([&[][..]].iter()) {
            let mut a: Vec<&str> = vec!["threads", "--format", format];
            a.extend(threads_flags(flags));
            let want = run(dir, Some(0), &[a.as_slice(), input.as_slice()].concat()).stdout;
            for batch in batches {
                let got = run(dir, batch, &[a.as_slice(), &["--db", db]].concat()).stdout;
                assert!(
                    got == want,
                    "{name}: threads {a:?} --db (batch {batch:?}) differs from the whole corpus's"
                );
            }
        }
    }
    // `themes`: the totals count every post once (groups are read again by later batches)
    // and the JSON document's thread array is spooled and put back in its place.
    for format in ["json", "table", "csv"] {
        let a: Vec<&str> = vec!["themes", "--format", format, "--db", db];
        let want = run(dir, Some(0), &a).stdout;
        assert!(!want.is_empty());
        for batch in [Some(2), None] {
            assert!(
                run(dir, batch, &a).stdout == want,
                "{name}: themes --format {format} (batch {batch:?}) differs from the whole corpus's"
            );
        }
    }
    for flags in extra.iter().chain([&[][..]].iter()) {
        let rows = jsonl_flags(flags);
        for (export, own, out) in EXPORTS {
            same_export(dir, name, db, export, *out, &[own, &rows[..]].concat());
        }
    }
    for flags in extra.iter().chain([&[][..]].iter()) {
        let mem = dir.join(format!("{name}-mem"));
        let _ = std::fs::remove_dir_all(&mem);
        let mut a: Vec<&str> = vec!["export", "markdown", "--out", mem.to_str().unwrap()];
        a.extend_from_slice(flags);
        run(dir, Some(0), &[a.as_slice(), input.as_slice()].concat());
        let want = tree(&mem);
        assert!(want.len() > 1, "{name}: transcripts written");
        for batch in batches {
            let out = dir.join(format!("{name}-db-{batch:?}"));
            let _ = std::fs::remove_dir_all(&out);
            let mut a: Vec<&str> = vec!["export", "markdown", "--out", out.to_str().unwrap()];
            a.extend_from_slice(flags);
            run(dir, batch, &[a.as_slice(), &["--db", db]].concat());
            let got = tree(&out);
            assert_eq!(
                got.keys().collect::<Vec<_>>(),
                want.keys().collect::<Vec<_>>(),
                "{name} {flags:?}: the same files (batch {batch:?})"
            );
            for (file, bytes) in &want {
                assert!(
                    &got[file] == bytes,
                    "{name} {flags:?}: {file} differs (batch {batch:?}):\n--- in memory\n{}\n--- from the corpus\n{}",
                    String::from_utf8_lossy(bytes),
                    String::from_utf8_lossy(&got[file])
                );
            }
            compared += got.len();
        }
    }
    compared
}

/// What an export writes: one file (`--out FILE`) or a directory of files (`--out DIR`).
#[derive(Clone, Copy)]
enum Out {
    File,
    Dir,
}

/// The exports of rows (the `Rows` flags) compared by [`same_export`].
const EXPORTS: &[(&str, &[&str], Out)] = &[
    ("jsonl", &[], Out::File),
    ("csv", &[], Out::Dir),
    ("parquet", &[], Out::Dir),
    ("gexf", &[], Out::File),
    ("gexf", &["--gexf-version", "1.2draft"], Out::File),
    ("gexf", &["--graph", "interactions"], Out::File),
    ("graphml", &[], Out::File),
    ("graphml", &["--graph", "interactions"], Out::File),
    ("dot", &[], Out::File),
    ("dot", &["--graph", "interactions"], Out::File),
    ("convokit", &[], Out::Dir),
    ("html", &[], Out::Dir),
    ("html", &["--no-themes"], Out::Dir),
    ("qdpx", &[], Out::File),
];

/// `export EXPORT --out … FLAGS` from the corpus at several batch sizes gives the bytes the
/// whole corpus in memory gives.
fn same_export(dir: &Path, name: &str, db: &str, export: &str, out: Out, flags: &[&str]) {
    let written = |path: &Path| match out {
        Out::File => std::iter::once((String::new(), std::fs::read(path).unwrap())).collect(),
        Out::Dir => tree(path),
    };
    let target = |which: &str| {
        let ext = if export == "qdpx" { ".qdpx" } else { "" };
        let p = dir.join(format!("{name}-{export}-{which}{ext}"));
        let _ = std::fs::remove_dir_all(&p);
        let _ = std::fs::remove_file(&p);
        p
    };
    let mem = target("mem");
    let mut a: Vec<&str> = vec!["export", export, "--out", mem.to_str().unwrap(), "--db", db];
    a.extend_from_slice(flags);
    run(dir, Some(0), &a);
    let want = written(&mem);
    assert!(
        want.values().all(|b| !b.is_empty()),
        "{name}: export {export} {flags:?} wrote something"
    );
    // Batches of 2 posts cut every corpus here into many; the default, into one or few.
    for batch in [Some(2), None] {
        let got = target("db");
        let mut b: Vec<&str> = vec!["export", export, "--out", got.to_str().unwrap(), "--db", db];
        b.extend_from_slice(flags);
        run(dir, batch, &b);
        let got = written(&got);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{name}: export {export} {flags:?} (batch {batch:?}): the same files"
        );
        for (file, bytes) in &want {
            assert!(
                &got[file] == bytes,
                "{name}: export {export} {flags:?} (batch {batch:?}): {file} differs from the whole corpus's"
            );
        }
    }
}

/// The flags of `flags` that `export jsonl` takes too.
fn jsonl_flags<'a>(flags: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut k = 0;
    while k < flags.len() {
        match flags[k] {
            "--quotes" | "--pseudonymize" => out.push(flags[k]),
            "--salt" => {
                out.extend([flags[k], flags[k + 1]]);
                k += 1;
            }
            "--thread" => {
                out.push(flags[k]);
                while k + 1 < flags.len() && !flags[k + 1].starts_with("--") {
                    k += 1;
                    out.push(flags[k]);
                }
            }
            _ => {}
        }
        k += 1;
    }
    out
}

/// The flags of `flags` that `threads` takes too (`--quotes`, `--min-posts N`).
fn threads_flags<'a>(flags: &[&'a str]) -> Vec<&'a str> {
    let mut out = Vec::new();
    for (k, f) in flags.iter().enumerate() {
        match *f {
            "--quotes" => out.push(*f),
            "--min-posts" => out.extend([*f, flags[k + 1]]),
            _ => {}
        }
    }
    out
}

/// A Mastodon file built to need every link a group must follow: one post seen on two servers
/// under two local ids (an alias by `uri`) with replies to each id, a boost and a reply to the
/// boost, replies to a post never collected (one gap, two replies), a reply cycle, and a chain
/// much longer than a batch.
fn tangled(dir: &Path) -> PathBuf {
    let mut lines = Vec::new();
    let acct = |u: &str| serde_json::json!({"id": u, "username": u, "acct": u, "url": format!("https://a.example/@{u}")});
    let status = |id: &str, uri: &str, t: u32, reply: Option<&str>, user: &str, text: &str| {
        serde_json::json!({
            "id": id, "uri": uri, "url": uri,
            "created_at": format!("2024-01-01T00:{:02}:{:02}.000Z", t / 60, t % 60),
            "in_reply_to_id": reply, "content": format!("<p>{text}</p>"),
            "visibility": "public", "account": acct(user)
        })
    };
    let u = |n: &str| format!("https://a.example/users/x/statuses/{n}");
    lines.push(status("100", &u("100"), 1, None, "ann", "the root"));
    // The same post again under another local id (as a second server numbers it).
    lines.push(status("900100", &u("100"), 1, None, "ann", "the root"));
    lines.push(status(
        "101",
        &u("101"),
        2,
        Some("100"),
        "bob",
        "reply to the first id",
    ));
    lines.push(status(
        "102",
        &u("102"),
        3,
        Some("900100"),
        "cy",
        "reply to the second id",
    ));
    // A boost of 101, and a reply to the boost (which is a reply to 101).
    let mut boost = status("103", &u("103"), 4, None, "dee", "");
    boost["reblog"] = status(
        "101",
        &u("101"),
        2,
        Some("100"),
        "bob",
        "reply to the first id",
    );
    lines.push(boost);
    lines.push(status(
        "104",
        &u("104"),
        5,
        Some("103"),
        "eve",
        "reply to the boost",
    ));
    // Two replies to a post that was never collected: one gap.
    lines.push(status(
        "201",
        &u("201"),
        6,
        Some("200"),
        "fay",
        "under a missing post",
    ));
    lines.push(status(
        "202",
        &u("202"),
        7,
        Some("200"),
        "gus",
        "also under it",
    ));
    // A reply cycle.
    lines.push(status("301", &u("301"), 8, Some("302"), "hal", "cycle a"));
    lines.push(status("302", &u("302"), 9, Some("301"), "ivy", "cycle b"));
    // A chain of 40.
    for k in 0..40u32 {
        let id = format!("{}", 400 + k);
        let parent = (k > 0).then(|| format!("{}", 400 + k - 1));
        lines.push(status(
            &id,
            &u(&id),
            10 + k,
            parent.as_deref(),
            if k % 2 == 0 { "jo" } else { "kit" },
            &format!("chain {k}"),
        ));
    }
    // Singletons, so that batches hold several groups.
    for k in 0..15u32 {
        let id = format!("{}", 500 + k);
        lines.push(status(
            &id,
            &u(&id),
            60 + k,
            None,
            "lu",
            &format!("alone {k} #customerservice training"),
        ));
    }
    let file = dir.join("tangled.jsonl");
    let text: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(&file, text.join("\n") + "\n").unwrap();
    file
}

#[test]
fn a_tangled_corpus_gives_the_same_threads_and_transcripts_from_the_db() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let file = tangled(d);
    let n = same_as_whole_corpus(
        d,
        "tangled",
        &[file],
        &[
            &["--layout", "tree"],
            &["--min-posts", "2"],
            &[
                "--pseudonymize",
                "--salt",
                "a salt for the test",
                "--no-themes",
            ],
            &["--thread", "mastodon-100", "mastodon-400"],
            // A thread asked for but below --min-posts is not an error (it exists).
            &[
                "--thread",
                "mastodon-100",
                "mastodon-400",
                "--min-posts",
                "5",
            ],
        ],
    );
    assert!(n > 50, "{n} transcripts compared");
    // The shapes really are there: one thread for both ids of the root, one gap, a cycle.
    let db = d.join("tangled.db");
    let csv = ok(
        d,
        &["threads", "--db", db.to_str().unwrap(), "--format", "csv"],
    );
    let root = csv
        .lines()
        .find(|l| l.starts_with("mastodon-100,"))
        .expect("root thread");
    assert!(root.starts_with("mastodon-100,100,4,0,"), "{root}");
    assert!(
        csv.lines().any(|l| l.starts_with("mastodon-200,200,2,1,")),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with("mastodon-400,400,40,0,39,")),
        "{csv}"
    );
    let o = run(d, Some(3), &["threads", "--db", db.to_str().unwrap()]);
    assert!(
        stderr(&o).contains("reply cycle among 2 posts"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn real_archives_give_the_same_threads_and_transcripts_from_the_db() {
    let Some(data) = shared_data("real_archives_give_the_same_threads_and_transcripts_from_the_db")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // TWCS (gaps, brand replies), twarc2 pages (conversation ids, quotes, errors), Bluesky
    // threads (blocked and deleted posts: missing-post notes), Mastodon pages (boosts).
    let twcs = data.join("twcs/naman-tiwari_sample.csv");
    same_as_whole_corpus(d, "twcs", &[twcs], &[&["--quotes"]]);
    let tw = data.join("twitter_v2/twarc-csv_test-data");
    let tw_files: Vec<PathBuf> = ["2sets.jsonl", "cotweet.jsonl", "brexit.jsonl"]
        .iter()
        .map(|f| tw.join(f))
        .filter(|f| f.is_file())
        .collect();
    same_as_whole_corpus(d, "twarc2", &tw_files, &[&["--quotes"]]);
    let bsky = data.join("bluesky/threads/synthetic");
    let mut bsky_files: Vec<PathBuf> = std::fs::read_dir(&bsky)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    bsky_files.sort();
    same_as_whole_corpus(d, "bluesky", &bsky_files, &[]);
}

#[test]
fn a_generated_corpus_gives_the_same_threads_and_transcripts_from_the_db() {
    let Some(bench) = shared(
        "bench",
        "a_generated_corpus_gives_the_same_threads_and_transcripts_from_the_db",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (format, seed) in [("twarc2", "5"), ("mastodon", "6")] {
        let file = d.join(format!("{format}.jsonl"));
        let st = Command::new("python3")
            .arg(bench.join("gen_corpus.py"))
            .args([
                "--format", format, "--posts", "1500", "--seed", seed, "--out",
            ])
            .arg(&file)
            .output()
            .expect("python3 runs gen_corpus.py");
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let n = same_as_whole_corpus(d, format, &[file], &[&["--quotes", "--layout", "tree"]]);
        assert!(n > 1000, "{format}: {n} transcripts compared");
    }
}

/// A group holding two threads far apart in time (two replies in one Twitter conversation,
/// each to a different tweet never collected, with another thread between them: the group is
/// read by two batches), and a retweet of a tweet never collected (a group with no thread at
/// all, so in no batch). `themes` must count each of those posts once, as in memory.
#[test]
fn a_group_read_twice_and_a_group_with_no_thread_are_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tweet = |id: &str, t: u32, conversation: &str, refs: serde_json::Value, text: &str| {
        serde_json::json!({
            "id": id, "text": text, "author_id": format!("u{id}"),
            "created_at": format!("2024-01-01T00:00:{t:02}.000Z"),
            "conversation_id": conversation, "referenced_tweets": refs,
        })
    };
    let replied = |id: &str| serde_json::json!([{"type": "replied_to", "id": id}]);
    let data = vec![
        tweet(
            "10",
            1,
            "9",
            replied("7"),
            "the system is so rigid, nobody can override it",
        ),
        tweet(
            "20",
            2,
            "20",
            serde_json::json!([]),
            "staff need proper training",
        ),
        tweet("30", 3, "9", replied("8"), "we need training, not scripts"),
        tweet("40", 4, "40", serde_json::json!([]), "thanks"),
        tweet(
            "60",
            5,
            "60",
            serde_json::json!([{"type": "retweeted", "id": "55"}]),
            "RT @someone: let the staff decide, trust them",
        ),
    ];
    let users: Vec<serde_json::Value> = data
        .iter()
        .map(|t| serde_json::json!({"id": t["author_id"], "username": format!("user{}", t["id"].as_str().unwrap())}))
        .collect();
    let page = serde_json::json!({"data": data, "includes": {"users": users}});
    let file = d.join("conversation.jsonl");
    std::fs::write(&file, format!("{page}\n")).unwrap();
    same_as_whole_corpus(d, "conversation", &[file], &[]);
    // The shapes really are there: the conversation's two threads with another between.
    let db = d.join("conversation.db");
    let csv = ok(
        d,
        &["threads", "--db", db.to_str().unwrap(), "--format", "csv"],
    );
    let ids: Vec<&str> = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["twitter-7", "twitter-20", "twitter-8", "twitter-40"],
        "{csv}"
    );
    let table =
        String::from_utf8(run(d, Some(2), &["themes", "--db", db.to_str().unwrap()]).stdout)
            .unwrap();
    assert!(table.contains("\n5 posts, "), "{table}");
}
