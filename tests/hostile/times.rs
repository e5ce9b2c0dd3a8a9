//! Defect 9 of issue 11: a time outside the years 0000-9999 (a ConvoKit timestamp of
//! 253402300800, a twarc2 `created_at` of `+10000-01-01T00:00:00Z`) was stored as
//! `+10000-01-01…`, which is not RFC 3339 and came back from the corpus as unknown, or was read
//! as unknown in one importer and kept in another: `threads --input` and `threads --db`
//! disagreed. Every importer now refuses such a time as bad input, named by file and line and
//! skipped with `--skip-bad`, so reading the file and reading the corpus always agree.

use crate::common::{ok, rethread, stderr};
use std::path::Path;

/// One file of one format holding good records and records with times outside the years.
struct Case {
    format: &'static str,
    file: &'static str,
    text: String,
    /// Lines of the records that must be refused, in order.
    bad: Vec<u64>,
    /// Records in the file, good and bad.
    records: u64,
    /// Posts stored from the good records.
    posts: u64,
}

fn convokit() -> Case {
    let line = |id: &str, reply: &str, ts: &str| {
        format!(
            r#"{{"id":"{id}","speaker":"s_{id}","conversation_id":"u1","reply_to":{reply},"timestamp":{ts},"text":"said {id}","meta":{{}}}}"#
        )
    };
    let text = [
        line("u1", "null", "1500000000"),
        // The first second of year 10000, the last second of year -1, and a string form.
        line("u2", "\"u1\"", "253402300800"),
        line("u3", "\"u1\"", "-62167219201"),
        line("u4", "\"u1\"", "\"+10000-01-01T00:00:00\""),
        // The first second of year 0 and the last of year 9999 are times RFC 3339 can write.
        line("u5", "\"u1\"", "-62167219200"),
        line("u6", "\"u1\"", "253402300799"),
    ]
    .join("\n");
    Case {
        format: "convokit",
        file: "utterances.jsonl",
        text,
        bad: vec![2, 3, 4],
        records: 6,
        posts: 3,
    }
}

fn twarc2() -> Case {
    let tweet = |id: u32, at: &str| {
        format!(
            r#"{{"id":"{id}","text":"tweet {id}","author_id":"7","conversation_id":"1","created_at":"{at}","author":{{"id":"7","username":"ana"}},"referenced_tweets":[{{"type":"replied_to","id":"1"}}]}}"#
        )
    };
    let page = r#"{"data":[{"id":"5","text":"in a page","author_id":"7","conversation_id":"1","created_at":"+10000-01-01T00:00:00.000Z"}],"includes":{},"meta":{}}"#.to_string();
    let text = [
        r#"{"id":"1","text":"root","author_id":"7","conversation_id":"1","created_at":"2020-01-01T00:00:00.000Z","author":{"id":"7","username":"ana"}}"#.to_string(),
        tweet(2, "+10000-01-01T00:00:00Z"),
        tweet(3, "-0001-12-31T23:59:59Z"),
        page,
        tweet(4, "2020-01-01T00:04:00.000Z"),
    ]
    .join("\n");
    Case {
        format: "twarc2",
        file: "tweets.jsonl",
        text,
        bad: vec![2, 3, 4],
        records: 5,
        posts: 2,
    }
}

fn twarc1() -> Case {
    let tweet = |id: u32, at: &str| {
        format!(
            r#"{{"id_str":"{id}","created_at":"{at}","full_text":"tweet {id}","in_reply_to_status_id_str":"1","user":{{"id_str":"7","screen_name":"ana"}}}}"#
        )
    };
    let text = [
        r#"{"id_str":"1","created_at":"Tue Mar 16 09:00:00 +0000 2010","full_text":"root","user":{"id_str":"7","screen_name":"ana"}}"#.to_string(),
        tweet(2, "Sat Jan 01 00:00:00 +0000 10000"),
        tweet(3, "+10000-01-01T00:00:00"),
        tweet(4, "Tue Mar 16 09:04:00 +0000 2010"),
    ]
    .join("\n");
    Case {
        format: "twarc1",
        file: "tweets.jsonl",
        text,
        bad: vec![2, 3],
        records: 4,
        posts: 2,
    }
}

