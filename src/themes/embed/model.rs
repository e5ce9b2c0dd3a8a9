//! The BERT forward pass: candle's `BertModel` on the CPU, fed by the model's own tokenizer.json.
//!
//! Texts are embedded in batches of similar length. A batch is one matrix, so every text in it
//! is padded to the longest; sorting by token count first means a 12-token tweet is never padded
//! to 256 because a long one happened to sit beside it. The attention mask keeps the padding out
//! of attention, and pooling skips it too, so a text's vector does not depend on its batch.

use super::folder::{ModelSpec, Pooling};
use super::{normalize, Embed};
use anyhow::{anyhow, bail, Context, Result};
use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, DTYPE};
use sha2::{Digest, Sha256};
use std::path::Path;
use tokenizers::{Tokenizer, TruncationParams};

/// Texts per forward pass. Bigger batches amortise the per-call overhead, smaller ones waste
/// less on padding and stay in cache; 32 is sentence-transformers' default and measured best
/// here within noise (benches/embed_speed.rs).
pub const BATCH_SIZE: usize = 32;

/// A sentence-transformers BERT model, loaded and ready to embed.
pub struct Embedder {
    spec: ModelSpec,
    id: String,
    tokenizer: Tokenizer,
    model: BertModel,
    batch_size: usize,
}

impl Embedder {
    /// Loads the model in `dir`: its JSON files, tokenizer.json and model.safetensors. Errors name
    /// the file at fault (missing, unreadable, corrupt, or disagreeing with config.json).
    pub fn load(dir: &Path) -> Result<Embedder> {
        let spec = ModelSpec::read(dir)?;
        let tokenizer = load_tokenizer(&spec)?;
        let (model, hash) = load_weights(&spec)?;
        let id = format!("{}@{}", spec.name, &hash[..12]);
        Ok(Embedder {
            spec,
            id,
            tokenizer,
            model,
            batch_size: BATCH_SIZE,
        })
    }

    /// The same model with another batch size (for benchmarks).
    pub fn with_batch_size(mut self, batch_size: usize) -> Embedder {
        self.batch_size = batch_size.max(1);
        self
    }

    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// What the folder's files say (name, pooling, normalisation, max sequence length).
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The vectors exactly as the model's own pipeline makes them: pooled, and normalised only
    /// when modules.json lists Normalize. `Embed::embed` always returns unit-length vectors.
    pub fn embed_raw(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| {
                anyhow!(
                    "tokenizing with {}: {e}",
                    self.spec.tokenizer_path().display()
                )
            })?;

        // Longest first, so the first batch shows the worst memory use straight away.
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].get_ids().len()));

        let mut out = vec![Vec::new(); texts.len()];
        for batch in order.chunks(self.batch_size) {
            let ids: Vec<&[u32]> = batch.iter().map(|&i| encodings[i].get_ids()).collect();
            let vectors = self.forward(&ids).context("embedding a batch of texts")?;
            for (&i, v) in batch.iter().zip(vectors) {
                out[i] = v;
            }
        }
        Ok(out)
    }

    /// One forward pass over a batch of token id sequences, padded to the longest.
    fn forward(&self, ids: &[&[u32]]) -> Result<Vec<Vec<f32>>> {
        let rows = ids.len();
        let len = ids.iter().map(|s| s.len()).max().unwrap_or(0).max(1);
        let pad = self.spec.config.pad_token_id as u32;
        let mut flat_ids = Vec::with_capacity(rows * len);
        let mut flat_mask = Vec::with_capacity(rows * len);
        for s in ids {
            flat_ids.extend_from_slice(s);
            flat_ids.extend(std::iter::repeat_n(pad, len - s.len()));
            flat_mask.extend(std::iter::repeat_n(1u32, s.len()));
            flat_mask.extend(std::iter::repeat_n(0u32, len - s.len()));
        }
        let device = &self.model.device;
        let input = Tensor::from_vec(flat_ids, (rows, len), device)?;
        let types = input.zeros_like()?;
        let mask = Tensor::from_vec(flat_mask.clone(), (rows, len), device)?;
        let hidden = self.model.forward(&input, &types, Some(&mask))?;
        let hidden: Vec<f32> = hidden.flatten_all()?.to_vec1()?;
        let dim = self.spec.dim();

        // Pooling over the tokens the mask keeps, in plain Rust: it is a few thousand additions
        // beside the forward pass's millions of multiplications.
        let mut vectors = Vec::with_capacity(rows);
        for r in 0..rows {
            let tokens = &hidden[r * len * dim..(r + 1) * len * dim];
            let kept = &flat_mask[r * len..(r + 1) * len];
            let mut v = pool(self.spec.pooling, tokens, kept, dim);
            if self.spec.normalize {
                normalize(&mut v);
            }
            vectors.push(v);
        }
        Ok(vectors)
    }
}

impl Embed for Embedder {
    fn id(&self) -> &str {
        &self.id
    }
    fn dim(&self) -> usize {
        self.spec.dim()
    }
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut vectors = self.embed_raw(texts)?;
        if !self.spec.normalize {
            vectors.iter_mut().for_each(|v| normalize(v));
        }
        Ok(vectors)
    }
}

