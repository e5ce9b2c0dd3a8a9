//! Benchmark: collect a seeded tag of 2,000 posts in 300 threads from a real Mastodon-API peer
//! (mastodon-mock on loopback), and report requests per thread and posts per request.
//!
//! `cargo bench --bench collect_mastodon` (add `-- POSTS THREADS` to change the size). The peer
//! is installed like the tests' (tests/common/peer.rs). Numbers, not assertions: speed targets
//! live here, never in timed tests.

#[path = "../tests/common/peer.rs"]
mod peer;

use peer::{Peer, SeedPost};
use std::process::Command;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let posts: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let threads: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(300);
    assert!(
        threads >= 1 && posts >= threads,
        "need POSTS >= THREADS >= 1"
    );

    // Deterministic shapes: each thread root carries the tag; the other posts reply to a
    // random earlier post of a random thread, and one in four carries the tag too (a tagged
    // reply must not cost a request of its own: its thread is already fetched).
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move |n: usize| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng % n as u64) as usize
    };
    let mut seed: Vec<SeedPost> = Vec::with_capacity(posts);
    let mut members: Vec<Vec<usize>> = Vec::with_capacity(threads);
    for t in 0..threads {
        members.push(vec![seed.len()]);
        seed.push(SeedPost::public(format!(
            "#bench thread {t}: why is support so slow?"
        )));
    }
    let mut tagged = threads;
    for i in threads..posts {
        let t = next(threads);
        let parent = members[t][next(members[t].len())];
        let tag = next(4) == 0;
        tagged += tag as usize;
        let text = if tag {
            format!("#bench reply {i} in thread {t}")
        } else {
            format!("reply {i} in thread {t}")
        };
        members[t].push(seed.len());
        seed.push(SeedPost::reply(text, parent));
    }

    let t0 = Instant::now();
    let (peer, _account, _ids) = Peer::start_seeded("bench", &seed);
    let seeded = t0.elapsed();

    let dir = tempfile::tempdir().expect("temp dir");
    let t1 = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_rethread"))
        .args([
            "collect",
            "mastodon",
            "--instance",
            &peer.base,
            "--tag",
            "bench",
            "--pace",
            "0",
        ])
        .current_dir(dir.path())
        .output()
        .expect("run rethread");
    let wall = t1.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "collect failed:\n{err}");

    let conn = rusqlite::Connection::open(dir.path().join("rethread.db")).expect("corpus");
    let stored: i64 = conn
        .query_row("SELECT count(*) FROM posts", [], |r| r.get(0))
        .unwrap();
    let counters: String = conn
        .query_row("SELECT counters FROM collect_jobs", [], |r| r.get(0))
        .unwrap();
    let c: serde_json::Value = serde_json::from_str(&counters).unwrap();
    let n = |k: &str| c[k].as_u64().unwrap_or(0);
    let requests = n("http_requests");
    let thread_requests = n("context_requests") + n("status_requests");
    println!("collect_mastodon: {posts} posts in {threads} threads ({tagged} tagged), mastodon-mock on loopback");
    println!(
        "  seeding the peer            {:>8.2} s",
        seeded.as_secs_f64()
    );
    println!(
        "  rethread collect (wall)     {:>8.2} s",
        wall.as_secs_f64()
    );
    println!("  posts stored                {stored:>8} of {posts}");
    println!("  HTTP requests               {requests:>8} (timeline {}, context {}, status {}, retries {})",
        n("timeline_requests"), n("context_requests"), n("status_requests"), n("retries"));
    println!(
        "  requests per thread         {:>8.2} (context + status)",
        thread_requests as f64 / threads as f64
    );
    println!(
        "  posts per request           {:>8.2}",
        stored as f64 / requests.max(1) as f64
    );
    println!(
        "  posts per second            {:>8.0}",
        stored as f64 / wall.as_secs_f64()
    );
    assert_eq!(stored as usize, posts, "every post collected once:\n{err}");
}
