"""The ONNX backend gives the same vectors as sentence-transformers (the reference, torch) on a few hundred
varied texts: short and long (past the 256-token limit), punctuation, numbers, accents, other scripts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dummi.ml.embeddings import OnnxEmbedder, SentenceTransformerEmbedder
from dummi.ml.text import content_text

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample_data.json"


def varied_texts() -> list[str]:
    data = json.loads(SAMPLE.read_text())
    texts = [content_text(c["title"], c["category"], c["tags"], c["description"]) for c in data["content"]]
    texts += [c["title"] for c in data["content"]]
    texts += [", ".join(u["interests"]) for u in data["users"]]
    words = " ".join(c["description"] for c in data["content"]).split()
    rng = np.random.default_rng(42)
    for n in range(200):  # random word salads of 1..400 words: lengths on both sides of truncation
        size = int(rng.integers(1, 400)) if n % 3 else int(rng.integers(1, 12))
        texts.append(" ".join(rng.choice(words, size=size)))
    texts += [
        "a",
        "?",
        "2026-11-26T14:00:00Z",
        "C++ vs. C#: 10x faster?!",
        "naïve café résumé",
        "Ünïcödé ñ ß",
        "机器学习入门",
        "Машинное обучение",
        "学习 Python 🐍 and Rust 🦀",
        "   spaced   out   ",
        "UPPER lower MiXeD",
        "e-mail: someone@example.com, url: https://example.com/x?y=1",
        "line one\nline two\ttabbed",
    ] * 4
    return texts


@pytest.fixture(scope="module")
def reference():
    pytest.importorskip("sentence_transformers")
    return SentenceTransformerEmbedder()


def test_onnx_matches_sentence_transformers(reference, model_dir):
    texts = varied_texts()
    assert len(texts) >= 300
    onnx = OnnxEmbedder(model_dir).encode(texts)
    ref = reference.encode(texts)
    assert onnx.shape == ref.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    cosine = (onnx * ref).sum(axis=1)
    worst = int(np.argmin(cosine))
    assert cosine.min() >= 0.999, f"cosine {cosine.min():.6f} for {texts[worst][:80]!r}"


def test_batching_and_order_do_not_change_vectors(model_dir):
    embedder = OnnxEmbedder(model_dir)
    texts = varied_texts()[:120]
    together = embedder.encode(texts, batch_size=64)
    one_by_one = np.vstack([embedder.encode([t])[0] for t in texts[:20]])
    reversed_ = embedder.encode(texts[::-1], batch_size=7)[::-1]
    assert np.allclose(together[:20], one_by_one, atol=1e-5)
    assert np.allclose(together, reversed_, atol=1e-5)
