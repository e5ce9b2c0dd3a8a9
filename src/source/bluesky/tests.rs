use super::*;
use crate::source::{read_file, FileReport, ReadOptions};
use std::path::{Path, PathBuf};

/// The recorded Bluesky data beside the project, or `None` (and a note) without it.
fn data(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/bluesky")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!(
            "skipped: {} is absent (../shared/data is not beside the checkout)",
            p.display()
        );
        None
    }
}

fn read(path: &Path) -> (FileReport, Vec<Record>) {
    let mut records = Vec::new();
    let opts = ReadOptions {
        keep_raw: true,
        ..ReadOptions::default()
    };
    let report = read_file(path, &opts, &indicatif::ProgressBar::hidden(), &mut |r| {
        records.push(r);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
    (report, records)
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn posts(records: &[Record]) -> Vec<&Post> {
    records.iter().filter_map(Record::post).collect()
}

fn missing(records: &[Record]) -> Vec<&Missing> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Missing(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// A post view, as the AppView writes one.
fn view_json(uri: &str, parent: Option<&str>, text: &str) -> String {
    let reply = parent
        .map(|p| format!(r#","reply":{{"root":{{"uri":"{p}","cid":"x"}},"parent":{{"uri":"{p}","cid":"x"}}}}"#))
        .unwrap_or_default();
    format!(
        r#"{{"uri":"{uri}","cid":"c","author":{{"did":"did:plc:abc","handle":"ana.bsky.social"}},"record":{{"$type":"app.bsky.feed.post","text":"{text}","createdAt":"2024-05-01T10:00:00.000Z"{reply}}},"replyCount":0,"indexedAt":"2024-05-01T10:00:01.000Z"}}"#
    )
}

fn uri(n: usize) -> String {
    format!("at://did:plc:abc/app.bsky.feed.post/p{n}")
}

/// A thread far deeper than any JSON parser's recursion limit, both ways: 3,000 ancestors
/// above the anchor and a chain of 3,000 replies below it. Built, written and read without
/// recursion anywhere.
#[test]
fn a_thread_thousands_deep_both_ways_is_read_whole() {
    const N: usize = 3000;
    let mut json = String::from(r#"{"thread":"#);
    // The anchor is post N; its parent chain N-1 .. 0 nests in `parent`.
    json.push_str(&format!(
        r#"{{"$type":"app.bsky.feed.defs#threadViewPost","post":{},"parent":"#,
        view_json(&uri(N), Some(&uri(N - 1)), "anchor")
    ));
    for i in (0..N).rev() {
        let parent = (i > 0).then(|| uri(i - 1));
        json.push_str(&format!(
            r#"{{"$type":"app.bsky.feed.defs#threadViewPost","post":{}"#,
            view_json(&uri(i), parent.as_deref(), "up")
        ));
        if i > 0 {
            json.push_str(r#","parent":"#);
        }
    }
    json.push_str(&"}".repeat(N));
    // Then the anchor's replies: N+1 .. 2N, each the only reply of the one before.
    json.push_str(r#","replies":["#);
    for i in N + 1..=2 * N {
        json.push_str(&format!(
            r#"{{"$type":"app.bsky.feed.defs#threadViewPost","post":{},"replies":["#,
            view_json(&uri(i), Some(&uri(i - 1)), "down")
        ));
    }
    json.push_str(&"]}".repeat(N));
    json.push_str("]}}");
    let dir = tempfile::tempdir().unwrap();
    let (report, records) = read(&write(&dir, "deep.json", &json));
    assert_eq!(report.format, crate::source::Format::Bluesky);
    let got = posts(&records);
    assert_eq!(got.len(), 2 * N + 1);
    assert!(missing(&records).is_empty());
    let by_id: std::collections::HashMap<&str, &Post> =
        got.iter().map(|p| (p.id.as_str(), *p)).collect();
    for i in 1..=2 * N {
        assert_eq!(
            by_id[uri(i).as_str()].reply_to.as_deref(),
            Some(uri(i - 1).as_str()),
            "post {i}"
        );
    }
    assert_eq!(by_id[uri(0).as_str()].reply_to, None);
    // The same response on one line is one JSON Lines record, read the same way.
    let (report, records) = read(&write(&dir, "deep.jsonl", &format!("{json}\n{json}\n")));
    assert_eq!(
        (report.records, posts(&records).len()),
        (2, 2 * (2 * N + 1))
    );
}

#[test]
fn a_broken_thread_is_a_bad_record_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"{{"thread":{{"$type":"app.bsky.feed.defs#threadViewPost","post":{},"replies":[{{"$type":"app.bsky.feed.defs#threadViewPost","post":"#,
        view_json(&uri(1), None, "x")
    );
    let opts = ReadOptions::default();
    let err = read_file(
        &write(&dir, "cut.json", &text),
        &opts,
        &indicatif::ProgressBar::hidden(),
        &mut |_| Ok(()),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cut.json:1:") && err.contains("malformed JSON"),
        "{err}"
    );
}

#[test]
fn not_found_and_blocked_items_are_gaps_with_their_reason() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"{{"thread":{{"$type":"app.bsky.feed.defs#threadViewPost","post":{},
            "parent":{{"$type":"app.bsky.feed.defs#notFoundPost","uri":"{}","notFound":true}},
            "replies":[{{"$type":"app.bsky.feed.defs#blockedPost","uri":"{}","blocked":true,"author":{{"did":"did:plc:zzz"}}}},
                       {{"$type":"app.bsky.feed.defs#threadViewPost","post":{}}}]}}}}"#,
        view_json(&uri(1), Some(&uri(0)), "anchor"),
        uri(0),
        uri(2),
        view_json(&uri(3), Some(&uri(1)), "reply"),
    );
    let (_, records) = read(&write(&dir, "gaps.json", &text));
    assert_eq!(posts(&records).len(), 2);
    let gaps = missing(&records);
    assert_eq!(gaps.len(), 2);
    let parent = gaps.iter().find(|m| m.id == uri(0)).unwrap();
    assert_eq!(
        (parent.reason.as_str(), parent.reply_to.as_deref()),
        (NOT_FOUND, None)
    );
    // A blocked reply still hangs where it was: under the post whose replies hold it.
    let blocked = gaps.iter().find(|m| m.id == uri(2)).unwrap();
    assert_eq!(
        (blocked.reason.as_str(), blocked.reply_to.as_deref()),
        (BLOCKED, Some(uri(1).as_str()))
    );
}

#[test]
fn facets_give_whole_links_tags_and_mentions() {
    let text = "see example.com/a-very-lo... and read this #RStats @bob.test ünï";
    let link_start = text.find("example").unwrap();
    let link_end = text.find(" and").unwrap();
    let read_start = text.find("read this").unwrap();
    let tag_start = text.find('#').unwrap();
    let m_start = text.find('@').unwrap();
    let facets = format!(
        r#"[{{"index":{{"byteStart":{link_start},"byteEnd":{link_end}}},"features":[{{"$type":"app.bsky.richtext.facet#link","uri":"https://example.com/a-very-long-path"}}]}},
           {{"index":{{"byteStart":{read_start},"byteEnd":{}}},"features":[{{"$type":"app.bsky.richtext.facet#link","uri":"https://elsewhere.org/"}}]}},
           {{"index":{{"byteStart":{tag_start},"byteEnd":{}}},"features":[{{"$type":"app.bsky.richtext.facet#tag","tag":"RStats"}}]}},
           {{"index":{{"byteStart":{m_start},"byteEnd":{}}},"features":[{{"$type":"app.bsky.richtext.facet#mention","did":"did:plc:bob"}}]}},
           {{"index":{{"byteStart":{},"byteEnd":{}}},"features":[{{"$type":"app.bsky.richtext.facet#link","uri":"https://x.org/"}}]}},
           {{"index":{{"byteStart":5,"byteEnd":99999}},"features":[{{"$type":"app.bsky.richtext.facet#link","uri":"https://y.org/"}}]}}]"#,
        read_start + 9,
        tag_start + 7,
        m_start + 9,
        // Inside the two-byte ü: not a character boundary, so left alone.
        text.len() - 5,
        text.len() - 2,
    );
    let record = format!(
        r#"{{"text":"{text}","facets":{facets},"tags":["rstats","extra"],"langs":["en","de"],
            "embed":{{"$type":"app.bsky.embed.recordWithMedia","record":{{"record":{{"uri":"{}","cid":"c"}}}},
                      "media":{{"$type":"app.bsky.embed.images","images":[{{"alt":"a chart"}},{{"alt":""}}]}}}}}}"#,
        uri(9)
    );
    let r: PostRecord = serde_json::from_str(&record).unwrap();
    let p = post(&uri(1), Author::default(), &r);
    assert_eq!(
        p.text,
        "see https://example.com/a-very-long-path and read this #RStats @bob.test ünï"
    );
    assert_eq!(p.hashtags, ["RStats", "extra"]);
    assert_eq!(p.mentions, ["bob.test"]);
    assert_eq!(p.language.as_deref(), Some("en"));
    assert_eq!(p.quote_of, Some(uri(9)));
    assert_eq!(p.media_alt, ["a chart"]);
    assert_eq!(p.conversation_id, Some(uri(1)));
    assert_eq!(
        p.url.as_deref(),
        Some("https://bsky.app/profile/did:plc:abc/post/p1")
    );
}

