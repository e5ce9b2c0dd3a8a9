//! Defect 5 of issue 11: HTML to text took time quadratic in the nesting depth, so a status of
//! 40,000 nested `<ul><li>` took 18 s to read and 100,000 nested `<div>` 29 s, and a server
//! could stall a collection with one. The depth html2text sees is now bounded by a linear pass
//! that keeps every word (speed: `cargo bench --bench html_text`; no timing here). These tests
//! keep the other half: deep posts import whole, every word of them there and in order.

use crate::common::{ok, rethread, stderr};

/// A status whose content nests `depth` levels of `open`…`close` with one word at each level.
fn deep_status(id: &str, depth: usize, open: &str, close: &str) -> String {
    let mut html = String::new();
    for i in 0..depth {
        html.push_str(open);
        html.push_str(&format!("w{i} "));
    }
    html.push_str(&close.repeat(depth));
    serde_json::json!({
        "id": id,
        "created_at": "2022-11-07T15:38:14.103Z",
        "in_reply_to_id": "1",
        "content": html,
        "account": {"id": "7", "username": "ana", "acct": "ana@social.example"}
    })
    .to_string()
}

#[test]
fn deeply_nested_statuses_import_with_every_word_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let cases = [
        ("2", 40_000, "<ul><li>", "</li></ul>"),
        ("3", 100_000, "<div>", "</div>"),
        // Formatting elements, which html5ever closes its own way, and unclosed paragraphs.
        ("4", 50_000, "<b><i>", "</i></b>"),
        ("5", 50_000, "<p>", ""),
    ];
    let root = r#"{"id":"1","created_at":"2022-11-07T15:00:00.000Z","content":"<p>Is this <a href=\"https://e.example/x\">designed</a>?</p><p>Second</p>","account":{"id":"7","username":"ana","acct":"ana@social.example"}}"#;
    let mut lines = vec![root.to_string()];
    lines.extend(
        cases
            .iter()
            .map(|(id, depth, open, close)| deep_status(id, *depth, open, close)),
    );
    std::fs::write(d.join("deep.jsonl"), lines.join("\n")).unwrap();

    let o = rethread(d, &["import", "--db", "c.db", "deep.jsonl"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let db = rusqlite::Connection::open(d.join("c.db")).unwrap();
    let text = |id: &str| -> String {
        db.query_row("SELECT text FROM posts WHERE id = ?1", [id], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(
        text("1"),
        "Is this designed?\n\nSecond",
        "a normal post as before"
    );
    for (id, depth, open, _) in cases {
        let words: Vec<String> = text(id)
            .split_whitespace()
            .filter(|w| w.starts_with('w'))
            .map(str::to_string)
            .collect();
        let want: Vec<String> = (0..depth).map(|i| format!("w{i}")).collect();
        assert!(
            words == want,
            "{open} x {depth}: words lost, joined or out of order"
        );
    }

    // Read without a corpus: the same posts, in one thread.
    let json = ok(d, &["threads", "--format", "json", "--input", "deep.jsonl"]);
    let threads: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(threads.as_array().unwrap().len(), 1, "{json}");
    assert_eq!(threads[0]["posts"], 5);
}
