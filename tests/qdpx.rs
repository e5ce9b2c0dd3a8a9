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

/// The id of the theme with this label in a codebook printed as TOML (`themes codebook`):
/// the id line precedes the label line.
fn theme_id(book: &str, label: &str) -> String {
    let at = book.find(&format!("label = {label:?}")).unwrap();
    let id_line = book[..at]
        .lines()
        .rev()
        .find(|l| l.starts_with("id = "))
        .unwrap();
    id_line[6..id_line.len() - 1].to_string()
}

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

/// Change a project's codings as another tool would (ElementTree rewrites the XML its own
/// way): drop every coding of one theme on one post, recode another post's theme, code an
/// uncoded post, and add a code the codebook does not know. Prints the changes as JSON.
const EDIT: &str = r#"
import json, sys, zipfile
import xml.etree.ElementTree as ET
src, dst = sys.argv[1], sys.argv[2]
Q = "{urn:QDA-XML:project:1.0}"
z = zipfile.ZipFile(src)
root = ET.fromstring(z.read("project.qde"))
codes = {c.get("guid"): c for c in root.iter(Q + "Code")}
by_label = {c.get("name"): g for g, c in codes.items()}
source = root.find(f"{Q}Sources/{Q}TextSource")
name = source.get("name")
text = z.read("sources/" + source.get("plainTextPath")[len("internal://"):]).decode()
sels = source.findall(Q + "PlainTextSelection")
def pair(s):
    return int(s.get("name")[5:]), s.find(f"{Q}Coding/{Q}CodeRef").get("targetGUID")
pairs = sorted({pair(s) for s in sels})
(l1, c1), (l2, c2) = pairs[0], next(p for p in pairs if p[0] != pairs[0][0])
for s in sels:
    if pair(s) == (l1, c1):
        source.remove(s)
c3 = next(g for g in codes if (l2, g) not in pairs)
for s in sels:
    if pair(s) == (l2, c2):
        s.find(f"{Q}Coding/{Q}CodeRef").set("targetGUID", c3)
coded = {l for l, _ in pairs}
lines = text.split("\n")
l3 = next(k for k, t in enumerate(lines) if t and k not in coded)
c4 = next(iter(codes))
start = sum(len(t) + 1 for t in lines[:l3])
def add(line, guid_code, n):
    s = ET.SubElement(source, Q + "PlainTextSelection", {
        "guid": f"00000000-0000-0000-0000-00000000000{n}", "startPosition": str(start),
        "endPosition": str(start + len(lines[line]))})
    c = ET.SubElement(s, Q + "Coding", {"guid": f"00000000-0000-0000-0000-00000000001{n}"})
    ET.SubElement(c, Q + "CodeRef", {"targetGUID": guid_code})
add(l3, c4, 1)
codes_el = root.find(f"{Q}CodeBook/{Q}Codes")
ET.SubElement(codes_el, Q + "Code", {"guid": "00000000-0000-0000-0000-000000000099",
    "name": "Not in the codebook", "isCodable": "true"})
add(l3, "00000000-0000-0000-0000-000000000099", 2)
with zipfile.ZipFile(dst, "w") as out:
    for item in z.namelist():
        data = z.read(item) if item != "project.qde" else ET.tostring(root, encoding="utf-8")
        out.writestr(item, data)
label = lambda g: codes[g].get("name")
print(json.dumps({"removed": [f"{name}:{l1}", label(c1)], "recoded": [f"{name}:{l2}", label(c2), label(c3)],
                  "added": [f"{name}:{l3}", label(c4)]}))
"#;

