//! Tests of the peer harness (`tests/common/peer.rs`) against the real mastodon-mock server:
//! that it starts, seeds and injects faults the way the tests built on it assume.

#[path = "common/peer.rs"]
mod peer;

use std::collections::BTreeMap;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use peer::{mock_bin, Peer, SeedPost};
use serde_json::Value;

fn id(status: &Value) -> &str {
    status["id"].as_str().expect("status id")
}

/// The target of `rel="next"` in a `Link` header, if any.
fn next_link(link: &str) -> Option<&str> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        (params.trim() == r#"rel="next""#).then(|| target.trim_matches(['<', '>']))
    })
}

#[test]
fn mock_bin_is_resolved_once_for_all_threads() {
    let bins: Vec<_> = (0..4)
        .map(|_| thread::spawn(mock_bin))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(bins[0].is_file(), "{}", bins[0].display());
    assert!(bins.iter().all(|b| b == &bins[0]));
}

#[test]
fn a_thread_with_a_private_reply_comes_back_in_its_context() {
    let p = Peer::start();
    let alice = p.create_account("alice");
    let bob = p.create_account("bob");
    assert_ne!(alice.id, bob.id);

    let root = p.post(&alice, "a root post #Harness", None, "public");
    let reply = p.post(&bob, "a public reply", Some(id(&root)), "public");
    let nested = p.post(&alice, "a reply to the reply", Some(id(&reply)), "unlisted");
    let private = p.post(&bob, "a followers-only aside", Some(id(&root)), "private");

    // uri and url are the same permalink, on the domain given with --domain.
    let permalink = format!("http://127.0.0.1:{}/@alice/{}", p.port, id(&root));
    assert_eq!(root["uri"], permalink.as_str());
    assert_eq!(root["url"], permalink.as_str());
    assert_eq!(reply["in_reply_to_id"], id(&root));
    assert_eq!(reply["in_reply_to_account_id"], alice.id.as_str());
    assert_eq!(root["tags"][0]["name"], "harness");

    let ctx = p.get_json(&format!("/api/v1/statuses/{}/context", id(&root)));
    assert_eq!(ctx["ancestors"].as_array().unwrap().len(), 0);
    // The tree, rebuilt from in_reply_to_id: the server returns descendants breadth-first,
    // real Mastodon depth-first, so nothing may depend on their order.
    let parents: BTreeMap<&str, &str> = ctx["descendants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (id(s), s["in_reply_to_id"].as_str().unwrap()))
        .collect();
    let expected = BTreeMap::from([
        (id(&reply), id(&root)),
        (id(&nested), id(&reply)),
        (id(&private), id(&root)),
    ]);
    assert_eq!(parents, expected);
    // Anonymous readers see the private reply here; real Mastodon would hide it.
    let shown_private = ctx["descendants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| id(s) == id(&private))
        .unwrap();
    assert_eq!(shown_private["visibility"], "private");

    let leaf = p.get_json(&format!("/api/v1/statuses/{}/context", id(&nested)));
    let ancestors: Vec<&str> = leaf["ancestors"]
        .as_array()
        .unwrap()
        .iter()
        .map(id)
        .collect();
    assert_eq!(ancestors, [id(&root), id(&reply)]);

    // A reply to a status the server never had keeps the id: a gap to rebuild around.
    let dangling = p.post(&bob, "replying into the void", Some("1"), "public");
    assert_eq!(dangling["in_reply_to_id"], "1");
    assert!(dangling["in_reply_to_account_id"].is_null());
    let ctx = p.get_json(&format!("/api/v1/statuses/{}/context", id(&dangling)));
    assert_eq!(ctx["ancestors"].as_array().unwrap().len(), 0);
}

#[test]
fn a_note_can_be_set_but_noindex_cannot() {
    let p = Peer::start();
    let carol = p.create_account("carol");
    let note = r#"<p>Research account. <a href="https://example.org">#nobot</a></p>"#;
    p.set_note(&carol, note);
    let seen = p.get_json(&format!("/api/v1/accounts/{}", carol.id));
    assert_eq!(seen["note"], note);
    // The server never reports noindex and ignores attempts to set indexable.
    let updated = p.update_credentials(&carol, &[("indexable", "true"), ("noindex", "true")]);
    assert!(updated["noindex"].is_null());
    assert_eq!(updated["indexable"], false);
}

#[test]
fn a_429_fault_fires_once_with_retry_after_then_clears() {
    let p = Peer::start();
    let dave = p.create_account("dave");
    let status = p.post(&dave, "rate limited soon", None, "public");
    let path = format!("/api/v1/statuses/{}", id(&status));

    p.fault_429("/api/v1/statuses/*", 7, Some(1));
    let before = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let limited = p.get(&path);
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("7"));
    assert_eq!(limited.header("x-ratelimit-limit"), Some("300"));
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    let reset: u64 = limited
        .header("x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    assert!((before + 6..=before + 8).contains(&reset), "reset {reset}");
    assert_eq!(limited.body, r#"{"error":"Too many requests"}"#);

    assert_eq!(p.get(&path).status, 200);
    assert!(p.faults().is_empty(), "a count-1 rule is gone after firing");
}

#[test]
fn status_malformed_latency_and_hang_faults_behave_as_documented() {
    let p = Peer::start();
    let erin = p.create_account("erin");
    let status = p.post(&erin, "faulty", None, "public");
    let path = format!("/api/v1/statuses/{}", id(&status));

    // Forever until removed; GET-only, so posting still works meanwhile.
    let rule = p.fault_status(&path, 503, None);
    assert_eq!(p.get(&path).status, 503);
    assert_eq!(p.get(&path).status, 503);
    p.post(&erin, "posting is not faulted", None, "public");
    assert_eq!(p.faults()[0]["remaining"], Value::Null);
    p.remove_fault(&rule);
    assert_eq!(p.get(&path).status, 200);

    p.fault_malformed(&path, Some(1));
    let bad = p.get(&path);
    assert_eq!(bad.status, 200);
    assert_eq!(bad.header("content-type"), Some("application/json"));
    assert_eq!(bad.body, r#"{"error": "truncated"#);

    p.fault_latency(&path, 600, Some(1));
    let start = Instant::now();
    assert_eq!(p.get(&path).status, 200);
    assert!(start.elapsed() >= Duration::from_millis(600));

    p.fault_hang(&path, Some(1));
    let impatient = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let err = impatient.get(p.url(&path)).send().unwrap_err();
    assert!(err.is_timeout(), "{err}");

    // A regex rule, added raw, and clear_faults.
    p.add_fault(serde_json::json!({
        "match": {"path_regex": r"^/api/v1/statuses/\d+$"},
        "effect": {"type": "status", "status": 401, "body": {"error": "The access token is invalid"}},
    }));
    let denied = p.get(&path);
    assert_eq!(denied.status, 401);
    assert_eq!(denied.body, r#"{"error":"The access token is invalid"}"#);
    p.clear_faults();
    assert!(p.faults().is_empty());
    assert_eq!(p.get(&path).status, 200);
}

#[test]
fn a_tag_timeline_of_more_than_40_posts_pages_with_link_next() {
    let p = Peer::start();
    let frank = p.create_account("frank");
    let start = Instant::now();
    let ids: Vec<String> = (0..45)
        .map(|i| id(&p.post(&frank, &format!("post {i} #Paging"), None, "public")).to_owned())
        .collect();
    eprintln!("45 sequential posts: {:.1?} each", start.elapsed() / 45);
    // A private post with the tag is not on the timeline.
    p.post(&frank, "hidden #paging", None, "private");

    let first = p.get("/api/v1/timelines/tag/paging?limit=40");
    assert_eq!(first.status, 200);
    let next = next_link(first.header("link").expect("a Link header")).expect("rel=next");
    let page = first.json().as_array().unwrap().clone();
    // Newest first.
    let got: Vec<&str> = page.iter().map(id).collect();
    let newest: Vec<&str> = ids.iter().rev().take(40).map(String::as_str).collect();
    assert_eq!(got, newest);
    assert_eq!(
        next,
        format!(
            "{}/api/v1/timelines/tag/paging?max_id={}&limit=40",
            p.base, got[39]
        )
    );

    let second = p.get(next);
    let link = second.header("link").expect("a Link header");
    assert!(
        next_link(link).is_none(),
        "a short page has no next: {link}"
    );
    assert!(link.contains(r#"rel="prev""#));
    let page = second.json().as_array().unwrap().clone();
    let got: Vec<&str> = page.iter().map(id).collect();
    let oldest: Vec<&str> = ids.iter().take(5).rev().map(String::as_str).collect();
    assert_eq!(got, oldest);
}

#[test]
fn post_many_returns_ids_in_order() {
    let p = Peer::start();
    let gina = p.create_account("gina");
    let texts: Vec<String> = (0..120).map(|i| format!("bulk {i} #bulk")).collect();
    for threads in [1, 4] {
        let start = Instant::now();
        let ids = p.post_many(&gina, &texts[..60], threads);
        eprintln!(
            "post_many, {threads} thread(s): {:.1?} per post",
            start.elapsed() / 60
        );
        assert_eq!(ids.len(), 60);
    }
    let ids = p.post_many(&gina, &texts[..3], 2);
    for (i, sid) in ids.iter().enumerate() {
        let s = p.get_json(&format!("/api/v1/statuses/{sid}"));
        assert_eq!(s["content"], format!("<p>bulk {i} #bulk</p>"));
    }
}

#[test]
fn start_seeded_holds_the_posts_in_order_with_their_replies() {
    let mut posts = vec![SeedPost::public("a \"quoted\" <root> & a\ttab, ü #Seeded")];
    posts.extend((1..150).map(|i| SeedPost::reply(format!("reply {i} #seeded"), i / 2)));
    posts.push(SeedPost {
        visibility: "private",
        ..SeedPost::reply("private reply", 0)
    });
    let (p, author, ids) = Peer::start_seeded("seeder", &posts);
    assert_eq!(ids.len(), posts.len());

    let root = p.get_json(&format!("/api/v1/statuses/{}", ids[0]));
    assert_eq!(
        root["content"],
        "<p>a \"quoted\" &lt;root&gt; &amp; a\ttab, ü #Seeded</p>"
    );
    assert_eq!(root["account"]["id"], author.id.as_str());
    let reply = p.get_json(&format!("/api/v1/statuses/{}", ids[7]));
    assert_eq!(reply["in_reply_to_id"], ids[3].as_str());
    assert!(reply["in_reply_to_account_id"].is_null());

    let ctx = p.get_json(&format!("/api/v1/statuses/{}/context", ids[0]));
    let descendants = ctx["descendants"].as_array().unwrap();
    assert_eq!(
        descendants.len(),
        posts.len() - 1,
        "the context is not capped"
    );
    assert_eq!(
        p.get_json(&format!("/api/v1/statuses/{}", ids[150]))["visibility"],
        "private"
    );
    // The account's token works like any other.
    p.post(&author, "posted after seeding", Some(&ids[0]), "public");
    // A seed list replaces the server's default one, which holds `testuser`.
    assert_eq!(p.get("/api/v1/accounts/lookup?acct=testuser").status, 404);
    assert_eq!(
        Peer::start()
            .get("/api/v1/accounts/lookup?acct=testuser")
            .status,
        200
    );
}

#[test]
fn two_peers_run_side_by_side() {
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(Peer::start);
        let b = s.spawn(Peer::start);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.port, b.port);
    let on_a = a.create_account("harriet");
    let on_b = b.create_account("harriet");
    let post_a = a.post(&on_a, "from a", None, "public");
    let post_b = b.post(&on_b, "from b", None, "public");
    assert_eq!(
        post_a["uri"],
        format!("http://{}/@harriet/{}", a.domain(), id(&post_a)).as_str()
    );
    assert_eq!(
        post_b["uri"],
        format!("http://{}/@harriet/{}", b.domain(), id(&post_b)).as_str()
    );
    // Each is its own instance: an account made on one is unknown on the other.
    a.create_account("ivan");
    let lookup = b.get("/api/v1/accounts/lookup?acct=ivan");
    assert_eq!(lookup.status, 404);
    assert_eq!(lookup.body, r#"{"error":"Record not found"}"#);
}

#[test]
fn the_configured_rate_limiter_answers_429_after_its_limit() {
    let p =
        Peer::start_with_config("[ratelimit]\nenabled = true\nlimit = 3\nwindow_seconds = 60\n");
    // It counts per bearer token (valid or not), so a fresh token has its whole budget.
    for left in ["2", "1", "0"] {
        let r = p.get_with_token("/api/v1/instance", "budget-probe");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("x-ratelimit-remaining"), Some(left));
    }
    let limited = p.get_with_token("/api/v1/instance", "budget-probe");
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("x-ratelimit-limit"), Some("3"));
    assert!(limited
        .header("x-ratelimit-reset")
        .unwrap()
        .parse::<u64>()
        .is_ok());
    assert_eq!(limited.header("retry-after"), None);
}

/// rethread's Mastodon client is async, so its tests will hold peers in `#[tokio::test]`s.
#[tokio::test]
async fn the_peer_works_inside_a_tokio_test() {
    let p = Peer::start();
    let jo = p.create_account("jo");
    let status = p.post(&jo, "from async", None, "public");
    assert_eq!(
        p.get(&format!("/api/v1/statuses/{}", id(&status))).status,
        200
    );
    p.fault_status("/api/v1/statuses/*", 500, Some(1));
    drop(p);
}
