//! `rethread export parquet` read by DuckDB (PyPI `duckdb`, in the tests' venv): the four files
//! load with the types the README promises, and SQL over them gives back what `rethread
//! threads` says: posts per thread, and thread roots rebuilt by a recursive walk up `edges`.
//! And the README's Spark SQL run by Spark (PySpark 4.1.1, local mode, `target/spark-venv`).

mod common;
#[path = "common/peer.rs"]
mod peer;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

const QUERIES: &str = r#"
import json, sys
import duckdb
d = sys.argv[1]
con = duckdb.connect()
for t in ["posts", "edges", "threads", "codes"]:
    con.execute(f"CREATE VIEW {t} AS SELECT * FROM read_parquet('{d}/{t}.parquet')")
types = {r[0]: r[1] for r in con.execute("DESCRIBE posts").fetchall()}
types.update({"threads." + r[0]: r[1] for r in con.execute("DESCRIBE threads").fetchall()})
per_thread = dict(con.execute(
    "SELECT thread, count(*) FROM posts WHERE NOT gap GROUP BY thread").fetchall())
# Thread roots without the thread column: walk down from every row without a parent.
walked = dict(con.execute("""
    WITH RECURSIVE walk(node, root) AS (
        SELECT id, id FROM posts WHERE parent IS NULL
        UNION ALL
        SELECT e.source, w.root FROM edges e JOIN walk w ON e.target = w.node
    )
    SELECT w.root, count(*) FILTER (WHERE NOT p.gap)
    FROM walk w JOIN posts p ON p.id = w.node GROUP BY w.root""").fetchall())
threads = [dict(zip(["id", "root", "posts", "gaps", "complete"], r)) for r in con.execute(
    "SELECT id, root, posts, gaps, complete FROM threads").fetchall()]
codes = con.execute("SELECT count(*), count(DISTINCT theme) FROM codes").fetchone()
themes_listed = con.execute(
    "SELECT count(*) FROM posts, unnest(themes) AS t(theme)").fetchone()[0]
hashtags = con.execute("SELECT max(len(hashtags)) FROM posts").fetchone()[0]
times = con.execute(
    "SELECT min(created_at)::VARCHAR, max(created_at)::VARCHAR FROM posts").fetchone()
print(json.dumps({"types": types, "per_thread": per_thread, "walked": walked,
    "threads": threads, "codes": codes, "themes_listed": themes_listed,
    "hashtags": hashtags, "times": times}))
"#;