#[test]
fn a_feed_repost_is_a_repost_not_a_reply_and_a_shown_parent_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let page = format!(
        r#"{{"feed":[
            {{"post":{},"reply":{{"parent":{},"root":{{"$type":"app.bsky.feed.defs#notFoundPost","uri":"{}","notFound":true}}}}}},
            {{"post":{},"reason":{{"$type":"app.bsky.feed.defs#reasonRepost","by":{{"did":"did:plc:rep","handle":"rep.test"}},"uri":"at://did:plc:rep/app.bsky.feed.repost/r1","indexedAt":"2024-05-02T00:00:00Z"}}}}
        ],"cursor":"x"}}"#,
        view_json(&uri(2), Some(&uri(1)), "reply"),
        view_json(&uri(1), Some(&uri(0)), "parent"),
        uri(0),
        view_json(&uri(5), None, "reposted"),
    );
    let (_, records) = read(&write(&dir, "feed.json", &page));
    let got = posts(&records);
    let ids: Vec<&str> = got.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            uri(2).as_str(),
            &uri(1),
            &uri(5),
            "at://did:plc:rep/app.bsky.feed.repost/r1"
        ]
    );
    let repost = got[3];
    assert_eq!(
        (repost.repost_of.as_deref(), repost.reply_to.as_deref()),
        (Some(uri(5).as_str()), None)
    );
    assert_eq!(repost.author.handle.as_deref(), Some("rep.test"));
    assert_eq!(
        missing(&records)
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        [uri(0).as_str()]
    );
}

