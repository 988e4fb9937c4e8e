"""FAISS index over content embeddings: inner product on L2-normalized vectors (= cosine).

Exact search (``IndexFlatIP``) up to ``EXACT_MAX_ITEMS``; above that HNSW (``IndexHNSWFlat``, inner
product). Content ids are kept by position in an id array saved with the index, so a search returns
ids. Why the switch sits where it does: see ``tests/benchmarks/bench_index.py`` and the README
(recall@10 of HNSW against exact search on real all-MiniLM-L6-v2 embeddings, and query latency).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

# Measured on real embeddings (tests/benchmarks/bench_index.py, one core): exact search costs 0.24 ms a query
# at 10K items and 2.8 ms at 50K (linear in the catalog), while HNSW answers in 0.1-0.2 ms with recall@10
# 1.000 at 10K and 0.9997 at 50K. The recommender asks for its 500 content candidates per request on one
# core, while other requests use the other: exact, that was ~1 ms of a ~6 ms request at 10K items under
# load (tests/benchmarks/load.py), so above 5K items HNSW serves, for a recall loss under 0.1%.
EXACT_MAX_ITEMS = 5_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 200
HNSW_EF_SEARCH = 128


@dataclass
class VectorIndex:
    index: object  # faiss.Index
    ids: np.ndarray  # content id per position (dtype object/str)
    kind: str

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) for each query row; positions are -1 where fewer than k exist."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, self.size)
        if k <= 0:
            return np.empty((len(queries), 0), np.float32), np.empty((len(queries), 0), np.int64)
        return self.index.search(queries, k)

    def stored_vectors(self) -> np.ndarray:
        """All stored vectors as an (n, d) float32 array sharing the index's memory (no copy: at 100K items
        a copy would cost 150 MB and a few hundred ms of cold start). Valid while this index lives."""
        import faiss

        flat = faiss.downcast_index(self.index.storage) if self.kind == "hnsw" else self.index
        n, d = self.size, self.index.d
        if n == 0:
            return np.empty((0, d), np.float32)
        return faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)

    # -- persistence (the ids are saved beside the index by the model bundle) -------------------------
    def serialize(self) -> bytes:
        import faiss

        return faiss.serialize_index(self.index).tobytes()

    @classmethod
    def deserialize(cls, blob: bytes, ids: list[str], kind: str) -> VectorIndex:
        import faiss

        index = faiss.deserialize_index(np.frombuffer(blob, dtype=np.uint8))
        if len(ids) != index.ntotal:
            raise ValueError(f"index holds {index.ntotal} vectors but {len(ids)} ids")
        if kind == "hnsw":
            index.hnsw.efSearch = HNSW_EF_SEARCH
        return cls(index=index, ids=np.array(ids, dtype=object), kind=kind)


def choose_kind(n_items: int, *, exact_max: int = EXACT_MAX_ITEMS) -> str:
    return "flat" if n_items <= exact_max else "hnsw"


def build_index(ids: list[str], vectors: np.ndarray, *, kind: str | None = None) -> VectorIndex:
    """Build the index for ``vectors`` (rows aligned with ``ids``, L2-normalized float32)."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(ids):
        raise ValueError("vectors must be (len(ids), dim)")
    kind = kind or choose_kind(len(ids))
    dim = vectors.shape[1] if len(vectors) else 384
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    if len(vectors):
        index.add(vectors)
    return VectorIndex(index=index, ids=np.array(ids, dtype=object), kind=kind)


def recall_at_k(exact: VectorIndex, approx: VectorIndex, queries: np.ndarray, k: int = 10) -> float:
    """Share of the exact top-k that the approximate index also returns."""
    _, truth = exact.search(queries, k)
    _, found = approx.search(queries, k)
    hits = sum(len(set(t[t >= 0]) & set(f[f >= 0])) for t, f in zip(truth, found, strict=True))
    return hits / max(1, int((truth >= 0).sum()))


def to_npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def from_npy(blob: bytes) -> np.ndarray:
    """A read-only view of the array in ``blob`` (no copy: a cold start reads tens of MB of these)."""
    stream = io.BytesIO(blob)
    version = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, fortran_order, dtype = read_header(stream)
    if dtype.hasobject:
        raise ValueError("object arrays are not model data")
    array = np.frombuffer(blob, dtype=dtype, count=int(np.prod(shape)), offset=stream.tell())
    return array.reshape(shape, order="F" if fortran_order else "C")