fn duckdb(dir: &Path) -> Value {
    let out = Command::new(peer::venv_python())
        .args(["-c", QUERIES])
        .arg(dir)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "duckdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Export `inputs` as Parquet and check DuckDB's reading against `rethread threads`.
fn check(inputs: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut args = vec!["export", "parquet", "--out", "pq", "--input"];
    args.extend_from_slice(inputs);
    ok(d, &args);
    let mut targs = vec!["threads", "--format", "json", "--input"];
    targs.extend_from_slice(inputs);
    let want: Vec<Value> = serde_json::from_str(&ok(d, &targs)).unwrap();
    let got = duckdb(&d.join("pq"));

    // Ids are strings, times timestamps with a time zone, lists lists.
    let types = &got["types"];
    assert_eq!(types["id"], "VARCHAR", "{types}");
    assert_eq!(types["created_at"], "TIMESTAMP WITH TIME ZONE", "{types}");
    assert_eq!(types["themes"], "VARCHAR[]", "{types}");
    assert_eq!(types["depth"], "BIGINT", "{types}");
    assert_eq!(
        types["threads.start"], "TIMESTAMP WITH TIME ZONE",
        "{types}"
    );

    // threads.parquet is `rethread threads`, row for row.
    let rows = got["threads"].as_array().unwrap();
    assert_eq!(rows.len(), want.len());
    for (r, w) in rows.iter().zip(&want) {
        for k in ["id", "root", "posts", "gaps", "complete"] {
            assert_eq!(r[k], w[k], "{k}: {r} vs {w}");
        }
    }
    // Posts per thread counted over posts.parquet, and over a walk of edges.parquet.
    let by_id: BTreeMap<String, u64> = want
        .iter()
        .map(|t| {
            (
                t["id"].as_str().unwrap().to_string(),
                t["posts"].as_u64().unwrap(),
            )
        })
        .collect();
    let counted: BTreeMap<String, u64> = got["per_thread"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    let nonempty: BTreeMap<String, u64> = by_id
        .iter()
        .filter(|(_, &n)| n > 0)
        .map(|(k, &n)| (k.clone(), n))
        .collect();
    assert_eq!(counted, nonempty);
    let by_root: BTreeMap<String, u64> = want
        .iter()
        .map(|t| {
            (
                t["root"].as_str().unwrap().to_string(),
                t["posts"].as_u64().unwrap(),
            )
        })
        .collect();
    let walked: BTreeMap<String, u64> = got["walked"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    assert_eq!(walked, by_root, "roots rebuilt by walking edges");
    got
}

#[test]
fn duckdb_reads_the_seed_exchange_and_its_themes() {
    let seed = fixture("seed002/twarc2.jsonl");
    let got = check(&[seed.to_str().unwrap()]);
    // The seed exchange is coded by the built-in codebook: each code a row of codes.parquet,
    // each theme once in its post's list.
    let codes = got["codes"].as_array().unwrap();
    assert!(codes[0].as_u64().unwrap() > 0, "{got}");
    assert!(got["themes_listed"].as_u64().unwrap() > 0, "{got}");
    assert!(got["themes_listed"].as_u64() <= codes[0].as_u64());
    assert!(got["times"][0].as_str().unwrap().starts_with("20"), "{got}");
}

#[test]
fn duckdb_rebuilds_the_threads_of_real_support_conversations() {
    let Some(data) = shared_data("duckdb_rebuilds_the_threads_of_real_support_conversations")
    else {
        return;
    };
    let file = data.join("twcs/monalisapatra26_twcs_head5k.csv");
    let got = check(&[file.to_str().unwrap()]);
    let threads = got["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 1312, "as tests/real_data.rs counts them");
    assert!(
        threads.iter().any(|t| t["complete"] == false),
        "gaps survive"
    );
}

/// The README's Spark SQL, run by Spark itself (PySpark 4.1.1 in local mode): the recursive walk
/// up `edges.parquet` rebuilds every thread root with its posts, as `rethread threads` says;
/// and on Twitter/X data the group by `conversation_id` over `posts.parquet` counts each
/// conversation's posts as the corpus holds them.
const SPARK: &str = r#"
import json, sys
from pyspark.sql import SparkSession
d = sys.argv[1]
spark = (SparkSession.builder.master("local[2]").appName("rethread-test")
         .config("spark.ui.enabled", "false").config("spark.sql.session.timeZone", "UTC")
         .config("spark.sql.shuffle.partitions", "2").getOrCreate())
spark.sparkContext.setLogLevel("ERROR")
for t in ["posts", "edges"]:
    spark.read.parquet(f"{d}/{t}.parquet").createOrReplaceTempView(t)
walked = {r[0]: r[1] for r in spark.sql("""
    WITH RECURSIVE walk(node, root) AS (
        SELECT id, id FROM posts WHERE parent IS NULL
        UNION ALL
        SELECT e.source, w.root FROM edges e JOIN walk w ON e.target = w.node
    )
    SELECT w.root, count_if(NOT p.gap) FROM walk w JOIN posts p ON p.id = w.node
    GROUP BY w.root""").collect()}
by_conversation = {r[0]: r[1] for r in spark.sql("""
    SELECT conversation_id, count(*) FROM posts WHERE NOT gap GROUP BY conversation_id
    """).collect()}
print(json.dumps({"walked": walked, "by_conversation": by_conversation,
                  "version": spark.version}))
spark.stop()
"#;

#[test]
fn spark_sql_rebuilds_the_threads_of_a_twitter_archive() {
    assert!(
        Command::new("java").arg("-version").output().is_ok(),
        "Spark needs a Java 17+ runtime on the PATH (Debian default-jre-headless)"
    );
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The seed exchange, and real twarc2 pages (conversation ids, quotes, errors) when there.
    let mut inputs = vec![fixture("seed002/twarc2.jsonl")];
    if let Some(data) =
        shared_data("spark_sql_rebuilds_the_threads_of_a_twitter_archive (the seed only)")
    {
        inputs.push(data.join("twitter_v2/twarc-csv_test-data/2sets.jsonl"));
    }
    let mut args = vec!["import".to_string(), "--db".into(), "c.db".into()];
    args.extend(inputs.iter().map(|p| p.display().to_string()));
    ok(d, &args.iter().map(String::as_str).collect::<Vec<_>>());
    // From the corpus: the batched writer (issue 15), the one an archive too large for memory
    // goes through.
    ok(d, &["export", "parquet", "--db", "c.db", "--out", "pq"]);
    let want: Vec<Value> =
        serde_json::from_str(&ok(d, &["threads", "--db", "c.db", "--format", "json"])).unwrap();
    let out = Command::new(peer::spark_python())
        .args(["-c", SPARK])
        .arg(d.join("pq"))
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "spark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let counts = |v: &Value| -> BTreeMap<String, u64> {
        v.as_object()
            .unwrap()
            .iter()
            .map(|(k, n)| (k.clone(), n.as_u64().unwrap()))
            .collect()
    };
    let by_root: BTreeMap<String, u64> = want
        .iter()
        .map(|t| {
            (
                t["root"].as_str().unwrap().to_string(),
                t["posts"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(by_root.len() > 1, "{by_root:?}");
    assert_eq!(
        counts(&got["walked"]),
        by_root,
        "roots rebuilt by Spark walking edges"
    );
    // The corpus's own count of each conversation's posts that sit in threads (a retweet is
    // counted on its original, not written as a row).
    let db = rusqlite::Connection::open(d.join("c.db")).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT coalesce(conversation_id, 'null'), count(*) FROM posts
             WHERE repost_of IS NULL GROUP BY 1",
        )
        .unwrap();
    let corpus: BTreeMap<String, u64> = stmt
        .query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        counts(&got["by_conversation"]),
        corpus,
        "posts per conversation"
    );
}
