//! Sentence embeddings: a sentence-transformers model run in the binary (no Python, no network).
//!
//! Everything that needs vectors goes through [`Embed`], so that the semantic coder, learned
//! codes and discovery neither know nor care how vectors are made, and their unit tests can use
//! small hand-made vectors.

use anyhow::Result;

// The model itself (candle, tokenizers, safetensors) is the `embed` feature, on by default; the
// library builds without it for the fuzz targets. Finding a model and the trait need neither.
#[cfg(feature = "embed")]
mod folder;
mod locate;
#[cfg(feature = "embed")]
mod model;

#[cfg(feature = "embed")]
pub use folder::{ModelSpec, Pooling};
pub use locate::{
    locate, locate_with, missing_model_message, ModelLocation, ModelSource, MODEL_ENV,
};
#[cfg(feature = "embed")]
pub use model::{Embedder, BATCH_SIZE};

/// A sentence-embedding model.
pub trait Embed: Sync {
    /// Identifies the model *and its weights* (e.g. its name and a hash of model.safetensors):
    /// vectors stored under one id are never used with another.
    fn id(&self) -> &str;
    /// Length of every vector.
    fn dim(&self) -> usize;
    /// One unit-length vector per text, in the order given.
    fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}

/// Dot product; the cosine similarity of two unit-length vectors.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `v` scaled to unit length (left as it is when it is all zeros).
pub fn normalize(v: &mut [f32]) {
    let n = dot(v, v).sqrt();
    if n > 0.0 {
        v.iter_mut().for_each(|x| *x /= n);
    }
}
