//! What a sentence-transformers model folder says about itself, read before any weight is
//! touched.
//!
//! A sentence-transformers folder is a pipeline written down as files: `modules.json` lists the
//! stages (the transformer, then pooling, then maybe normalisation), `config.json` describes the
//! transformer, `1_Pooling/config.json` says how token vectors become one sentence vector, and
//! `sentence_bert_config.json` how many tokens the model reads. Reading them here, on their own,
//! keeps every "this folder is not what we can run" error in one place, each naming the file
//! that says so, and lets them be tested without 90 MB of weights.

use anyhow::{bail, Context, Result};
use candle_transformers::models::bert;
use serde::Deserialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// How the token vectors of a sentence become one vector (sentence-transformers' Pooling).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The average of the (unpadded) token vectors: what all-MiniLM-L6-v2 uses.
    Mean,
    /// The vector of the first token, [CLS].
    Cls,
    /// The largest value of each dimension over the tokens.
    Max,
    /// The sum of the token vectors divided by the square root of their number.
    MeanSqrtLen,
}

impl Pooling {
    /// The name `themes model` prints (sentence-transformers' own word for it).
    pub fn name(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Max => "max",
            Pooling::MeanSqrtLen => "mean_sqrt_len",
        }
    }
}

/// Everything the folder's small files say, checked against each other.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub dir: PathBuf,
    /// The model's name: the Hugging Face repository the folder was downloaded into, else the
    /// title of its model card (README.md), else config.json's `_name_or_path`, else the
    /// folder's name. `_name_or_path` comes last because sentence-transformers saves the
    /// *base* model's name there: all-MiniLM-L6-v2 says "nreimers/MiniLM-L6-H384-uncased".
    pub name: String,
    pub config: bert::Config,
    pub pooling: Pooling,
    /// modules.json lists a Normalize stage.
    pub normalize: bool,
    /// Tokens read per text, [CLS] and [SEP] included; the rest is cut off.
    pub max_seq_length: usize,
}

impl ModelSpec {
    /// The length of every vector the model makes.
    pub fn dim(&self) -> usize {
        self.config.hidden_size
    }
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    pub fn tokenizer_path(&self) -> PathBuf {
        self.dir.join("tokenizer.json")
    }
    pub fn weights_path(&self) -> PathBuf {
        self.dir.join("model.safetensors")
    }

