//! `rethread export qdpx` read by a real REFI-QDA consumer: qc (PyPI `qualitative-coding`,
//! in a venv of its own, `target/qc-venv`). Its reader validates `project.qde` against the
//! standard's XSD and imports sources, codes, coders and codings (`qc init --import`); the
//! codes it holds afterwards must be the ones rethread wrote, on the lines rethread wrote them,
//! and each selection's characters must be the evidence rethread quoted.

mod common;
#[path = "common/peer.rs"]
mod peer;

use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn qc_venv() -> PathBuf {
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let venv = target.join("qc-venv");
    peer::build_venv(&target, &venv, &[vec!["qualitative-coding==1.7.8"]], "qc");
    venv.join("bin")
}

/// Validate against qc's copy of the REFI-QDA schema; read back what rethread wrote (from the
/// XML and the transcripts) and what qc imported.
const READ: &str = r#"
import json, sys, zipfile, importlib.resources
import xml.etree.ElementTree as ET
from xmlschema import validate
qdpx, project = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(qdpx)
qde = z.read("project.qde").decode()
validate(qde, importlib.resources.files("qualitative_coding") / "refi_qda" / "schema.xsd")
ns = {"q": "urn:QDA-XML:project:1.0"}
root = ET.fromstring(qde)
users = {u.get("guid"): u.get("name") for u in root.iterfind("q:Users/q:User", ns)}
codes = {c.get("guid"): c.get("name") for c in root.iter("{urn:QDA-XML:project:1.0}Code")}
wrote, quoted = [], []
for s in root.iterfind("q:Sources/q:TextSource", ns):
    text = z.read("sources/" + s.get("plainTextPath").replace("internal://", "")).decode()
    lines = text.split("\n")
    for sel in s.iterfind("q:PlainTextSelection", ns):
        line = int(sel.get("name").split(":")[1])
        a, b = int(sel.get("startPosition")), int(sel.get("endPosition"))
        quoted.append(text[a:b])
        # The selection lies on its line.
        start = sum(len(l) + 1 for l in lines[:line])
        assert start <= a <= b <= start + len(lines[line]), (line, a, b)
        for c in sel.iterfind("q:Coding", ns):
            wrote.append([s.get("name") + ".txt", line, codes[c.find("q:CodeRef", ns).get("targetGUID")],
                          users[c.get("creatingUser")]])
from qualitative_coding.corpus import QCCorpus
corpus = QCCorpus(project + "/settings.yaml")
with corpus.session():
    imported = [[f, l, code, coder] for code, coder, l, f in corpus.get_coded_lines()]
cases = len(root.findall("q:Cases/q:Case", ns))
print(json.dumps({"wrote": wrote, "imported": imported, "quoted": quoted, "cases": cases}))
"#;

