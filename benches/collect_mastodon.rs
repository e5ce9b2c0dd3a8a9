//! Benchmark: collect a seeded tag of 2,000 posts in 300 threads from a real Mastodon-API peer
//! (mastodon-mock on loopback), and report requests per thread and posts per request; then the
//! same tag over three servers, the other two holding copies of part of it (every second and
//! every third thread's tagged posts, as federation leaves them: their `uri` names the first
//! server), where each thread must still be asked about once (target: ≤ 1.05 context requests
//! per thread, plus the tag pages).
//!
//! `cargo bench --bench collect_mastodon` (add `-- POSTS THREADS` to change the size). The peer
//! is installed like the tests' (tests/common/peer.rs). Numbers, not assertions: speed targets
//! live here, never in timed tests.

#[path = "../tests/common/peer.rs"]
mod peer;

use peer::{Peer, SeedPost};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Run `rethread collect mastodon` on `servers`; the corpus, the counters and the wall time.
fn collect(dir: &Path, servers: &[&Peer]) -> (rusqlite::Connection, serde_json::Value, Duration) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rethread"));
    cmd.args(["collect", "mastodon", "--tag", "bench", "--pace", "0"]);
    for s in servers {
        cmd.args(["--instance", &s.base]);
    }
    let t = Instant::now();
    let out = cmd.current_dir(dir).output().expect("run rethread");
    let wall = t.elapsed();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "collect failed:\n{err}");
    let conn = rusqlite::Connection::open(dir.join("rethread.db")).expect("corpus");
    let counters: String = conn
        .query_row("SELECT counters FROM collect_jobs", [], |r| r.get(0))
        .unwrap();
    (conn, serde_json::from_str(&counters).unwrap(), wall)
}

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
    // The thread of each seed post.
    let mut owner: Vec<usize> = Vec::with_capacity(posts);
    for t in 0..threads {
        owner.push(t);
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
        owner.push(t);
        seed.push(SeedPost::reply(text, parent));
    }

    let t0 = Instant::now();
    let (peer, _account, ids) = Peer::start_seeded("bench", &seed);
    let seeded = t0.elapsed();

    let dir = tempfile::tempdir().expect("temp dir");
    let (conn, c, wall) = collect(dir.path(), &[&peer]);
    let stored: i64 = conn
        .query_row("SELECT count(*) FROM posts", [], |r| r.get(0))
        .unwrap();
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
    assert_eq!(stored as usize, posts, "every post collected once");

    // Three servers: B holds copies of the tagged posts of every second thread, C of every
    // third, each copy a post of its own there whose uri is the original's on the first server.
    // mastodon-mock writes a status's uri as its web address, `BASE/@username/ID`.
    let copies = |every: usize| -> Vec<(SeedPost, String)> {
        seed.iter()
            .enumerate()
            .filter(|(i, p)| p.text.starts_with("#bench") && owner[*i].is_multiple_of(every))
            .map(|(i, p)| {
                (
                    SeedPost::public(p.text.clone()),
                    format!("{}/@bench/{}", peer.base, ids[i]),
                )
            })
            .collect()
    };
    let t2 = Instant::now();
    let mut others = Vec::new();
    for every in [2, 3] {
        let want = copies(every);
        let posts: Vec<SeedPost> = want.iter().map(|(p, _)| p.clone()).collect();
        let (server, _, local) = Peer::start_seeded_on_disk("bench", &posts);
        let urls: Vec<(String, String)> = local
            .iter()
            .zip(&want)
            .map(|(l, (_, origin))| (l.clone(), origin.clone()))
            .collect();
        server.set_status_urls(&urls);
        others.push((server, want.len()));
    }
    let seeded3 = t2.elapsed();
    let dir3 = tempfile::tempdir().expect("temp dir");
    let (conn3, c3, wall3) = collect(dir3.path(), &[&peer, &others[0].0, &others[1].0]);
    let stored3: i64 = conn3
        .query_row("SELECT count(*) FROM posts", [], |r| r.get(0))
        .unwrap();
    let n3 = |k: &str| c3[k].as_u64().unwrap_or(0);
    let per_thread3 = (n3("context_requests") + n3("status_requests")) as f64 / threads as f64;
    println!(
        "collect_mastodon, three servers: the same tag, copies of {} and {} tagged posts on two more",
        others[0].1, others[1].1
    );
    println!(
        "  seeding the two servers      {:>8.2} s",
        seeded3.as_secs_f64()
    );
    println!(
        "  rethread collect (wall)     {:>8.2} s",
        wall3.as_secs_f64()
    );
    println!("  posts stored                {stored3:>8} of {posts} (copies joined by uri)");
    println!(
        "  HTTP requests               {:>8} (timeline {}, context {}, status {}, retries {})",
        n3("http_requests"),
        n3("timeline_requests"),
        n3("context_requests"),
        n3("status_requests"),
        n3("retries")
    );
    println!(
        "  requests per thread         {per_thread3:>8.2} (context + status; target <= 1.05, plus the tag pages)"
    );
    assert_eq!(
        stored3 as usize, posts,
        "every post stored once over three servers"
    );
}