#[test]
fn each_shape_is_detected_as_bluesky() {
    use crate::source::{detect, Format};
    let v = view_json(&uri(1), None, "x");
    for head in [
        format!(r#"{{"posts":[{v}],"cursor":"100"}}"#),
        format!(r#"{{"feed":[{{"post":{v}}}]}}"#),
        format!("{v}\n{v}\n"),
        format!("[{v}]"),
        format!(r#"{{"thread":{{"$type":"app.bsky.feed.defs#threadViewPost","post":{v}}}}}"#),
        r#"{"posts":[]}"#.to_string(),
    ] {
        assert_eq!(
            detect(head.as_bytes(), "f").unwrap(),
            Format::Bluesky,
            "{head}"
        );
    }
}

#[test]
fn the_recorded_search_page_and_threads() {
    let Some(search) = data("search/atrrr_searchPosts_q-hashtag-rstats_limit100.json") else {
        return;
    };
    let (report, records) = read(&search);
    let got = posts(&records);
    // 100 posts; 13 replies (README); quoted posts shown in embeds come as posts too.
    let page: Vec<&Post> = got
        .iter()
        .copied()
        .filter(|p| p.provenance.is_some())
        .collect();
    assert_eq!(report.records, 1);
    let hits: std::collections::HashSet<&str> = got.iter().map(|p| p.id.as_str()).collect();
    assert!(hits.len() >= 100, "{}", hits.len());
    let raw: Value = serde_json::from_str(&std::fs::read_to_string(&search).unwrap()).unwrap();
    let listed: Vec<&str> = raw["posts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["uri"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 100);
    let replies = listed
        .iter()
        .filter(|u| got.iter().find(|p| p.id == **u).unwrap().reply_to.is_some())
        .count();
    assert_eq!(replies, 13);
    assert!(page.iter().all(|p| p.id.starts_with("at://")
        && p.author
            .id
            .as_deref()
            .is_some_and(|d| d.starts_with("did:"))));
    assert!(got.iter().filter(|p| !p.hashtags.is_empty()).count() >= 97);
    assert!(got.iter().any(|p| p.quote_of.is_some()));
    assert!(got.iter().any(|p| !p.media_alt.is_empty()));
    let first = got.iter().find(|p| p.id == listed[0]).unwrap();
    assert!(first
        .url
        .as_deref()
        .unwrap()
        .starts_with("https://bsky.app/profile/"));
    assert!(first.author.handle.is_some());

    let Some(thread) = data("threads/atrrr_getPostThread_3kbi57u4sys2l.json") else {
        return;
    };
    let (_, records) = read(&thread);
    let got = posts(&records);
    // The 3rd post of a self-thread: its two ancestors and its one reply, one chain.
    assert_eq!(got.len(), 4);
    let roots: Vec<&&Post> = got.iter().filter(|p| p.reply_to.is_none()).collect();
    assert_eq!(roots.len(), 1);
    assert!(got
        .iter()
        .all(|p| p.conversation_id.as_deref() == Some(roots[0].id.as_str())));
}

#[test]
fn the_recorded_gap_snapshots() {
    let cases = [
        (
            "threads/synthetic/atproto-snap_thread_blocked-reply.json",
            2,
            1,
            BLOCKED,
        ),
        (
            "threads/synthetic/atproto-snap_thread_root-blockedPost.json",
            0,
            1,
            BLOCKED,
        ),
        (
            "threads/synthetic/atproto-snap_thread_deleted-parent-notFound.json",
            1,
            1,
            NOT_FOUND,
        ),
        (
            "threads/synthetic/atproto-snap_thread_takedown-ancestor-notFound.json",
            1,
            1,
            NOT_FOUND,
        ),
        (
            "threads/synthetic/atproto-snap_thread_listblock-2-blocked-replies.json",
            1,
            2,
            BLOCKED,
        ),
        (
            "threads/synthetic/atproto-snap_thread_blocked-parent.json",
            2,
            1,
            BLOCKED,
        ),
        ("threads/synthetic/atproto-snap_thread_deep.json", 4, 0, ""),
    ];
    for (file, want_posts, want_gaps, reason) in cases {
        let Some(path) = data(file) else { return };
        let (_, records) = read(&path);
        assert_eq!(posts(&records).len(), want_posts, "{file}");
        let gaps = missing(&records);
        assert_eq!(gaps.len(), want_gaps, "{file}");
        assert!(gaps.iter().all(|g| g.reason == reason), "{file}");
    }
}

#[test]
fn repository_exports_import_to_the_counts_their_readme_states() {
    let Some(car) = data("car/indigo_bnewbold.robocracy.org.20250310005405.car") else {
        return;
    };
    let (report, records) = read(&car);
    assert_eq!(report.format, crate::source::Format::Bluesky);
    assert_eq!(report.records, 38);
    let got = posts(&records);
    let (reposts, own): (Vec<&Post>, Vec<&Post>) = got.iter().partition(|p| p.repost_of.is_some());
    assert_eq!((own.len(), reposts.len()), (23, 1));
    assert_eq!((report.posts, report.reposts), (24, 1));
    let did = "did:plc:nhxcyu4ewwhl5pqil4dotqjo";
    for p in &own {
        assert!(
            p.id.starts_with(&format!("at://{did}/app.bsky.feed.post/")),
            "{}",
            p.id
        );
        assert_eq!(p.author.id.as_deref(), Some(did));
        assert!(p.created_at.is_some());
        assert!(p
            .raw
            .as_deref()
            .is_some_and(|r| r.contains("\"$type\":\"app.bsky.feed.post\"")));
    }
    assert!(reposts[0].reply_to.is_none());
    // Every reply's parent is a post of the file or a gap that says where it is.
    let ids: std::collections::HashSet<&str> = got.iter().map(|p| p.id.as_str()).collect();
    let gaps: std::collections::HashSet<&str> =
        missing(&records).iter().map(|m| m.id.as_str()).collect();
    for p in &own {
        if let Some(parent) = p.reply_to.as_deref() {
            assert!(ids.contains(parent) || gaps.contains(parent), "{parent}");
        }
    }

    let Some(car) = data("car/arroba_snarfed2.car") else {
        return;
    };
    let (report, records) = read(&car);
    assert_eq!((report.records, posts(&records).len()), (5, 0));
}

#[test]
fn a_truncated_repository_keeps_what_it_can_and_says_so() {
    let Some(car) = data("car/indigo_bnewbold.robocracy.org.20250310005405.car") else {
        return;
    };
    let bytes = std::fs::read(car).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.car");
    std::fs::write(&cut, &bytes[..bytes.len() - 700]).unwrap();
    let mut n = 0;
    let err = read_file(
        &cut,
        &ReadOptions::default(),
        &indicatif::ProgressBar::hidden(),
        &mut |_| {
            n += 1;
            Ok(())
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("cut.car") && err.contains("truncated"),
        "{err}"
    );
    assert!(n > 0, "the records before the cut are handed on");
}
