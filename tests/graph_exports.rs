//! Graph exports read by their real consumers: networkx reads the GraphML, Graphviz renders the
//! DOT (`.ci/run` installs Graphviz; without `dot` that check is skipped with a message).

mod common;
#[path = "common/peer.rs"]
mod peer;

use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// The seed exchange, plus a reply to a post that is not there (a gap), plus hostile text.
fn corpus(dir: &Path) -> Vec<String> {
    let seed = fixture("seed002/twarc2.jsonl");
    let extra = serde_json::json!({
        "data": [{
            "id": "9000000000000000001", "text": "<b>\"quoted\" & \\ back</b> \u{0001} ]]> -- }",
            "author_id": "42", "created_at": "2010-03-17T09:00:00.000Z",
            "conversation_id": "8999999999999999999",
            "referenced_tweets": [{"type": "replied_to", "id": "8999999999999999999"}]
        }],
        "includes": {"users": [{"id": "42", "username": "mallory", "name": "M\"allory"}]}
    });
    std::fs::write(dir.join("extra.jsonl"), format!("{extra}\n")).unwrap();
    vec![
        seed.to_str().unwrap().to_string(),
        "extra.jsonl".to_string(),
    ]
}

fn networkx(script: &str, file: &Path) -> Value {
    let out = Command::new(peer::venv_python())
        .args(["-c", script])
        .arg(file)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "networkx failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

const READ_GRAPHML: &str = r#"
import json, sys
import networkx as nx
g = nx.read_graphml(sys.argv[1])
print(json.dumps({
    "nodes": g.number_of_nodes(),
    "edges": g.number_of_edges(),
    "directed": g.is_directed(),
    "node_attrs": {n: d for n, d in g.nodes(data=True)},
    "edge_list": [[u, v, d] for u, v, d in g.edges(data=True)],
}))
"#;

#[test]
fn networkx_reads_the_reply_graph_and_the_interaction_graph() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = corpus(dir.path());
    let mut args = vec!["export", "graphml", "--out", "replies.graphml", "--input"];
    args.extend(inputs.iter().map(String::as_str));
    ok(dir.path(), &args);
    let g = networkx(READ_GRAPHML, &dir.path().join("replies.graphml"));
    // 17 seed posts + the hostile reply + its missing parent; an edge per reply.
    assert_eq!(g["nodes"], 19);
    assert_eq!(g["edges"], 17);
    assert_eq!(g["directed"], true);
    let root = &g["node_attrs"]["twitter:1268730000000000001"];
    assert_eq!(root["author"], "Gripnostril");
    assert_eq!(root["depth"], 0);
    assert_eq!(root["kind"], "post");
    assert_eq!(root["themes"], "customer-shoes");
    let gap = &g["node_attrs"]["gap:twitter:8999999999999999999"];
    assert_eq!(gap["kind"], "gap");
    assert_eq!(gap["reason"], "not in corpus");
    let hostile = &g["node_attrs"]["twitter:9000000000000000001"];
    assert_eq!(
        hostile["text"], "<b>\"quoted\" & \\ back</b> ]]> -- }",
        "escaped, and the control character dropped"
    );
    assert!(g["edge_list"].as_array().unwrap().iter().any(|e| {
        e[0] == "twitter:9000000000000000001"
            && e[1] == "gap:twitter:8999999999999999999"
            && e[2]["kind"] == "reply"
    }));

    let mut args = vec![
        "export",
        "graphml",
        "--graph",
        "interactions",
        "--out",
        "people.graphml",
        "--input",
    ];
    args.extend(inputs.iter().map(String::as_str));
    ok(dir.path(), &args);
    let g = networkx(READ_GRAPHML, &dir.path().join("people.graphml"));
    assert_eq!(g["nodes"], 4, "three people in the seed, and mallory");
    let edges = g["edge_list"].as_array().unwrap();
    let weight = |a: &str, b: &str| {
        edges
            .iter()
            .find(|e| e[0] == a && e[1] == b)
            .map(|e| e[2]["weight"].as_i64().unwrap())
    };
    // Every seed reply is counted once, from replier to replied-to.
    let total: i64 = edges.iter().map(|e| e[2]["weight"].as_i64().unwrap()).sum();
    assert_eq!(total, 16);
    assert!(weight("nz_rob", "audaciousgloop").unwrap() >= 1);
    assert_eq!(
        weight("mallory", "nz_rob"),
        None,
        "a reply to a missing post has no one to point at"
    );
}