#[test]
fn codings_changed_in_the_project_become_the_labels_learn_and_eval_read() {
    let dir = tempfile::tempdir().unwrap();
    let qdpx = export(dir.path(), &[]);
    let book = ok(dir.path(), &["themes", "codebook"]);
    let id_of = |label: &str| theme_id(&book, label);
    // Read back unchanged, the labels are rethread's own codes: the codebook scores 1.0.
    let eval = |gold: &Path| -> (Value, String) {
        let o = rethread(
            dir.path(),
            &[
                "themes",
                "eval",
                "--gold",
                gold.to_str().unwrap(),
                "--format",
                "json",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        (serde_json::from_slice(&o.stdout).unwrap(), stderr(&o))
    };
    let (same, _) = eval(&qdpx);
    assert_eq!(same["micro"]["f1"], 1.0, "{same}");
    assert_eq!(
        same["texts"], 17,
        "every post of the seed exchange is a labelled text"
    );

    let edited = dir.path().join("edited.qdpx");
    let o = Command::new("python3")
        .args(["-c", EDIT])
        .arg(&qdpx)
        .arg(&edited)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let changes: Value = serde_json::from_slice(&o.stdout).unwrap();
    let (got, err) = eval(&edited);
    assert!(
        err.contains("code \"Not in the codebook\" (1 coding) is not a theme"),
        "{err}"
    );
    let misses = |k: &str| -> BTreeSet<(String, String)> {
        got[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["id"].as_str().unwrap().to_string(),
                    m["theme"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let c = |k: &str, i: usize| changes[k][i].as_str().unwrap().to_string();
    // What the codebook still codes but the researcher took away: false positives now.
    let want_fp: BTreeSet<(String, String)> = [
        (c("removed", 0), id_of(&c("removed", 1))),
        (c("recoded", 0), id_of(&c("recoded", 1))),
    ]
    .into_iter()
    .collect();
    // What the researcher coded and the codebook does not: false negatives.
    let want_fn: BTreeSet<(String, String)> = [
        (c("recoded", 0), id_of(&c("recoded", 2))),
        (c("added", 0), id_of(&c("added", 1))),
    ]
    .into_iter()
    .collect();
    assert_eq!(misses("false_positives"), want_fp, "{got}");
    assert_eq!(misses("false_negatives"), want_fn, "{got}");
}

/// In qc's project: take one code off a line and put another code on another line, with qc's
/// own API (what its coding commands do), for the coder `rethread patterns`.
const RECODE: &str = r#"
import json, sys
from qualitative_coding.corpus import QCCorpus
corpus = QCCorpus("settings.yaml")
with corpus.session():
    lines = sorted((f, l, code) for code, coder, l, f in corpus.get_coded_lines()
                   if coder == "rethread patterns")
    doc = lines[0][0]
    mine = [(l, c) for f, l, c in lines if f == doc]
    removed = mine[0]
    codes = sorted({c for _, _, c in lines})
    used = {l for l, _ in mine}
    added = (next(l for l in range(1, 100) if l not in used), next(c for c in codes if c != removed[1]))
    new = [{"line": l, "code_id": c} for l, c in mine if (l, c) != removed]
    new.append({"line": added[0], "code_id": added[1]})
    corpus.update_coded_lines(doc, "rethread patterns", new)
print(json.dumps({"removed": [f"{doc}:{removed[0]}", removed[1]], "added": [f"{doc}:{added[0]}", added[1]]}))
"#;

#[test]
fn a_round_trip_through_qc_brings_back_exactly_the_codes_changed_there() {
    let bin = qc_venv();
    let dir = tempfile::tempdir().unwrap();
    let qdpx = export(dir.path(), &[]);
    let project = dir.path().join("qc");
    std::fs::create_dir(&project).unwrap();
    let run = |cmd: &mut Command| -> String {
        let o = cmd
            .current_dir(&project)
            .env("PYTHONBREAKPOINT", "0")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    run(Command::new(bin.join("qc"))
        .args(["init", "--import"])
        .arg(&qdpx));
    let out = run(Command::new(bin.join("python")).args(["-c", RECODE]));
    let changes: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let back = dir.path().join("back.qdpx");
    run(Command::new(bin.join("qc")).arg("export").arg(&back));

    let book = ok(dir.path(), &["themes", "codebook"]);
    let id_of = |label: &str| theme_id(&book, label);
    let o = rethread(
        dir.path(),
        &[
            "themes",
            "eval",
            "--gold",
            back.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Value = serde_json::from_slice(&o.stdout).unwrap();
    let misses = |k: &str| -> Vec<(String, String)> {
        got[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["id"].as_str().unwrap().to_string(),
                    m["theme"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let c = |k: &str, i: usize| changes[k][i].as_str().unwrap().to_string();
    assert_eq!(
        misses("false_positives"),
        [(c("removed", 0), id_of(&c("removed", 1)))],
        "the code taken off in qc: {got}"
    );
    assert_eq!(
        misses("false_negatives"),
        [(c("added", 0), id_of(&c("added", 1)))],
        "the code put on in qc: {got}"
    );
    assert_eq!(got["texts"], 17);
}
