//! `rethread themes learn`, `--learned` and `themes eval --cv`, end to end with the real model,
//! on the small coded sample in fixtures/gold (64 texts, two themes).

mod common;
#[path = "common/model.rs"]
mod model;
#[path = "common/peer.rs"]
mod peer;

use common::*;
use serde_json::Value;
use std::path::Path;

fn gold() -> String {
    fixture("gold/service.csv").display().to_string()
}

fn book() -> String {
    fixture("gold/service.toml").display().to_string()
}

fn model_arg() -> String {
    model::model_dir().display().to_string()
}

/// Posts none of which is in the sample, three of them about delays without the word.
fn corpus(dir: &Path) {
    let status = |id: u32, user: &str, text: &str| {
        serde_json::json!({
            "id": id.to_string(),
            "created_at": format!("2024-01-01T00:00:{id:02}.000Z"),
            "in_reply_to_id": if id == 1 { Value::Null } else { Value::from("1") },
            "content": format!("<p>{text}</p>"),
            "visibility": "public",
            "uri": format!("https://h.example/users/{user}/statuses/{id}"),
            "account": {"id": user, "username": user, "acct": user, "url": format!("https://h.example/@{user}")}
        })
        .to_string()
    };
    let lines = [
        status(
            1,
            "ana",
            "The plane sat at the gate for three hours before take off.",
        ),
        status(
            2,
            "bo",
            "Lovely crew. But our train arrived ninety minutes late and we missed the ferry.",
        ),
        status(
            3,
            "cy",
            "I would like my money back for the seat I never got.",
        ),
        status(4, "dee", "What time does the cafe on platform two open?"),
        status(5, "ed", "Thanks, the cabin crew were wonderful tonight."),
    ];
    std::fs::write(dir.join("posts.jsonl"), lines.join("\n")).unwrap();
}

/// `themes learn` into `dir/learned.json`; returns stderr.
fn learn(dir: &Path, gold: &str, codebook: &str) -> String {
    let m = model_arg();
    let o = rethread(
        dir,
        &[
            "themes",
            "learn",
            "--gold",
            gold,
            "--codebook",
            codebook,
            "--out",
            "learned.json",
            "--model",
            &m,
        ],
    );
    assert!(o.status.success(), "themes learn failed: {}", stderr(&o));
    stderr(&o)
}