#[test]
fn graphviz_renders_the_dot_export() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = corpus(dir.path());
    let mut args = vec!["export", "dot", "--out", "replies.dot", "--input"];
    args.extend(inputs.iter().map(String::as_str));
    ok(dir.path(), &args);
    let dot = std::fs::read_to_string(dir.path().join("replies.dot")).unwrap();
    assert!(dot.contains("style=dashed"), "the gap is dashed");
    assert!(
        dot.contains(r#"\"quoted\" & \\ back"#),
        "quotes and backslashes escaped"
    );
    if Command::new("dot").arg("-V").output().is_err() {
        eprintln!("skipping the Graphviz render: `dot` not installed (.ci/run installs graphviz)");
        return;
    }
    let out = Command::new("dot")
        .args(["-Tsvg", "replies.dot"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dot failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = String::from_utf8_lossy(&out.stdout);
    assert!(svg.contains("<svg"));
    assert!(svg.contains("Gripnostril"));
    assert_eq!(svg.matches("class=\"node\"").count(), 19);
    assert_eq!(svg.matches("class=\"edge\"").count(), 17);
}

const LOAD_CONVOKIT: &str = r#"
import json, sys
from convokit import Corpus
c = Corpus(filename=sys.argv[1])
out = {"utterances": len(list(c.iter_utterances())), "conversations": {}}
for conv in c.iter_conversations():
    ids = [u.id for u in conv.traverse("dfs")]
    paths = conv.get_root_to_leaf_paths()
    out["conversations"][conv.id] = {"walked": len(ids), "first": ids[0], "longest": max(len(p) for p in paths)}
orphan = c.get_utterance("9000000000000000001")
out["orphan"] = {"reply_to": orphan.reply_to, "meta": dict(orphan.meta), "speaker": orphan.speaker.id}
print(json.dumps(out))
"#;

#[test]
fn convokit_loads_the_corpus_and_walks_every_thread() {
    let dir = tempfile::tempdir().unwrap();
    let mut inputs = corpus(dir.path());
    inputs.push(
        fixture("seed002/mastodon.jsonl")
            .to_str()
            .unwrap()
            .to_string(),
    );
    let mut args = vec!["export", "convokit", "--out", "ck", "--input"];
    args.extend(inputs.iter().map(String::as_str));
    ok(dir.path(), &args);
    let out = Command::new(peer::convokit_python())
        .args(["-c", LOAD_CONVOKIT])
        .arg(dir.path().join("ck"))
        .env("HOME", dir.path()) // ConvoKit writes ~/.convokit/config.yml on first import
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "convokit failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // ConvoKit prints its first-run configuration on stdout: the result is the last line.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap();
    assert_eq!(
        v["utterances"], 35,
        "17 tweets, 17 statuses, and the orphan reply"
    );
    let convs = v["conversations"].as_object().unwrap();
    assert_eq!(convs.len(), 3);
    for root in ["1268730000000000001", "83147489280001001"] {
        let c = &convs[root];
        assert_eq!(
            c["walked"], 17,
            "{root}: every utterance reached from the root"
        );
        assert_eq!(c["first"], root);
        assert_eq!(c["longest"], 12, "{root}: the seed's chain of 11 replies");
    }
    // The reply to a missing post is the root of its own conversation, the gap kept in meta.
    assert_eq!(v["orphan"]["reply_to"], Value::Null);
    assert_eq!(v["orphan"]["meta"]["missing_parent"], "8999999999999999999");
    assert_eq!(v["orphan"]["meta"]["missing_reason"], "not in corpus");
    assert_eq!(v["orphan"]["speaker"], "mallory");
}

const READ_GEXF: &str = r#"
import json, sys
import networkx as nx
g = nx.read_gexf(sys.argv[1])
print(json.dumps({
    "nodes": g.number_of_nodes(),
    "edges": g.number_of_edges(),
    "node_attrs": {n: d for n, d in g.nodes(data=True)},
    "mode": g.graph.get("mode"),
}))
"#;

/// GEXF 1.3 is read with the standard library's XML parser: networkx knows only 1.2draft.
const CHECK_GEXF13: &str = r#"
import json, sys
import xml.etree.ElementTree as ET
ns = {"g": "http://gexf.net/1.3"}
root = ET.parse(sys.argv[1]).getroot()
graph = root.find("g:graph", ns)
declared = {a.get("id") for a in graph.findall("g:attributes[@class='node']/g:attribute", ns)}
nodes = graph.findall("g:nodes/g:node", ns)
edges = graph.findall("g:edges/g:edge", ns)
used = {v.get("for") for n in nodes for v in n.findall("g:attvalues/g:attvalue", ns)}
print(json.dumps({
    "version": root.get("version"), "timeformat": graph.get("timeformat"), "mode": graph.get("mode"),
    "nodes": len(nodes), "edges": len(edges),
    "posts_with_start": sum(1 for n in nodes if n.get("start")),
    "edges_with_start": sum(1 for e in edges if e.get("start")),
    "undeclared": sorted(used - declared),
}))
"#;

#[test]
fn gexf_for_gephi_and_networkx() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = corpus(dir.path());
    for (version, file) in [("1.3", "g13.gexf"), ("1.2draft", "g12.gexf")] {
        let mut args = vec![
            "export",
            "gexf",
            "--gexf-version",
            version,
            "--out",
            file,
            "--input",
        ];
        args.extend(inputs.iter().map(String::as_str));
        ok(dir.path(), &args);
    }
    let v = networkx(CHECK_GEXF13, &dir.path().join("g13.gexf"));
    assert_eq!(v["version"], "1.3");
    assert_eq!(v["timeformat"], "dateTime");
    assert_eq!(v["mode"], "dynamic");
    assert_eq!(
        (v["nodes"].as_u64(), v["edges"].as_u64()),
        (Some(19), Some(17))
    );
    assert_eq!(
        v["posts_with_start"], 18,
        "every post has its time; the gap has none"
    );
    assert_eq!(v["edges_with_start"], 17);
    assert_eq!(v["undeclared"], serde_json::json!([]));
    let g = networkx(READ_GEXF, &dir.path().join("g12.gexf"));
    assert_eq!(
        (g["nodes"].as_u64(), g["edges"].as_u64()),
        (Some(19), Some(17))
    );
    assert_eq!(g["mode"], "dynamic");
    let root = &g["node_attrs"]["twitter:1268730000000000001"];
    assert_eq!(root["author"], "Gripnostril");
    assert_eq!(root["depth"], 0);
    assert_eq!(root["start"], "2010-03-16T09:00:00.000Z");
    assert_eq!(
        g["node_attrs"]["gap:twitter:8999999999999999999"]["kind"],
        "gap"
    );
}

#[test]
fn real_customer_support_threads_load_in_networkx_and_convokit() {
    let Some(data) = shared_data("real_customer_support_threads_load_in_networkx_and_convokit")
    else {
        return;
    };
    let twcs = data.join("twcs/monalisapatra26_twcs_head5k.csv");
    let dir = tempfile::tempdir().unwrap();
    let input = twcs.to_str().unwrap();
    ok(
        dir.path(),
        &[
            "export",
            "graphml",
            "--out",
            "twcs.graphml",
            "--input",
            input,
        ],
    );
    let g = networkx(READ_GRAPHML, &dir.path().join("twcs.graphml"));
    let attrs = g["node_attrs"].as_object().unwrap();
    let gaps = attrs.values().filter(|a| a["kind"] == "gap").count();
    // The counts of the issue: 5,000 tweets and 3,694 reply edges, 6 of them to absent parents.
    assert_eq!(attrs.len() - gaps, 5000);
    assert_eq!(g["edges"], 3694);
    assert!((1..=6).contains(&gaps), "{gaps} gap nodes");
    assert_eq!(
        attrs.values().filter(|a| a["depth"] == 118).count(),
        1,
        "the longest chain"
    );

    ok(
        dir.path(),
        &["export", "convokit", "--out", "ck", "--input", input],
    );
    let out = Command::new(peer::convokit_python())
        .args(["-c", r#"
import json, sys
from convokit import Corpus
c = Corpus(filename=sys.argv[1])
walked = sum(len(list(conv.traverse("dfs"))) for conv in c.iter_conversations())
longest = max(max(len(p) for p in conv.get_root_to_leaf_paths()) for conv in c.iter_conversations())
print(json.dumps({"utterances": len(list(c.iter_utterances())), "walked": walked, "longest": longest}))
"#])
        .arg(dir.path().join("ck"))
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(v["utterances"], 5000);
    assert_eq!(
        v["walked"], 5000,
        "every utterance is in a conversation tree"
    );
    assert_eq!(v["longest"], 119, "the 118-reply chain, root included");
}