fn export(dir: &Path, extra: &[&str]) -> PathBuf {
    let seed = fixture("seed002/twarc2.jsonl");
    let out = dir.join("seed.qdpx");
    let mut args = vec![
        "export",
        "qdpx",
        "--out",
        out.to_str().unwrap(),
        "--input",
        seed.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    ok(dir, &args);
    out
}

#[test]
fn qc_imports_the_project_with_rethreads_codes_where_rethread_put_them() {
    let bin = qc_venv();
    let dir = tempfile::tempdir().unwrap();
    let qdpx = export(dir.path(), &[]);
    let project = dir.path().join("qc");
    std::fs::create_dir(&project).unwrap();
    // qc 1.7.8's reader stops at a `breakpoint()` left in it; PYTHONBREAKPOINT=0 skips it.
    let o = Command::new(bin.join("qc"))
        .args(["init", "--import"])
        .arg(&qdpx)
        .current_dir(&project)
        .env("PYTHONBREAKPOINT", "0")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "qc init --import failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let o = Command::new(bin.join("python"))
        .args(["-c", READ])
        .arg(&qdpx)
        .arg(&project)
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // qc logs to stdout too: the answer is the last line.
    let stdout = String::from_utf8_lossy(&o.stdout);
    let got: Value = serde_json::from_str(stdout.lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let set = |k: &str| -> BTreeSet<String> {
        got[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.to_string())
            .collect()
    };
    let wrote = set("wrote");
    assert!(wrote.len() >= 10, "the seed exchange is coded: {got}");
    assert_eq!(set("imported"), wrote, "qc holds exactly rethread's codes");
    assert!(wrote.iter().all(|w| w.contains("rethread patterns")));
    assert_eq!(got["cases"], 3, "the three authors of the seed exchange");

    // Each selection's characters are the evidence rethread quotes in its other exports.
    let seed = fixture("seed002/twarc2.jsonl");
    let jsonl = dir.path().join("seed.jsonl");
    ok(
        dir.path(),
        &[
            "export",
            "jsonl",
            "--out",
            jsonl.to_str().unwrap(),
            "--input",
            seed.to_str().unwrap(),
        ],
    );
    let mut evidence = BTreeSet::new();
    for line in std::fs::read_to_string(&jsonl).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        for t in v["themes"].as_array().into_iter().flatten() {
            evidence.insert(t["text"].as_str().unwrap().to_string());
        }
    }
    let quoted: BTreeSet<String> = got["quoted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(quoted, evidence);
}

#[test]
fn the_same_corpus_gives_the_same_file_and_pseudonyms_leave_out_the_cases() {
    let dir = tempfile::tempdir().unwrap();
    let a = std::fs::read(export(dir.path(), &[])).unwrap();
    let b = std::fs::read(export(dir.path(), &[])).unwrap();
    assert_eq!(a, b, "derived GUIDs and fixed times: byte-identical");
    let p = export(
        dir.path(),
        &["--pseudonymize", "--salt", "a salt of enough length"],
    );
    let z = std::fs::read(&p).unwrap();
    let text = String::from_utf8_lossy(&z);
    // Deflated, so look inside with the zip reader of the venv's Python.
    let o = Command::new("python3")
        .args([
            "-c",
            "import sys,zipfile;print(zipfile.ZipFile(sys.argv[1]).read('project.qde').decode())",
        ])
        .arg(&p)
        .output()
        .unwrap();
    let qde = String::from_utf8_lossy(&o.stdout);
    assert!(!qde.contains("<Cases>"), "{qde}");
    assert!(qde.contains("Pseudonymised"), "{qde}");
    assert!(!qde.contains("Gripnostril") && !text.contains("Gripnostril"));
    let o = rethread(
        dir.path(),
        &["export", "qdpx", "--out", "x.zip", "--input", "y"],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("ends in .qdpx"), "{}", stderr(&o));
}

#[test]
fn the_codebook_as_a_refi_qda_codebook() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("book.qdc");
    ok(
        dir.path(),
        &["themes", "codebook", "--qdc", out.to_str().unwrap()],
    );
    let xml = std::fs::read_to_string(&out).unwrap();
    assert!(xml.contains("<CodeBook xmlns=\"urn:QDA-XML:codebook:1.0\""));
    let book = ok(dir.path(), &["themes", "codebook"]);
    let themes = book.matches("[[theme]]").count();
    assert_eq!(xml.matches("<Code ").count(), themes, "{xml}");
    assert!(xml.contains("name=\"Empowering and trusting staff\""));

    // And back: a template with the same themes, whose patterns are the researcher's to write.
    let toml = ok(
        dir.path(),
        &["themes", "codebook", "--from-qdc", out.to_str().unwrap()],
    );
    assert_eq!(toml.matches("[[theme]]").count(), themes, "{toml}");
    assert!(toml.contains("id = \"empowerment-trust\""), "{toml}");
    assert!(toml.contains("patterns = []"), "{toml}");
    let template = dir.path().join("template.toml");
    std::fs::write(&template, &toml).unwrap();
    let o = rethread(
        dir.path(),
        &["themes", "codebook", "--check", template.to_str().unwrap()],
    );
    assert!(!o.status.success(), "no patterns yet: {}", stderr(&o));
    let o = rethread(
        dir.path(),
        &["themes", "codebook", "--from-qdc", "missing.qdc"],
    );
    assert!(!o.status.success() && stderr(&o).contains("missing.qdc"));
}
