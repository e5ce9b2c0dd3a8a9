//! `rethread collect mastodon` over several servers: three mastodon-mock servers on loopback,
//! each holding an overlapping part of one hashtag, as federation leaves it (a post's copy on
//! another server carries its origin's `uri`).

mod common;
#[path = "common/peer.rs"]
mod peer;

use common::{loopback, ok, rethread, stderr};
use peer::Peer;
use rusqlite::Connection;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

fn id(status: &Value) -> String {
    status["id"].as_str().expect("status id").to_string()
}

fn uri(status: &Value) -> String {
    status["uri"].as_str().expect("status uri").to_string()
}

fn host(peer: &Peer) -> String {
    peer.base.trim_start_matches("http://").to_string()
}

fn q(peer: &Peer, local: &str) -> String {
    format!("{local}@{}", host(peer))
}

fn db(dir: &Path) -> Connection {
    Connection::open(dir.join("rethread.db")).expect("open corpus")
}

fn stored_ids(conn: &Connection) -> BTreeSet<String> {
    let mut stmt = conn
        .prepare("SELECT id FROM posts WHERE platform = 'mastodon'")
        .unwrap();
    stmt.query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn counters(conn: &Connection) -> Value {
    let c: String = conn
        .query_row("SELECT counters FROM collect_jobs", [], |r| r.get(0))
        .unwrap();
    serde_json::from_str(&c).unwrap()
}

/// `collect mastodon` with every server as an `--instance`, pace and backoff shortened.
fn collect(dir: &Path, servers: &[&Peer], extra: &[&str]) -> std::process::Output {
    let mut args: Vec<String> = ["collect", "mastodon", "--tag", "fedi"]
        .map(String::from)
        .to_vec();
    for s in servers {
        args.extend(["--instance".into(), s.base.clone()]);
    }
    args.extend(["--pace", "0", "--backoff", "50", "--timeout", "3"].map(String::from));
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    rethread(dir, &refs)
}

/// The seeding, by post (origin in capitals, `+` a copy on another server):
///
/// ```text
/// P1  A  #fedi   + B, + C     R1  A  reply to P1, no tag, only A knows it
/// P2  A  #fedi                 P3  B  #fedi   + C     R3  B  reply to P3, no tag
/// P4  C  #fedi                 P5  B  #fedi
/// ```
///
/// So A's timeline returns {P1, P2}, B's {P1, P3, P5}, C's {P1, P3, P4}: a union of 5, one
/// post only on each server, overlaps A&B 1, A&C 1, B&C 2; and R1 and R3, which no timeline
/// returns, come from the threads.
struct Fediverse {
    a: Peer,
    b: Peer,
    c: Peer,
    want: BTreeSet<String>,
    /// An access token of an account on B.
    b_token: String,
}

fn fediverse() -> Fediverse {
    let (a, b, c) = (Peer::start(), Peer::start_on_disk(), Peer::start_on_disk());
    let (ana, abe) = (a.create_account("ana"), a.create_account("abe"));
    let (bo, bea) = (b.create_account("bo"), b.create_account("bea"));
    let cy = c.create_account("cy");
    // Copies are posted by a local stand-in for the remote author, then given the origin's uri.
    let ana_on_b = b.create_account("ana");
    let ana_on_c = c.create_account("ana");
    let bo_on_c = c.create_account("bo");

    let p1 = a.post(
        &ana,
        "#fedi why does a refund take three forms?",
        None,
        "public",
    );
    let r1 = a.post(
        &abe,
        "because nobody may decide alone",
        Some(&id(&p1)),
        "public",
    );
    let p2 = a.post(&abe, "#fedi the chatbot loops forever", None, "public");
    let p3 = b.post(&bo, "#fedi staff are not allowed to help", None, "public");
    let r3 = b.post(&bea, "they are trained not to", Some(&id(&p3)), "public");
    let p5 = b.post(&bea, "#fedi on hold for an hour again", None, "public");
    let p4 = c.post(&cy, "#fedi the form lost my answers", None, "public");

    let copy = |on: &Peer, who: &peer::Account, of: &Value| {
        let text = "#fedi why does a refund take three forms?";
        let text = if uri(of) == uri(&p3) {
            "#fedi staff are not allowed to help"
        } else {
            text
        };
        let c = on.post(who, text, None, "public");
        on.set_status_url(&id(&c), &uri(of));
    };
    copy(&b, &ana_on_b, &p1);
    copy(&c, &ana_on_c, &p1);
    copy(&c, &bo_on_c, &p3);

    let want = [
        q(&a, &id(&p1)),
        q(&a, &id(&r1)),
        q(&a, &id(&p2)),
        q(&b, &id(&p3)),
        q(&b, &id(&r3)),
        q(&b, &id(&p5)),
        q(&c, &id(&p4)),
    ]
    .into_iter()
    .collect();
    Fediverse {
        a,
        b,
        c,
        want,
        b_token: bo.token.clone(),
    }
}

/// `rethread coverage --format json` of the corpus in `dir`.
fn coverage_json(dir: &Path) -> Value {
    serde_json::from_str(&ok(dir, &["coverage", "--format", "json"])).unwrap()
}

/// `(server, matched)` of each server of a coverage report, in its order.
fn matched_per_server(cov: &Value) -> Vec<(String, u64)> {
    cov["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["server"].as_str().unwrap().to_string(),
                s["matched"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The coverage JSON the seeding implies, with the servers' names filled in.
fn assert_coverage(dir: &Path, f: &Fediverse) {
    let cov = coverage_json(dir);
    assert_eq!(cov["union"], 5, "{cov:#}");
    assert_eq!(cov["from_threads"], 2, "R1 and R3: {cov:#}");
    let server = |p: &Peer| -> Value {
        cov["servers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["server"] == host(p))
            .cloned()
            .unwrap_or_else(|| panic!("{} not in {cov:#}", host(p)))
    };
    for (p, matched, share) in [(&f.a, 2, 0.4), (&f.b, 3, 0.6), (&f.c, 3, 0.6)] {
        let s = server(p);
        assert_eq!(s["matched"], matched, "{s}");
        assert_eq!(s["only_here"], 1, "{s}");
        assert!((s["share"].as_f64().unwrap() - share).abs() < 1e-9, "{s}");
    }
    let both = |x: &Peer, y: &Peer| -> u64 {
        cov["overlap"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| {
                (o["a"] == host(x) && o["b"] == host(y)) || (o["a"] == host(y) && o["b"] == host(x))
            })
            .unwrap_or_else(|| panic!("no pair {} {} in {cov:#}", host(x), host(y)))["both"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(both(&f.a, &f.b), 1);
    assert_eq!(both(&f.a, &f.c), 1);
    assert_eq!(both(&f.b, &f.c), 2);
    assert_eq!(cov["overlap"].as_array().unwrap().len(), 3);
}

#[test]
fn three_servers_give_one_collection_and_say_what_each_added() {
    let f = fediverse();
    let dir = tempfile::tempdir().unwrap();
    let o = collect(dir.path(), &[&f.a, &f.b, &f.c], &[]);
    let summary = stderr(&o);
    assert!(o.status.success(), "{summary}");
    let conn = db(dir.path());
    assert_eq!(stored_ids(&conn), f.want, "each post once:\n{summary}");
    // Every server that showed P1 is on record in `fetches`.
    let p1 = f.want.iter().next().unwrap().clone();
    let shown_by: i64 = conn
        .query_row(
            "SELECT count(*) FROM fetches f LEFT JOIN aliases a ON a.id = f.id
             WHERE f.id = ?1 OR a.canonical = ?1",
            [&p1],
            |r| r.get(0),
        )
        .unwrap();
    assert!(shown_by >= 3, "P1 fetched from A, B and C: {shown_by}");
    // Two threads have replies; each is asked once, at its origin, whatever number of servers
    // showed it.
    let c = counters(&conn);
    assert_eq!(c["matched"], 5, "{c}");
    assert_eq!(
        c["context_requests"], 2,
        "one context per thread:\n{summary}"
    );
    assert_eq!(c["timeline_requests"], 3, "{c}");
    assert!(
        summary.contains("5 distinct matching posts from 3 servers; 2 more only the threads found"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "{}: 3 matched, 1 only here, 60.0% of the union",
            host(&f.b)
        )),
        "{summary}"
    );
    assert_coverage(dir.path(), &f);

    // The same as CSV, one row per fact.
    let csv = ok(dir.path(), &["coverage", "--format", "csv"]);
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("row,server,other,posts,only_here,share"));
    assert!(
        csv.contains(&format!("server,{},,2,1,0.400000", host(&f.a))),
        "{csv}"
    );
    assert!(
        csv.contains("\nunion,,,5,,\n") && csv.contains("\nfrom_threads,,,2,,"),
        "{csv}"
    );
    let table = ok(dir.path(), &["coverage"]);
    assert!(table.contains("union         5"), "{table}");

    let threads: Value =
        serde_json::from_str(&ok(dir.path(), &["threads", "--format", "json"])).unwrap();
    let threads = threads.as_array().unwrap();
    assert_eq!(threads.len(), 5, "{threads:?}");
    assert!(threads.iter().all(|t| t["complete"] == true));
    assert_eq!(threads.iter().filter(|t| t["posts"] == 2).count(), 2);

    // The servers are a set: asked in another order, the same job resumes (nothing new).
    let again = collect(dir.path(), &[&f.c, &f.a, &f.b], &[]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(stored_ids(&db(dir.path())), f.want);
}

#[test]
fn a_failing_server_is_given_up_and_a_closed_timeline_is_explained() {
    let f = fediverse();
    // B fails everything, throughout; C shows its tag timeline to logged-in users only.
    f.b.fault_status("*", 500, None);
    f.c.fault_status("/api/v1/timelines/tag/*", 401, None);
    let dir = tempfile::tempdir().unwrap();
    let o = collect(dir.path(), &[&f.a, &f.b, &f.c], &["--retries", "1"]);
    let summary = stderr(&o);
    assert!(
        !o.status.success(),
        "B's timeline is not collected:\n{summary}"
    );
    assert!(
        summary.contains(&format!("given up: {} kept failing", host(&f.b))),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "warning: {} shows its hashtag timelines to logged-in users only (HTTP 401): give a token for it in --token-file",
            host(&f.c)
        )),
        "{summary}"
    );
    assert!(
        summary.contains("the collection stopped early"),
        "{summary}"
    );
    // A's part is whole: its posts, and R1 from its thread.
    let ids = stored_ids(&db(dir.path()));
    let on_a: BTreeSet<String> = f
        .want
        .iter()
        .filter(|i| i.ends_with(&host(&f.a)))
        .cloned()
        .collect();
    assert_eq!(ids, on_a, "{summary}");
    // The coverage of that run names every server asked, those that gave nothing too.
    let cov = coverage_json(dir.path());
    let matched = matched_per_server(&cov);
    let mut quiet = [(host(&f.b), 0), (host(&f.c), 0)];
    quiet.sort();
    let mut want = vec![(host(&f.a), 2)];
    want.extend(quiet);
    assert_eq!(matched, want, "{cov:#}");
    assert_eq!(cov["overlap"].as_array().unwrap().len(), 3, "{cov:#}");

    // B back, C opened with a token: the same command goes on and completes the job.
    f.b.clear_faults();
    f.c.clear_faults();
    let again = collect(dir.path(), &[&f.a, &f.b, &f.c], &[]);
    let summary = stderr(&again);
    assert!(again.status.success(), "{summary}");
    assert!(summary.contains("resumed"), "{summary}");
    assert_eq!(stored_ids(&db(dir.path())), f.want, "{summary}");
    assert_coverage(dir.path(), &f);
}

#[test]
fn every_server_refusing_is_an_error() {
    let a = Peer::start();
    a.fault_status("/api/v1/timelines/tag/*", 403, None);
    let dir = tempfile::tempdir().unwrap();
    let o = collect(dir.path(), &[&a], &[]);
    let summary = stderr(&o);
    assert!(!o.status.success(), "{summary}");
    assert!(
        summary.contains(
            "shows its hashtag timelines to logged-in users only (HTTP 403): set MASTODON_TOKEN"
        ),
        "{summary}"
    );
    assert!(summary.contains("every server refused"), "{summary}");
}

#[test]
fn a_run_killed_between_servers_resumes_across_all_of_them() {
    let f = fediverse();
    // B's timeline is slow: the run is killed while it waits for it, after A's is stored.
    f.b.fault_latency("/api/v1/timelines/tag/*", 20_000, None);
    let dir = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rethread"))
        .args(["collect", "mastodon", "--tag", "fedi"])
        .args(["--instance", &f.a.base, "--instance", &f.b.base])
        .args(["--instance", &f.c.base, "--pace", "0", "--timeout", "30"])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let corpus = dir.path().join("rethread.db");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        std::thread::sleep(Duration::from_millis(50));
        let done: i64 = Connection::open(&corpus)
            .and_then(|c| {
                c.query_row(
                    "SELECT count(*) FROM collect_cursors WHERE done = 1 AND stream LIKE 'tag:%'",
                    [],
                    |r| r.get(0),
                )
            })
            .unwrap_or(0);
        if done >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "A's timeline never finished");
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let partial = stored_ids(&db(dir.path()));
    assert!(partial.len() < f.want.len(), "killed too late: {partial:?}");
    f.b.clear_faults();

    let again = collect(dir.path(), &[&f.a, &f.b, &f.c], &[]);
    let summary = stderr(&again);
    assert!(again.status.success(), "{summary}");
    assert!(summary.contains("resumed"), "{summary}");
    let conn = db(dir.path());
    assert_eq!(stored_ids(&conn), f.want, "{summary}");
    // Matched once each over both runs, and each thread asked once.
    assert_eq!(counters(&conn)["matched"], 5, "{summary}");
    let asked: i64 = conn
        .query_row(
            "SELECT count(*) FROM collect_frontier WHERE state = 'asked'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(asked, 2, "{summary}");
    assert_coverage(dir.path(), &f);
}

#[cfg(unix)]
#[test]
fn each_token_of_a_token_file_goes_to_its_own_server_only() {
    use std::os::unix::fs::PermissionsExt;
    let f = fediverse();
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.txt");
    std::fs::write(&tokens, format!("# B only\n{} {}\n", f.b.base, f.b_token)).unwrap();
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o640)).unwrap();
    let path = tokens.to_str().unwrap();
    let refused = collect(dir.path(), &[&f.a, &f.b, &f.c], &["--token-file", path]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("others can read it (mode 640)"),
        "{}",
        stderr(&refused)
    );
    assert!(
        !dir.path().join("rethread.db").exists(),
        "refused before anything"
    );
    std::fs::set_permissions(&tokens, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = collect(dir.path(), &[&f.a, &f.b, &f.c], &["--token-file", path]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains(&f.b_token));
    let conn = db(dir.path());
    let mut stmt = conn
        .prepare(
            "SELECT server, max(authenticated), min(authenticated) FROM fetches GROUP BY server",
        )
        .unwrap();
    let rows: Vec<(String, i64, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (server, max, min) in rows {
        let with_token = i64::from(server == host(&f.b));
        assert_eq!((max, min), (with_token, with_token), "{server}");
    }
    let bytes = std::fs::read(dir.path().join("rethread.db")).unwrap();
    assert!(!String::from_utf8_lossy(&bytes).contains(&f.b_token));
}

#[test]
fn discover_asks_the_servers_that_wrote_most_posts_once_and_no_further() {
    // A, the server given, holds copies of three posts from D (a Mastodon server), two from E
    // (a Misskey server: no Mastodon API) and one from F. `--discover 2` asks D (top), skips E
    // (its nodeinfo says misskey), and never considers F (third). D's timeline has one post
    // more, and copies of five posts from G: G would top a count over D's posts, but
    // discovery goes one step, so G's timeline is never asked.
    let a = Peer::start_on_disk();
    let d = Peer::start_on_disk();
    let g = loopback::Loopback::start(100, |_| {
        loopback::Response::json("404 Not Found", r#"{"error":"Not found"}"#)
    });
    let e = loopback::Loopback::start(100, |r| {
        let base = r
            .header("host")
            .map(|h| format!("http://{h}"))
            .unwrap_or_default();
        match r.path() {
            "/.well-known/nodeinfo" => loopback::Response::json(
                "200 OK",
                format!(
                    r#"{{"links":[{{"rel":"http://nodeinfo.diaspora.software/ns/schema/2.1","href":"{base}/nodeinfo/2.1"}}]}}"#
                ),
            ),
            "/nodeinfo/2.1" => loopback::Response::json(
                "200 OK",
                r#"{"version":"2.1","software":{"name":"misskey","version":"2025.1.0"}}"#,
            ),
            _ => loopback::Response::json("404 Not Found", r#"{"error":"Not found"}"#),
        }
    });
    let f_base = "http://127.0.0.1:9"; // discard port: nothing answers there
    let dee = d.create_account("dee");
    let mut d_posts = Vec::new();
    for i in 0..4 {
        d_posts.push(d.post(&dee, &format!("#fedi post {i} from D"), None, "public"));
    }
    for i in 0..5 {
        let c = d.post(&dee, &format!("#fedi G post {i}"), None, "public");
        d.set_status_url(&id(&c), &format!("{}/@gus/{}", g.base, i + 1));
    }
    let someone = a.create_account("someone");
    let copy = |text: &str, uri: &str| {
        let c = a.post(&someone, text, None, "public");
        a.set_status_url(&id(&c), uri);
    };
    for (i, p) in d_posts.iter().take(3).enumerate() {
        copy(&format!("#fedi post {i} from D"), &uri(p));
    }
    copy("#fedi note one from E", &format!("{}/@eve/1", e.base));
    copy("#fedi note two from E", &format!("{}/@eve/2", e.base));
    copy("#fedi a post from F", &format!("{f_base}/@fay/9"));

    let dir = tempfile::tempdir().unwrap();
    let o = collect(dir.path(), &[&a], &["--discover", "2", "--retries", "0"]);
    let summary = stderr(&o);
    let asking = format!("--discover: asking {} (mastodon ", host(&d));
    assert!(
        summary
            .lines()
            .any(|l| l.contains(&asking) && l.ends_with("), the origin of 3 matched posts")),
        "{summary}"
    );
    assert!(
        summary.contains(&format!(
            "--discover: not asking {}, the origin of 2 matched posts: it runs misskey, which does not serve the Mastodon API",
            e.base.trim_start_matches("http://")
        )),
        "{summary}"
    );
    assert!(
        !summary.contains("127.0.0.1:9,") && !summary.contains("asking 127.0.0.1:9 "),
        "{summary}"
    );
    assert_eq!(
        e.count("/api/v1/timelines/tag/fedi"),
        0,
        "E's timeline never asked"
    );
    assert_eq!(
        g.count("/api/v1/timelines/tag/fedi"),
        0,
        "one step only: not G's"
    );
    assert_eq!(g.count("/.well-known/nodeinfo"), 0, "G not even considered");
    let cov = coverage_json(dir.path());
    let servers = matched_per_server(&cov);
    assert_eq!(servers, [(host(&d), 9), (host(&a), 6)], "{cov:#}");
    assert_eq!(cov["union"], 12, "{cov:#}");
}
