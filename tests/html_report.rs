//! `rethread export html` opened in headless Chromium (`.ci/run` installs it; without it the
//! browser check is skipped with a message).

mod common;

use common::*;
use std::path::Path;
use std::process::Command;

fn corpus(dir: &Path) -> Vec<String> {
    let extra = serde_json::json!({
        "data": [{
            "id": "9000000000000000001", "text": "<script>alert(1)</script> & \"training\"",
            "author_id": "42", "created_at": "2010-03-17T09:00:00.000Z",
            "conversation_id": "8999999999999999999",
            "referenced_tweets": [{"type": "replied_to", "id": "8999999999999999999"}]
        }],
        "includes": {"users": [{"id": "42", "username": "mallory", "name": "M"}]}
    });
    std::fs::write(dir.join("extra.jsonl"), format!("{extra}\n")).unwrap();
    vec![
        fixture("seed002/twarc2.jsonl")
            .to_str()
            .unwrap()
            .to_string(),
        "extra.jsonl".to_string(),
    ]
}

#[test]
fn the_report_is_self_contained_and_a_browser_draws_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = corpus(dir.path());
    let mut args = vec!["export", "html", "--out", "report", "--input"];
    args.extend(inputs.iter().map(String::as_str));
    ok(dir.path(), &args);
    let report = dir.path().join("report");
    let index = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(index.contains("twitter-1268730000000000001.html"));
    assert!(
        index.contains("Over-designed, rigid systems"),
        "the theme chart"
    );
    let seed = std::fs::read_to_string(report.join("twitter-1268730000000000001.html")).unwrap();
    assert_eq!(seed.matches("<circle").count(), 17, "a node per post");
    let orphan = std::fs::read_to_string(report.join("twitter-8999999999999999999.html")).unwrap();
    assert!(orphan.contains("stroke-dasharray"), "the gap is dashed");
    assert!(
        orphan.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "post text is escaped"
    );
    // Self-contained: no script, no external resource.
    for page in [&index, &seed, &orphan] {
        assert!(!page.contains("<script"));
        assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
    }

    if Command::new("chromium").arg("--version").output().is_err() {
        eprintln!("skipping the browser check: chromium not installed (.ci/run installs it)");
        return;
    }
    let url = format!(
        "file://{}",
        report.join("twitter-1268730000000000001.html").display()
    );
    let run = |extra: &[&str]| {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .args(extra)
            .arg(&url)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let shot = run(&["--window-size=1200,1600", "--screenshot=shot.png"]);
    let png = std::fs::read(dir.path().join("shot.png")).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000);
    let dom = run(&["--dump-dom"]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(
        dom_text.matches("<circle").count(),
        17,
        "the browser built the tree"
    );
    for out in [&shot, &dom] {
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !err.lines()
                .any(|l| l.contains("CONSOLE") || l.contains("Uncaught")),
            "console errors: {err}"
        );
    }
}
