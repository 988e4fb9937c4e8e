import io

import numpy as np
import pytest

from dummi.ml.vector_index import (
    EXACT_MAX_ITEMS,
    VectorIndex,
    build_index,
    choose_kind,
    from_npy,
    recall_at_k,
    to_npy,
)


def _clustered(n, dim=384, clusters=20, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((clusters, dim))
    x = centers[rng.integers(0, clusters, n)] + 0.3 * rng.standard_normal((n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_flat_index_returns_ids_by_cosine():
    vectors = _clustered(200)
    ids = [f"c{i}" for i in range(200)]
    index = build_index(ids, vectors)
    assert index.kind == "flat"
    scores, positions = index.search(vectors[17], 3)
    assert index.ids[positions[0][0]] == "c17"
    assert scores[0][0] == pytest.approx(1.0, abs=1e-5)
    assert np.allclose(index.stored_vectors(), vectors)


def test_choose_kind_switches_to_hnsw_for_large_catalogs():
    assert choose_kind(EXACT_MAX_ITEMS) == "flat"
    assert choose_kind(EXACT_MAX_ITEMS + 1) == "hnsw"
    assert choose_kind(10_000_000) == "hnsw"


def test_hnsw_recall_against_exact_and_round_trip():
    vectors = _clustered(3000)
    ids = [f"c{i}" for i in range(3000)]
    exact, approx = build_index(ids, vectors, kind="flat"), build_index(ids, vectors, kind="hnsw")
    queries = vectors[:200]
    assert recall_at_k(exact, approx, queries, 10) >= 0.95
    assert np.allclose(approx.stored_vectors(), vectors)
    again = VectorIndex.deserialize(approx.serialize(), ids, "hnsw")
    assert again.size == 3000 and again.index.hnsw.efSearch == approx.index.hnsw.efSearch
    assert np.array_equal(again.search(queries, 5)[1], approx.search(queries, 5)[1])


def test_search_on_an_empty_index():
    index = build_index([], np.empty((0, 384), np.float32))
    scores, positions = index.search(np.ones(384, np.float32), 10)
    assert positions.shape == (1, 0)


@pytest.mark.parametrize(
    "array",
    [
        np.arange(12, dtype=np.float32).reshape(3, 4),
        np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        np.zeros(0, np.int32),
        np.array(7, np.int64),
    ],
)
def test_npy_files_load_as_views_of_the_bytes(array):
    blob = to_npy(array)
    loaded = from_npy(blob)
    assert loaded.dtype == array.dtype and loaded.shape == array.shape
    np.testing.assert_array_equal(loaded, array)
    assert not loaded.flags.writeable  # a view of the downloaded bytes, not a copy


def test_npy_files_with_objects_are_refused():
    blob = io.BytesIO()
    np.save(blob, np.array(["a", None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="object arrays"):
        from_npy(blob.getvalue())
