"""Sentence embeddings of content text and user interests: all-MiniLM-L6-v2, 384-d, L2-normalized.

Two backends behind one interface, giving the same vectors (cosine >= 0.999, checked in the tests):

* ``onnx`` (the default, and the only one serving code uses): ONNX Runtime + the Rust ``tokenizers``;
  imports in a fraction of a second and never touches torch.
* ``sentence-transformers``: the reference implementation (torch); for checks and benchmarks.

Texts are tokenized together, sorted by length and run in batches, so little time goes to padding.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from dummi.config import get_settings
from dummi.ml.onnx_export import METADATA_FILE, MODEL_FILE, TOKENIZER_FILE, export_model, source_model_dir
from dummi.ml.text import DIMENSION, MODEL_NAME, content_text, interests_text, text_hash

__all__ = ["DIMENSION", "MODEL_NAME", "content_text", "interests_text", "text_hash", "Embedder", "get_embedder"]

logger = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 256
DEFAULT_BATCH_SIZE = 32

Progress = Callable[[int], None]


def to_bytes(vector: np.ndarray) -> bytes:
    """The storage form in Postgres (bytea): 384 float32, little-endian."""
    return np.asarray(vector, dtype="<f4").reshape(DIMENSION).tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4", count=DIMENSION)


class Embedder(Protocol):
    name: str
    dimension: int

    def encode(
        self, texts: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
    ) -> np.ndarray:
        """float32 array (len(texts), 384), each row L2-normalized."""
        ...


class OnnxEmbedder:
    """all-MiniLM-L6-v2 on ONNX Runtime. Thread-safe: ONNX Runtime sessions allow concurrent ``run``."""

    name = "onnx"
    dimension = DIMENSION

    def __init__(self, model_dir: Path, *, threads: int | None = None) -> None:
        # ONNX Runtime and tokenizers: the embed extra, only where text is embedded
        import onnxruntime as ort
        from tokenizers import Tokenizer

        model_dir = Path(model_dir)
        metadata = json.loads((model_dir / METADATA_FILE).read_text())
        self.max_length = int(metadata.get("max_seq_length", DEFAULT_MAX_LENGTH))
        self._tokenizer = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(max_length=self.max_length)
        self._tokenizer.no_padding()
        self._tokenizer_lock = threading.Lock()  # the Rust tokenizer's settings are per instance

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        # Idle pool threads would spin waiting for work: CPU taken from concurrent requests in a server.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(model_dir / MODEL_FILE), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def encode(
        self, texts: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
    ) -> np.ndarray:
        out = np.empty((len(texts), DIMENSION), dtype=np.float32)
        if not texts:
            return out
        with self._tokenizer_lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        ids = [e.ids for e in encodings]
        # Similar lengths in one batch: padding (wasted compute) stays small.
        order = np.argsort([len(x) for x in ids], kind="stable")
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(ids[r]) for r in rows)
            input_ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, r in enumerate(rows):
                n = len(ids[r])
                input_ids[i, :n] = ids[r]
                mask[i, :n] = 1
            (vectors,) = self._session.run(["sentence_embedding"], {"input_ids": input_ids, "attention_mask": mask})
            out[rows] = vectors
            if progress is not None:
                progress(len(rows))
        return out


class SentenceTransformerEmbedder:
    """The reference backend (imports torch: never on the serving path)."""

    name = "sentence-transformers"
    dimension = DIMENSION

    def __init__(self, model_path: Path | None = None) -> None:
        # torch: the reference backend, for parity tests and benchmarks only
        from sentence_transformers import SentenceTransformer

        if model_path is None:
            model_path = source_model_dir()
        self._model = SentenceTransformer(str(model_path), device="cpu")

    def encode(
        self, texts: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE, progress: Progress | None = None
    ) -> np.ndarray:
        vectors = self._model.encode(
            list(texts), batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True
        ).astype(np.float32)
        if progress is not None:
            progress(len(texts))
        return vectors


def ensure_onnx_model(model_dir: Path) -> Path:
    """The exported model folder; exported now (a few seconds, no torch) if it is missing and the export
    extras are installed. In Lambda the model comes in a layer and is never exported at run time."""
    model_dir = Path(model_dir)
    if not (model_dir / MODEL_FILE).exists():
        try:
            logger.info("exporting %s to ONNX in %s", MODEL_NAME, model_dir)
            export_model(model_dir)
        except ImportError as exc:
            raise RuntimeError(
                f"no ONNX model in {model_dir}: run `make model` (or `dummi export-model --out {model_dir}`)"
            ) from exc
    return model_dir


@lru_cache(maxsize=4)
def load_embedder(backend: str, model_dir: str, threads: int | None = None) -> Embedder:
    if backend == "onnx":
        return OnnxEmbedder(ensure_onnx_model(Path(model_dir)), threads=threads)
    if backend == "sentence-transformers":
        return SentenceTransformerEmbedder()
    raise ValueError(f"unknown embedding backend {backend!r} (onnx | sentence-transformers)")


def get_embedder() -> Embedder:
    """The process-wide embedder the settings name (created on first use, then kept)."""
    settings = get_settings()
    return load_embedder(settings.dummi_embedding_backend, str(settings.model_dir), settings.dummi_embedding_threads)