#[test]
fn learned_codes_appear_in_themes_and_exports_with_their_evidence() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    // The sample, plus a theme the codebook lacks; the codebook, plus a theme nobody coded.
    let mut sample = std::fs::read_to_string(gold()).unwrap();
    sample.push_str("x1,My suitcase never came off the belt,lost-bag\n");
    std::fs::write(dir.path().join("gold.csv"), sample).unwrap();
    let mut codebook = std::fs::read_to_string(book()).unwrap();
    codebook.push_str("\n[[theme]]\nid = \"seats\"\nlabel = \"Seats\"\npatterns = [\"seat\"]\n");
    std::fs::write(dir.path().join("book.toml"), codebook).unwrap();

    let err = learn(dir.path(), "gold.csv", "book.toml");
    assert!(
        err.contains("lost-bag"),
        "the unknown gold theme is reported: {err}"
    );
    assert!(
        err.contains("theme \"seats\" skipped") && err.contains("0 coded texts"),
        "{err}"
    );
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("learned.json")).unwrap())
            .unwrap();
    assert_eq!(file["format"], "rethread-learned");
    assert_eq!(file["version"], 1);
    assert_eq!(file["dim"], 384);
    assert_eq!(file["codebook"], "service-sample");
    assert!(
        file["model"].as_str().unwrap().contains("MiniLM"),
        "{}",
        file["model"]
    );
    let themes = file["themes"].as_array().unwrap();
    let ids: Vec<&str> = themes.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["delay", "refund"]);
    assert_eq!(themes[0]["positives"], 24);
    assert_eq!(themes[0]["negatives"], 41);
    assert_eq!(themes[0]["weights"].as_array().unwrap().len(), 384);
    assert_eq!(file["examples"].as_array().unwrap().len(), 65);
    // Two texts of the sample are coded with both themes: a post may get both.
    assert_eq!(file["exclusive"], false);
    for t in themes {
        let steps = t["iterations"].as_u64().unwrap();
        assert!(
            (1..200).contains(&steps),
            "{}: {steps} L-BFGS steps",
            t["id"]
        );
    }
    assert_eq!(file["examples"][0]["vector"].as_array().unwrap().len(), 384);

    let m = model_arg();
    let base = [
        "--input",
        "posts.jsonl",
        "--codebook",
        "book.toml",
        "--model",
        m.as_str(),
    ];
    // themes: the learned codes count, and their sentences are the quotes' evidence.
    let plain: Value = serde_json::from_str(&ok(
        dir.path(),
        &[&["themes", "--format", "json"][..], &base].concat(),
    ))
    .unwrap();
    let with: Value = serde_json::from_str(&ok(
        dir.path(),
        &[
            &["themes", "--format", "json", "--learned", "learned.json"][..],
            &base,
        ]
        .concat(),
    ))
    .unwrap();
    let posts = |doc: &Value, id: &str| {
        doc["themes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .unwrap()["posts"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(posts(&plain, "delay"), 0, "no post says \"delay\"");
    assert!(posts(&with, "delay") >= 2, "{with:#}");
    assert!(posts(&with, "refund") >= 1, "{with:#}");

    // export jsonl: each learned code says so, with its probability, sentence and example.
    let out = dir.path().join("posts.out.jsonl");
    ok(
        dir.path(),
        &[
            &[
                "export",
                "jsonl",
                "--out",
                out.to_str().unwrap(),
                "--learned",
                "learned.json",
            ][..],
            &base,
        ]
        .concat(),
    );
    let lines: Vec<Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let post = |id: &str| {
        lines
            .iter()
            .find(|l| l["id"] == id)
            .unwrap_or_else(|| panic!("no line for post {id}"))
    };
    let train = post("2");
    let code = train["themes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["theme"] == "delay")
        .unwrap_or_else(|| panic!("post 2 is not coded delay: {train:#}"));
    assert_eq!(code["coder"], "learned");
    let p = code["probability"].as_f64().unwrap();
    assert!((0.5..=1.0).contains(&p), "{p}");
    // The sentence about the train, not the compliment before it.
    assert!(
        code["text"]
            .as_str()
            .unwrap()
            .contains("ninety minutes late"),
        "{code:#}"
    );
    let example = code["example"].as_str().unwrap();
    let delays: Vec<String> = file["examples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["themes"].as_array().unwrap().iter().any(|t| t == "delay"))
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect();
    assert!(
        delays.iter().any(|d| d == example),
        "{example:?} is a delay example"
    );
    // A plain question gets no learned code.
    assert!(
        post("4")["themes"].as_array().unwrap().is_empty(),
        "{:#}",
        post("4")
    );

    // eval --learned: the learned codes of the sample itself, beside the patterns'.
    let eval: Value = serde_json::from_str(&ok(
        dir.path(),
        &[
            "themes",
            "eval",
            "--codebook",
            &book(),
            "--gold",
            &gold(),
            "--learned",
            "learned.json",
            "--model",
            &m,
            "--format",
            "json",
        ],
    ))
    .unwrap();
    let learned_f1 = eval["by_coder"]["learned"]["micro"]["f1"].as_f64().unwrap();
    let codebook_f1 = eval["by_coder"]["codebook"]["micro"]["f1"]
        .as_f64()
        .unwrap();
    assert!(
        learned_f1 > 0.9,
        "trained on these very texts: {learned_f1}"
    );
    assert!(eval["micro"]["f1"].as_f64().unwrap() > codebook_f1);
}

fn cv(dir: &Path, seed: &str) -> Value {
    let m = model_arg();
    serde_json::from_str(&ok(
        dir,
        &[
            "themes",
            "eval",
            "--codebook",
            &book(),
            "--gold",
            &gold(),
            "--cv",
            "3",
            "--seed",
            seed,
            "--model",
            &m,
            "--format",
            "json",
        ],
    ))
    .unwrap()
}

#[test]
fn cross_validation_repeats_with_its_seed() {
    let dir = tempfile::tempdir().unwrap();
    let a = cv(dir.path(), "7");
    assert_eq!(
        a,
        cv(dir.path(), "7"),
        "the same seed gives the same figures"
    );
    let b = cv(dir.path(), "8");
    assert_ne!(
        a["cv"]["fold_of"], b["cv"]["fold_of"],
        "another seed deals other folds"
    );

    assert_eq!(a["cv"]["fold_sizes"], serde_json::json!([22, 21, 21]));
    for key in [
        "themes",
        "micro",
        "macro",
        "false_positives",
        "false_negatives",
        "texts",
    ] {
        assert!(!a[key].is_null(), "combined has {key}");
        assert!(
            !a["by_coder"]["codebook"][key].is_null(),
            "codebook has {key}"
        );
        assert!(
            !a["by_coder"]["learned"][key].is_null(),
            "learned has {key}"
        );
    }
    let f1 = |v: &Value| v["f1"].as_f64().unwrap();
    let (combined, codebook, learned) = (
        f1(&a["micro"]),
        f1(&a["by_coder"]["codebook"]["micro"]),
        f1(&a["by_coder"]["learned"]["micro"]),
    );
    // One-word patterns find few of these; the classifier, learned on 2/3, most.
    assert!(codebook < 0.5, "{codebook}");
    assert!(learned > 0.7, "{learned}");
    assert!(combined >= codebook, "{combined} {codebook}");
    assert_eq!(
        a["micro"]["support"], 46,
        "24 delays and 22 refunds (2 texts have both)"
    );
    // The training folds have 16 delays and 14 or 15 refunds: the curve has 10 only.
    let curve = a["curve"].as_array().unwrap();
    assert_eq!(curve.len(), 1, "{curve:?}");
    assert_eq!(curve[0]["labels_per_theme"], 10);
    let c10 = f1(&curve[0]["micro"]);
    assert!((0.3..=1.0).contains(&c10), "{c10}");
    let left: Vec<u64> = a["curve_left_out"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["labels_per_theme"].as_u64().unwrap())
        .collect();
    assert_eq!(left, [25, 50]);
}

#[test]
fn a_model_file_from_another_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    corpus(dir.path());
    learn(dir.path(), &gold(), &book());
    let path = dir.path().join("learned.json");
    let mut file: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    file["model"] = "another-model@0000".into();
    std::fs::write(dir.path().join("other.json"), file.to_string()).unwrap();
    let m = model_arg();
    let o = rethread(
        dir.path(),
        &[
            "themes",
            "--input",
            "posts.jsonl",
            "--codebook",
            &book(),
            "--learned",
            "other.json",
            "--model",
            &m,
        ],
    );
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("other.json") && e.contains("another-model@0000") && e.contains("--model"),
        "{e}"
    );
    // Nor with the codebook it did not learn.
    let o = rethread(
        dir.path(),
        &[
            "themes",
            "--input",
            "posts.jsonl",
            "--learned",
            "learned.json",
            "--model",
            &m,
        ],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--codebook"), "{}", stderr(&o));
}

#[test]
fn a_malformed_gold_csv_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.csv"),
        "id,text,themes\n1,late again,delay\n2,\"an open quote,delay\n3,fine,\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("short.csv"),
        "id,text,themes\n1,late again,delay\n2,too few\n",
    )
    .unwrap();
    for (file, line) in [("bad.csv", "bad.csv:"), ("short.csv", "short.csv:3")] {
        let o = rethread(
            dir.path(),
            &[
                "themes",
                "learn",
                "--gold",
                file,
                "--codebook",
                &book(),
                "--out",
                "m.json",
            ],
        );
        assert!(!o.status.success());
        assert!(stderr(&o).contains(line), "{file}: {}", stderr(&o));
        assert!(!dir.path().join("m.json").exists());
    }
}

/// Labels made (or corrected) in a qualitative tool: a REFI-QDA project is a gold file too.
#[test]
fn a_refi_qda_project_is_a_gold_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let seed = fixture("seed002/twarc2.jsonl");
    ok(
        d,
        &[
            "export",
            "qdpx",
            "--out",
            "seed.qdpx",
            "--input",
            seed.to_str().unwrap(),
        ],
    );
    std::fs::write(d.join("book.toml"), ok(d, &["themes", "codebook"])).unwrap();
    let err = learn(d, "seed.qdpx", "book.toml");
    assert!(
        err.contains("seed.qdpx: 17 posts from the project's transcripts, 13 of them coded"),
        "{err}"
    );
    let learned: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("learned.json")).unwrap()).unwrap();
    assert!(learned.is_object(), "{learned}");
}