/// One sentence vector from its token vectors (`tokens`: len × dim, row-major) and the mask.
fn pool(pooling: Pooling, tokens: &[f32], mask: &[u32], dim: usize) -> Vec<f32> {
    let rows = || {
        tokens
            .chunks_exact(dim)
            .zip(mask)
            .filter(|(_, &m)| m != 0)
            .map(|(t, _)| t)
    };
    match pooling {
        Pooling::Cls => tokens[..dim].to_vec(),
        Pooling::Max => {
            let mut v = vec![f32::NEG_INFINITY; dim];
            for t in rows() {
                v.iter_mut().zip(t).for_each(|(a, &b)| *a = a.max(b));
            }
            v
        }
        Pooling::Mean | Pooling::MeanSqrtLen => {
            let mut v = vec![0f32; dim];
            let mut n = 0usize;
            for t in rows() {
                v.iter_mut().zip(t).for_each(|(a, &b)| *a += b);
                n += 1;
            }
            // sentence-transformers clamps the count to 1e-9; a text always has [CLS] and [SEP].
            let n = (n as f32).max(1e-9);
            let by = if pooling == Pooling::Mean {
                n
            } else {
                n.sqrt()
            };
            v.iter_mut().for_each(|a| *a /= by);
            v
        }
    }
}

/// tokenizer.json, cutting texts at the model's max_seq_length (as sentence-transformers does)
/// and without its own padding: batches are padded in `forward`, to their own longest text.
fn load_tokenizer(spec: &ModelSpec) -> Result<Tokenizer> {
    let path = spec.tokenizer_path();
    let mut tokenizer = Tokenizer::from_file(&path)
        .map_err(|e| anyhow!("cannot read the tokenizer {}: {e}", path.display()))?;
    tokenizer
        .with_truncation(Some(TruncationParams {
            max_length: spec.max_seq_length,
            ..Default::default()
        }))
        .map_err(|e| {
            anyhow!(
                "{}: cannot truncate to {}: {e}",
                path.display(),
                spec.max_seq_length
            )
        })?;
    tokenizer.with_padding(None);
    let vocab = tokenizer.get_vocab_size(true);
    if vocab > spec.config.vocab_size {
        bail!(
            "{} has {vocab} tokens but config.json's vocab_size is {}: they are not one model",
            path.display(),
            spec.config.vocab_size
        );
    }
    Ok(tokenizer)
}

/// model.safetensors, read once: the same bytes are hashed (for the model id) and handed to
/// candle. Reading rather than memory-mapping costs a transient second copy of the weights
/// (candle copies tensors out of a map too) but needs no `unsafe`: a mapped file that another
/// process rewrites is undefined behaviour.
fn load_weights(spec: &ModelSpec) -> Result<(BertModel, String)> {
    let path = spec.weights_path();
    let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let hash = hex(&Sha256::digest(&bytes));
    let tensors = candle_core::safetensors::BufferedSafetensors::new(bytes).map_err(|e| {
        anyhow!(
            "{} is corrupt or truncated (not a safetensors file): {e}",
            path.display()
        )
    })?;

    // Checkpoints saved from BertModel name tensors `embeddings.…`; those saved from a task
    // model (BertForMaskedLM, …) put them under `bert.`. candle's own check looks for a tensor
    // named exactly "bert", which never exists, so the prefix is found here.
    let names: Vec<String> = tensors.tensors().into_iter().map(|(n, _)| n).collect();
    let prefix = if names.iter().any(|n| n.starts_with("bert.")) {
        "bert."
    } else {
        ""
    };
    let word = format!("{prefix}embeddings.word_embeddings.weight");
    let shape = tensors
        .get(&word)
        .map_err(|_| {
            anyhow!(
                "{} holds no {word}: not the weights of a BERT model",
                path.display()
            )
        })?
        .shape()
        .to_vec();
    let (vocab, hidden) = (spec.config.vocab_size, spec.config.hidden_size);
    if shape != [vocab, hidden] {
        bail!(
            "{}: {word} has shape {shape:?} but config.json says vocab_size {vocab} × \
             hidden_size {hidden}: wrong dimension",
            path.display()
        );
    }

    let vb = VarBuilder::from_backend(Box::new(tensors), DTYPE, Device::Cpu);
    let vb = if prefix.is_empty() { vb } else { vb.pp("bert") };
    let model = BertModel::load(vb, &spec.config).map_err(|e| {
        anyhow!(
            "{} does not fit {}: {e}",
            path.display(),
            spec.config_path().display()
        )
    })?;
    Ok((model, hash))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pooling_skips_padding() {
        // Two real tokens and one padded one, dim 2.
        let tokens = [1.0, 4.0, 3.0, 0.0, 100.0, 100.0];
        let mask = [1, 1, 0];
        assert_eq!(pool(Pooling::Mean, &tokens, &mask, 2), vec![2.0, 2.0]);
        assert_eq!(pool(Pooling::Max, &tokens, &mask, 2), vec![3.0, 4.0]);
        assert_eq!(pool(Pooling::Cls, &tokens, &mask, 2), vec![1.0, 4.0]);
        let s = pool(Pooling::MeanSqrtLen, &tokens, &mask, 2);
        assert!((s[0] - 4.0 / 2f32.sqrt()).abs() < 1e-6, "{s:?}");
    }
}