    /// Reads and cross-checks the folder's JSON files. Errors name the file at fault.
    pub fn read(dir: &Path) -> Result<ModelSpec> {
        if !dir.is_dir() {
            bail!(
                "{} is not a model folder (a sentence-transformers folder holding config.json, \
                 tokenizer.json, model.safetensors and 1_Pooling/config.json)",
                dir.display()
            );
        }
        // Say every missing file at once: a half-copied folder usually misses several.
        let missing: Vec<String> = ["config.json", "tokenizer.json", "model.safetensors"]
            .iter()
            .map(|f| dir.join(f))
            .filter(|p| !p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if !missing.is_empty() {
            bail!(
                "{} is not a complete model folder: missing {}",
                dir.display(),
                missing.join(", ")
            );
        }

        let config_path = dir.join("config.json");
        let raw = read_json(&config_path)?;
        let config = bert_config(&config_path, &raw)?;

        let (pooling_dir, normalize) = read_modules(dir)?;
        let pooling = read_pooling(&dir.join(&pooling_dir).join("config.json"), &config)?;
        let max_seq_length = read_max_seq_length(dir, &config)?;

        let name = hub_repo_name(dir)
            .or_else(|| model_card_title(&dir.join("README.md")))
            .or_else(|| {
                raw.get("_name_or_path")
                    .and_then(Value::as_str)
                    .filter(|s| !s.trim().is_empty())
                    .map(str::to_string)
            })
            .unwrap_or_else(|| folder_name(dir));

        Ok(ModelSpec {
            dir: dir.to_path_buf(),
            name,
            config,
            pooling,
            normalize,
            max_seq_length,
        })
    }
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// config.json as candle's BERT config, after checking it describes a BERT: candle's BertModel
/// would load the tensors of a RoBERTa or DistilBERT only to compute something else.
fn bert_config(path: &Path, raw: &Value) -> Result<bert::Config> {
    let model_type = raw.get("model_type").and_then(Value::as_str).unwrap_or("");
    if model_type != "bert" {
        let archs = raw
            .get("architectures")
            .map(|a| a.to_string())
            .unwrap_or_default();
        bail!(
            "{}: unsupported architecture: model_type {model_type:?} {archs} \
             (rethread runs BERT sentence-transformers models, e.g. all-MiniLM-L6-v2)",
            path.display()
        );
    }
    let config: bert::Config = serde_json::from_value(raw.clone()).with_context(|| {
        format!(
            "{}: not a BERT configuration rethread can run",
            path.display()
        )
    })?;
    if config.hidden_size == 0
        || config.num_attention_heads == 0
        || config.hidden_size % config.num_attention_heads != 0
    {
        bail!(
            "{}: hidden_size {} is not a multiple of num_attention_heads {}",
            path.display(),
            config.hidden_size,
            config.num_attention_heads
        );
    }
    Ok(config)
}

/// The pooling stage's folder and whether a Normalize stage follows, from modules.json. Without
/// modules.json, sentence-transformers' own default layout: `1_Pooling`, no Normalize.
fn read_modules(dir: &Path) -> Result<(String, bool)> {
    let path = dir.join("modules.json");
    if !path.is_file() {
        return Ok(("1_Pooling".to_string(), false));
    }
    #[derive(Deserialize)]
    struct Module {
        #[serde(default)]
        path: String,
        #[serde(rename = "type")]
        kind: String,
    }
    let modules: Vec<Module> = serde_json::from_value(read_json(&path)?)
        .with_context(|| format!("{}: not a list of modules", path.display()))?;
    let mut pooling = None;
    let mut normalize = false;
    for m in &modules {
        match m.kind.rsplit('.').next().unwrap_or("") {
            "Transformer" => {}
            "Pooling" => pooling = Some(m.path.clone()),
            "Normalize" => normalize = true,
            other => bail!(
                "{}: unsupported module {other:?} ({}); rethread runs Transformer, Pooling \
                 and Normalize",
                path.display(),
                m.kind
            ),
        }
    }
    let pooling = pooling.with_context(|| {
        format!(
            "{}: lists no Pooling module; rethread needs one",
            path.display()
        )
    })?;
    Ok((pooling, normalize))
}

fn read_pooling(path: &Path, config: &bert::Config) -> Result<Pooling> {
    if !path.is_file() {
        bail!("missing {} (the pooling configuration)", path.display());
    }
    let raw = read_json(path)?;
    let flag = |key: &str| raw.get(key).and_then(Value::as_bool).unwrap_or(false);
    if let Some(dim) = raw.get("word_embedding_dimension").and_then(Value::as_u64) {
        if dim as usize != config.hidden_size {
            bail!(
                "{}: word_embedding_dimension {dim} disagrees with config.json's hidden_size {}",
                path.display(),
                config.hidden_size
            );
        }
    }
    for unsupported in ["pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"] {
        if flag(unsupported) {
            bail!("{}: unsupported pooling {unsupported}", path.display());
        }
    }
    let modes: Vec<Pooling> = [
        ("pooling_mode_mean_tokens", Pooling::Mean),
        ("pooling_mode_cls_token", Pooling::Cls),
        ("pooling_mode_max_tokens", Pooling::Max),
        ("pooling_mode_mean_sqrt_len_tokens", Pooling::MeanSqrtLen),
    ]
    .into_iter()
    .filter(|(key, _)| flag(key))
    .map(|(_, mode)| mode)
    .collect();
    match modes.as_slice() {
        [one] => Ok(*one),
        [] => bail!("{}: no pooling mode is set to true", path.display()),
        // sentence-transformers concatenates several modes into one longer vector.
        _ => bail!(
            "{}: unsupported pooling: several modes at once ({})",
            path.display(),
            modes
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// sentence_bert_config.json's max_seq_length; without that file, as many tokens as the
/// position embeddings allow.
fn read_max_seq_length(dir: &Path, config: &bert::Config) -> Result<usize> {
    let path = dir.join("sentence_bert_config.json");
    if !path.is_file() {
        return Ok(config.max_position_embeddings);
    }
    let raw = read_json(&path)?;
    let Some(n) = raw.get("max_seq_length").and_then(Value::as_u64) else {
        return Ok(config.max_position_embeddings);
    };
    let n = n as usize;
    if n < 2 || n > config.max_position_embeddings {
        bail!(
            "{}: max_seq_length {n} is outside 2..={} (config.json's max_position_embeddings)",
            path.display(),
            config.max_position_embeddings
        );
    }
    Ok(n)
}

/// `owner/name` when `dir` is a snapshot in a Hugging Face cache
/// (`models--owner--name/snapshots/<revision>`).
fn hub_repo_name(dir: &Path) -> Option<String> {
    let snapshots = dir.parent()?;
    if snapshots.file_name()? != "snapshots" {
        return None;
    }
    let repo = snapshots.parent()?.file_name()?.to_str()?;
    let rest = repo.strip_prefix("models--")?;
    Some(rest.replacen("--", "/", 1))
}

/// The first level-one heading of a model card, when it reads as a model name (one word of
/// letters, digits and `-_./`): sentence-transformers writes its cards as front matter, then
/// `# all-MiniLM-L6-v2`. Anything else (no card, a sentence as the title) is no name.
fn model_card_title(readme: &Path) -> Option<String> {
    let text = std::fs::read_to_string(readme).ok()?;
    let mut lines = text.lines();
    let mut in_front_matter = false;
    if text.starts_with("---") {
        lines.next();
        in_front_matter = true;
    }
    for line in lines {
        if in_front_matter {
            in_front_matter = line.trim_end() != "---";
            continue;
        }
        if let Some(title) = line.strip_prefix("# ") {
            let title = title.trim();
            let ok = !title.is_empty()
                && title.len() <= 100
                && title
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
            return ok.then(|| title.to_string());
        }
    }
    None
}

fn folder_name(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{"_name_or_path": "x/mini", "model_type": "bert", "vocab_size": 10,
        "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 16, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "max_position_embeddings": 32, "type_vocab_size": 2, "initializer_range": 0.02,
        "layer_norm_eps": 1e-12, "pad_token_id": 0}"#;

    fn folder(pooling: &str) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("config.json"), CONFIG).unwrap();
        std::fs::write(d.path().join("tokenizer.json"), "{}").unwrap();
        std::fs::write(d.path().join("model.safetensors"), "").unwrap();
        std::fs::create_dir(d.path().join("1_Pooling")).unwrap();
        std::fs::write(d.path().join("1_Pooling/config.json"), pooling).unwrap();
        d
    }

    #[test]
    fn reads_pooling_normalize_and_length() {
        let d = folder(r#"{"word_embedding_dimension": 8, "pooling_mode_cls_token": true}"#);
        std::fs::write(
            d.path().join("modules.json"),
            r#"[{"path": "", "type": "sentence_transformers.models.Transformer"},
                {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
                {"path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}]"#,
        )
        .unwrap();
        std::fs::write(
            d.path().join("sentence_bert_config.json"),
            r#"{"max_seq_length": 16}"#,
        )
        .unwrap();
        let spec = ModelSpec::read(d.path()).unwrap();
        assert_eq!(
            (spec.pooling, spec.normalize, spec.max_seq_length),
            (Pooling::Cls, true, 16)
        );
        assert_eq!((spec.name.as_str(), spec.dim()), ("x/mini", 8));
    }

    #[test]
    fn defaults_without_modules_or_sentence_config() {
        let d = folder(r#"{"pooling_mode_mean_tokens": true}"#);
        let spec = ModelSpec::read(d.path()).unwrap();
        assert_eq!(
            (spec.pooling, spec.normalize, spec.max_seq_length),
            (Pooling::Mean, false, 32)
        );
    }

    #[test]
    fn errors_name_the_file() {
        let d = folder(r#"{"word_embedding_dimension": 9, "pooling_mode_mean_tokens": true}"#);
        let e = format!("{:#}", ModelSpec::read(d.path()).unwrap_err());
        assert!(
            e.contains("1_Pooling/config.json") && e.contains("hidden_size 8"),
            "{e}"
        );

        let d = folder(r#"{"pooling_mode_mean_tokens": true, "pooling_mode_max_tokens": true}"#);
        let e = format!("{:#}", ModelSpec::read(d.path()).unwrap_err());
        assert!(e.contains("unsupported pooling"), "{e}");

        let d = folder(r#"{"pooling_mode_mean_tokens": true}"#);
        std::fs::write(
            d.path().join("config.json"),
            CONFIG.replace("\"bert\"", "\"roberta\""),
        )
        .unwrap();
        let e = format!("{:#}", ModelSpec::read(d.path()).unwrap_err());
        assert!(
            e.contains("config.json") && e.contains("unsupported architecture"),
            "{e}"
        );

        std::fs::remove_file(d.path().join("tokenizer.json")).unwrap();
        let e = format!("{:#}", ModelSpec::read(d.path()).unwrap_err());
        assert!(e.contains("missing") && e.contains("tokenizer.json"), "{e}");
    }

    #[test]
    fn names_a_hub_snapshot_by_its_repository() {
        let p = Path::new("/c/hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/abc");
        assert_eq!(
            hub_repo_name(p).as_deref(),
            Some("sentence-transformers/all-MiniLM-L6-v2")
        );
        assert_eq!(hub_repo_name(Path::new("/a/model")), None);
    }

    #[test]
    fn names_a_folder_by_its_model_card_before_the_base_model_in_config() {
        let d = folder(r#"{"pooling_mode_mean_tokens": true}"#);
        assert_eq!(ModelSpec::read(d.path()).unwrap().name, "x/mini");
        // A code block's "# comment" after the title is not read; front matter is skipped.
        std::fs::write(
            d.path().join("README.md"),
            "---\ntags:\n- x\n---\n\n# all-MiniLM-L6-v2\nText.\n```\n# Load model\n```\n",
        )
        .unwrap();
        assert_eq!(ModelSpec::read(d.path()).unwrap().name, "all-MiniLM-L6-v2");
        std::fs::write(d.path().join("README.md"), "# A model I trained\n").unwrap();
        assert_eq!(ModelSpec::read(d.path()).unwrap().name, "x/mini");
    }
}