fn mastodon() -> Case {
    let status = |id: u32, at: &str| {
        format!(
            r#"{{"id":"{id}","created_at":"{at}","in_reply_to_id":"1","content":"<p>status {id}</p>","account":{{"id":"7","username":"ana","acct":"ana@social.example"}}}}"#
        )
    };
    let text = [
        status(1, "2022-11-07T15:38:14.103Z").replace(r#""in_reply_to_id":"1","#, ""),
        status(2, "+10000-01-01T00:00:00.000Z"),
        status(3, "+10000-01-01T00:00:00"),
        status(4, "2022-11-07T15:40:00.000Z"),
    ]
    .join("\n");
    Case {
        format: "mastodon",
        file: "statuses.jsonl",
        text,
        bad: vec![2, 3],
        records: 4,
        posts: 2,
    }
}

fn twcs() -> Case {
    let text =
        "tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n\
        1,ana,True,Tue Oct 31 22:10:47 +0000 2017,hello,2,\n\
        2,AirlineX,False,+10000-01-01 00:00:00,far future,,1\n\
        3,AirlineX,False,-0001-12-31 23:59:59,far past,,1\n\
        4,AirlineX,False,Tue Oct 31 22:12:00 +0000 2017,answer,,1\n"
            .to_string();
    Case {
        format: "twcs",
        file: "twcs.csv",
        text,
        bad: vec![3, 4],
        records: 4,
        posts: 2,
    }
}

fn tweets_js() -> Case {
    let tweet = |id: u32, at: &str| {
        format!(
            r#"  {{"tweet": {{"id_str": "{id}", "created_at": "{at}", "full_text": "tweet {id}", "in_reply_to_status_id_str": "1"}}}}"#
        )
    };
    let text = format!(
        "window.YTD.tweets.part0 = [\n{},\n{},\n{},\n{}\n]\n",
        tweet(1, "Tue Oct 31 22:10:47 +0000 2017")
            .replace(r#", "in_reply_to_status_id_str": "1""#, ""),
        tweet(2, "+10000-01-01T00:00:00Z"),
        tweet(3, "Sat Jan 01 00:00:00 +0000 10000"),
        tweet(4, "Tue Oct 31 22:12:00 +0000 2017"),
    );
    Case {
        format: "tweets-js",
        file: "tweets.js",
        text,
        bad: vec![3, 4],
        records: 4,
        posts: 2,
    }
}

fn stored(db: &Path) -> u64 {
    rethread::corpus::Corpus::open_existing(db)
        .unwrap()
        .post_count()
        .unwrap()
}

#[test]
fn times_outside_the_years_are_bad_records_in_every_importer() {
    for case in [
        convokit(),
        twarc2(),
        twarc1(),
        mastodon(),
        twcs(),
        tweets_js(),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join(case.file), &case.text).unwrap();
        let f = case.file;
        let what = case.format;

        // Strict: the first bad record is named by file and line; what came before is kept.
        let o = rethread(d, &["import", "--db", "strict.db", f]);
        assert!(!o.status.success(), "{what}: strict import must fail");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("{f}:{}:", case.bad[0])),
            "{what}: {err}"
        );
        assert_eq!(
            stored(&d.join("strict.db")),
            1,
            "{what}: the record before is kept"
        );
        let o = rethread(d, &["threads", "--input", f]);
        assert!(!o.status.success(), "{what}");
        assert!(
            stderr(&o).contains(&format!("{f}:{}:", case.bad[0])),
            "{what}"
        );

        // --skip-bad: each bad record is skipped and named, the good ones stored.
        let o = rethread(d, &["import", "--db", "c.db", "--skip-bad", f]);
        let err = stderr(&o);
        assert!(o.status.success(), "{what}: {err}");
        assert!(
            err.contains(&format!(
                "skipped {} malformed records of {}",
                case.bad.len(),
                case.records
            )),
            "{what}: {err}"
        );
        for line in &case.bad {
            assert!(
                err.contains(&format!("{f}:{line}:")),
                "{what}: line {line}: {err}"
            );
        }
        assert_eq!(stored(&d.join("c.db")), case.posts, "{what}");

        // Reading the file and reading the corpus agree, times and all.
        let from_file = ok(
            d,
            &["threads", "--format", "json", "--input", f, "--skip-bad"],
        );
        let from_db = ok(d, &["threads", "--format", "json", "--db", "c.db"]);
        assert_eq!(from_file, from_db, "{what}");
        let threads: serde_json::Value = serde_json::from_str(&from_db).unwrap();
        for t in threads.as_array().unwrap() {
            for key in ["start", "end"] {
                let at = t[key]
                    .as_str()
                    .unwrap_or_else(|| panic!("{what}: {key} is known: {t}"));
                assert!(at.as_bytes()[0].is_ascii_digit(), "{what}: RFC 3339: {at}");
            }
        }
    }
}

/// The message says what is wrong with the time, not only that the record is bad.
#[test]
fn the_error_names_the_year() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let case = convokit();
    std::fs::write(d.join(case.file), &case.text).unwrap();
    let o = rethread(d, &["import", case.file]);
    let err = stderr(&o);
    assert!(err.contains("utterances.jsonl:2:"), "{err}");
    assert!(err.contains("year 10000"), "{err}");
}
