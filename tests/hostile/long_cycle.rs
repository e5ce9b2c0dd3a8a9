//! A reply cycle through a whole corpus (issue 11, smaller points): the warning that reports it
//! names a few of its posts and how many there are. Before the fix it listed every id of the
//! cycle, an 18 MB line for a million posts.

use crate::common::{rethread, stderr, stdout};

#[test]
fn a_cycle_of_100000_posts_is_reported_in_one_short_line() {
    const N: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Post i replies to post i + 1, and the last to the first: one cycle through every post.
    let mut text = String::new();
    for id in 1..=N {
        let parent = if id == N { 1 } else { id + 1 };
        text.push_str(
            &serde_json::json!({
                "id": id.to_string(),
                "created_at": "2024-01-01T00:00:00.000Z",
                "in_reply_to_id": parent.to_string(),
                "content": format!("<p>post {id}</p>"),
                "visibility": "public",
                "account": {"id": "1", "username": "a", "acct": "a", "url": "https://h.example/@a"}
            })
            .to_string(),
        );
        text.push('\n');
    }
    let file = d.join("cycle.jsonl");
    std::fs::write(&file, text).unwrap();
    let o = rethread(
        d,
        &[
            "threads",
            "--input",
            file.to_str().unwrap(),
            "--format",
            "csv",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.len() < 1000,
        "the warning is short: {} bytes, starting {:?}",
        err.len(),
        &err[..err.len().min(300)]
    );
    // Cut at the earliest post (all share one time: the smallest id), listed from there down.
    assert!(
        err.contains(&format!(
            "reply cycle among {N} posts (1 → {N} → {} → {} → {} → … {} more); cut the reply link from 1 to 2",
            N - 1,
            N - 2,
            N - 3,
            N - 5
        )),
        "{err}"
    );
    assert_eq!(stdout(&o).lines().count(), 2, "one thread holds every post");
}
