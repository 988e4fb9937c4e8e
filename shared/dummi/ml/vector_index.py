"""FAISS index over content embeddings: inner product on L2-normalized vectors (= cosine).

Exact search (``IndexFlatIP``) up to ``EXACT_MAX_ITEMS``; above that HNSW (``IndexHNSWFlat``, inner
product); for catalogs the Spark engine builds past ``dummi.training.spark.index.IVF_MIN_ITEMS``, IVF-PQ
(``IndexIVFPQ``: compressed codes in inverted lists, built in parallel and merged), whose answers are
re-scored exactly from the vectors the model ships beside it. Content ids are kept by position in an id
array saved with the index, so a search returns ids. Why the switch sits where it does: see
``tests/benchmarks/bench_index.py`` and docs/measurements.md (recall@10 of HNSW against exact search on real
all-MiniLM-L6-v2 embeddings, and query latency).
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
# IVF-PQ answers IVF_REFINE x k candidates by their compressed codes, re-scored exactly: at 1M items
# (tests/benchmarks/bench_ivf.py) recall@10 against exact search is 0.71 at 4, 0.90 at 10 and 0.987 at 25
# (1.5 ms a query), the same at nprobe 64, 128 and 256 of 4,096 lists
IVF_REFINE = 25


@dataclass
class VectorIndex:
    index: object  # faiss.Index
    ids: np.ndarray  # content id per position (dtype object/str)
    kind: str
    vectors: np.ndarray | None = None  # ivfpq: the exact vectors (the index holds only codes)
    params: dict | None = None  # ivfpq: nlist, m, nprobe (in the manifest; serving searches with them)

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, positions) for each query row; positions are -1 where fewer than k exist."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, self.size)
        if k <= 0:
            return np.empty((len(queries), 0), np.float32), np.empty((len(queries), 0), np.int64)
        if self.kind != "ivfpq":
            return self.index.search(queries, k)
        _, found = self.index.search(queries, min(self.size, IVF_REFINE * k))
        scores = np.full((len(queries), k), -np.inf, np.float32)
        positions = np.full((len(queries), k), -1, np.int64)
        for q, row in enumerate(found):
            row = row[row >= 0]
            exact = self.vectors[row] @ queries[q]
            top = np.argsort(-exact, kind="stable")[:k]
            scores[q, : len(top)], positions[q, : len(top)] = exact[top], row[top]
        return scores, positions

    def stored_vectors(self) -> np.ndarray:
        """All stored vectors as an (n, d) float32 array sharing the index's memory (no copy: at 100K items
        a copy would cost 150 MB and a few hundred ms of cold start). Valid while this index lives."""
        # FAISS loads a large native library (~0.5 s here): only building or searching an index pays it
        import faiss

        if self.kind == "ivfpq":
            return self.vectors
        flat = faiss.downcast_index(self.index.storage) if self.kind == "hnsw" else self.index
        n, d = self.size, self.index.d
        if n == 0:
            return np.empty((0, d), np.float32)
        return faiss.rev_swig_ptr(flat.get_xb(), n * d).reshape(n, d)

    # -- persistence (the ids are saved beside the index by the model bundle) -------------------------
    def serialize(self) -> bytes:
        # FAISS loads a large native library (~0.5 s here): only building or searching an index pays it
        import faiss

        return faiss.serialize_index(self.index).tobytes()

    @classmethod
    def deserialize(
        cls, blob: bytes, ids: list[str], kind: str, *, params: dict | None = None, vectors: np.ndarray | None = None
    ) -> VectorIndex:
        # FAISS loads a large native library (~0.5 s here): only building or searching an index pays it
        import faiss

        # read straight from the bytes (deserialize_index copies them into a vector first: at 100K items ~70 ms
        # more of a cold start)
        index = faiss.read_index(faiss.PyCallbackIOReader(io.BytesIO(blob).read, 1 << 24))
        if len(ids) != index.ntotal:
            raise ValueError(f"index holds {index.ntotal} vectors but {len(ids)} ids")
        if kind == "hnsw":
            index.hnsw.efSearch = HNSW_EF_SEARCH
        if kind == "ivfpq":
            if vectors is None or len(vectors) != len(ids):
                raise ValueError("an IVF-PQ index needs the exact vectors beside it")
            index.nprobe = int(params["nprobe"])
        return cls(index=index, ids=np.array(ids, dtype=object), kind=kind, vectors=vectors, params=params)


def choose_kind(n_items: int, *, exact_max: int = EXACT_MAX_ITEMS) -> str:
    return "flat" if n_items <= exact_max else "hnsw"


def build_index(ids: list[str], vectors: np.ndarray, *, kind: str | None = None) -> VectorIndex:
    """Build the index for ``vectors`` (rows aligned with ``ids``, L2-normalized float32)."""
    # FAISS loads a large native library (~0.5 s here): only building or searching an index pays it
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


def ivfpq_params(n_items: int, dim: int = 384) -> dict:
    """nlist about 4 sqrt(n) (a power of two), 8-dimensional sub-quantizers of 8 bits, and nprobe 1/64 of the
    lists (at least 16): the settings tests/benchmarks/bench_ivf.py measures recall@10 with."""
    nlist = 1 << max(4, int(round(np.log2(4 * np.sqrt(max(n_items, 1))))))
    return {"nlist": nlist, "m": dim // 8, "bits": 8, "nprobe": max(16, nlist // 64)}


def empty_ivfpq(training_vectors: np.ndarray, params: dict):
    """An IVF-PQ index (inner product) trained on ``training_vectors`` and holding nothing yet: the shards
    each add their vectors to a copy of it, and the copies are merged (``merge_from``)."""
    # FAISS loads a large native library (~0.5 s here): only building or searching an index pays it
    import faiss

    dim = training_vectors.shape[1]
    quantizer = faiss.IndexFlatIP(dim)
    index = faiss.IndexIVFPQ(quantizer, dim, params["nlist"], params["m"], params["bits"], faiss.METRIC_INNER_PRODUCT)
    index.train(np.ascontiguousarray(training_vectors, dtype=np.float32))
    index.nprobe = params["nprobe"]
    return index


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
