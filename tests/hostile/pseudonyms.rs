//! `--pseudonymize` left handles in URLs (issue 11, defect 8): `https://twitter.com/AliceSmith/status/1`
//! or `https://social.example/users/Gripnostril` in a post's text survived in all eight export
//! formats. Profile and post links (of any account, in the corpus or not) now become
//! `[post by @user-…]` / `[profile of @user-…]` with the account's pseudonym, and carry neither
//! the handle nor the real post id.

use serde_json::json;
use std::path::Path;

/// The handles and post ids the links carry, none of which may remain (compared in lower case).
const RAW: &[&str] = &[
    "alicesmith",
    "gripnostril",
    "1400000000000000007",
    "1400000000000000008",
    "1400000000000000009",
    "1400000000000000010",
    "1400000000000000011",
    "1400000000000000012",
    "3k2yihcrp6f2c",
    "abcdef1234",
];

/// A Twitter thread by AliceSmith (an author of the corpus) and bob, and a Mastodon post by
/// carol, whose texts link to AliceSmith's and Gripnostril's (who wrote nothing here) profiles
/// and posts in every shape the platforms use, and whose url entities and links carry them too.
fn inputs(dir: &Path) -> [String; 2] {
    let root = "my thread https://twitter.com/AliceSmith/status/1400000000000000007 and \
                https://x.com/Gripnostril/status/1400000000000000008?s=20 https://t.co/AbCdEf1234";
    let reply = "@AliceSmith see mobile.twitter.com/gripnostril and \
                 (https://www.twitter.com/i/web/status/1400000000000000010), \
                 https://bsky.app/profile/gripnostril.bsky.social/post/3k2yihcrp6f2c, \
                 HTTPS://X.COM/ALICESMITH. https://social.example/users/Gripnostril \
                 https://social.example/@Gripnostril/1400000000000000011 \
                 https://other.example/@AliceSmith@social.example";
    let page = json!({
        "data": [
            {"id": "1500000000000000001", "text": root, "author_id": "9001",
             "conversation_id": "1500000000000000001", "created_at": "2024-01-01T00:00:00.000Z",
             "entities": {"urls": [
                {"start": 10, "end": 66, "url": "https://t.co/AbCdEf1234",
                 "expanded_url": "https://twitter.com/Gripnostril/status/1400000000000000009/photo/1",
                 "display_url": "pic.twitter.com/AbCdEf1234"}]}},
            {"id": "1500000000000000002", "text": reply, "author_id": "9002",
             "conversation_id": "1500000000000000001", "created_at": "2024-01-01T00:01:00.000Z",
             "in_reply_to_user_id": "9001",
             "referenced_tweets": [{"type": "replied_to", "id": "1500000000000000001"}],
             "entities": {
                "mentions": [{"start": 0, "end": 11, "username": "AliceSmith", "id": "9001"}],
                "urls": [{"start": 16, "end": 44, "url": "https://t.co/zz",
                          "expanded_url": "https://mobile.twitter.com/gripnostril",
                          "display_url": "mobile.twitter.com/gripnostril"}]}},
        ],
        "includes": {"users": [
            {"id": "9001", "username": "AliceSmith", "name": "Alice Smith"},
            {"id": "9002", "username": "bob", "name": "bob"},
        ]},
    });
    let toot = json!({
        "id": "777000000000000001", "created_at": "2024-01-02T00:00:00.000Z",
        "url": "https://social.example/@carol/777000000000000001",
        "uri": "https://social.example/users/carol/statuses/777000000000000001",
        "content": "<p>look <a href=\"https://social.example/@Gripnostril\">https://social.example/@Gripnostril</a> \
                    and <a href=\"https://social.example/users/AliceSmith/statuses/1400000000000000012\">\
                    https://social.example/users/AliceSmith/statuses/1400000000000000012</a> \
                    <span class=\"h-card\"><a href=\"https://social.example/@Gripnostril\" class=\"u-url mention\">\
                    @<span>Gripnostril</span></a></span></p>",
        "account": {"id": "555", "username": "carol", "acct": "carol", "display_name": "Carol",
                    "url": "https://social.example/@carol"},
        "mentions": [{"id": "556", "username": "Gripnostril", "acct": "Gripnostril",
                      "url": "https://social.example/@Gripnostril"}],
    });
    let tw = dir.join("twarc2.jsonl");
    std::fs::write(&tw, format!("{page}\n")).unwrap();
    let md = dir.join("mastodon.jsonl");
    std::fs::write(&md, format!("{toot}\n")).unwrap();
    [tw, md].map(|p| p.to_str().unwrap().to_string())
}

fn all_bytes(dir: &Path, into: &mut Vec<u8>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            all_bytes(&p, into);
        } else {
            into.extend(std::fs::read(&p).unwrap());
        }
    }
}

#[test]
fn no_handle_or_post_id_in_a_link_survives_any_format() {
    let dir = tempfile::tempdir().unwrap();
    let [tw, md] = inputs(dir.path());
    std::fs::create_dir(dir.path().join("out")).unwrap();
    for args in [
        vec!["markdown", "--out", "out/md"],
        vec!["jsonl", "--out", "out/posts.jsonl"],
        vec!["csv", "--out", "out/csv"],
        vec!["graphml", "--out", "out/replies.graphml"],
        vec![
            "graphml",
            "--graph",
            "interactions",
            "--out",
            "out/people.graphml",
        ],
        vec!["dot", "--out", "out/replies.dot"],
        vec!["convokit", "--out", "out/ck"],
        vec!["html", "--out", "out/html"],
        vec!["gexf", "--out", "out/replies.gexf"],
    ] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_rethread"))
            .arg("export")
            .args(&args)
            .args(["--input", &tw, &md, "--pseudonymize"])
            .env("RETHREAD_SALT", "a-test-salt-of-some-length")
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            crate::common::stderr(&o)
        );
    }
    let mut bytes = Vec::new();
    all_bytes(&dir.path().join("out"), &mut bytes);
    let out = String::from_utf8_lossy(&bytes).to_lowercase();
    for raw in RAW {
        if let Some(at) = out.find(raw) {
            let near = out.get(at.saturating_sub(80)..(at + 40).min(out.len()));
            panic!("{raw} remains in the pseudonymised exports: …{near:?}…");
        }
    }
    // The links became their account's pseudonym: AliceSmith's is her author pseudonym.
    let rows: Vec<serde_json::Value> = std::fs::read_to_string(dir.path().join("out/posts.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let alice = rows[0]["author"].as_str().unwrap();
    assert!(alice.starts_with("user-"));
    let root = rows[0]["text"].as_str().unwrap();
    assert!(
        root.starts_with(&format!("my thread [post by @{alice}] and [post by @user-")),
        "{root}"
    );
    let reply = rows
        .iter()
        .find(|r| r["id"] == "1500000000000000002")
        .unwrap();
    let reply = reply["text"].as_str().unwrap();
    assert!(
        reply.contains(&format!("[profile of @{alice}].")),
        "the upper-case link is Alice too, and the full stop after it stays: {reply}"
    );
    assert!(reply.contains("([link removed]),"), "{reply}");
    // carol's `@Gripnostril` and her link to his profile are one pseudonym.
    let toot = rows
        .iter()
        .find(|r| r["id"] == "777000000000000001")
        .unwrap();
    let toot = toot["text"].as_str().unwrap();
    let grip = toot
        .split("[profile of @")
        .nth(1)
        .unwrap()
        .split(']')
        .next()
        .unwrap();
    assert!(toot.ends_with(&format!(" @{grip}")), "{toot}");
}
