import numpy as np
import pytest
from scipy import sparse

from dummi.ml.cf import make_algorithm


def _two_taste_groups(seed=0):
    """Users 0-19 like items 0-9, users 20-39 like items 10-19, each with a few items held back."""
    rng = np.random.default_rng(seed)
    m = np.zeros((40, 20), np.float32)
    for u in range(40):
        items = np.arange(10) if u < 20 else np.arange(10, 20)
        m[u, rng.choice(items, size=6, replace=False)] = 5.0
    return m


def _score(model, row):
    items = np.flatnonzero(row)
    return model.scores(items, row[items])


@pytest.mark.parametrize("algorithm", ["nmf", "ease"])
def test_each_algorithm_ranks_the_users_own_group_first(algorithm):
    m = _two_taste_groups()
    params = {"n_components": 4} if algorithm == "nmf" else {"l2": 10.0, "neighbours": 8}
    model = make_algorithm(algorithm, **params).fit(sparse.csr_matrix(m))
    for u in (3, 27):
        scores = _score(model, m[u])
        unseen = [i for i in range(20) if m[u, i] == 0]
        top = sorted(unseen, key=lambda i: -scores[i])[:3]
        group = range(10) if u < 20 else range(10, 20)
        assert all(i in group for i in top), (algorithm, u, top)


def test_ease_keeps_the_strongest_neighbours_and_round_trips():
    from dummi.ml.cf import model_from_arrays

    m = _two_taste_groups()
    model = make_algorithm("ease", l2=10.0, neighbours=5).fit(sparse.csr_matrix(m))
    assert model.indices.shape == (20 * 5,)
    again = model_from_arrays("ease", "item_item", model.arrays(), model.params)
    assert np.array_equal(_score(again, m[3]), _score(model, m[3]))


def test_ease_equals_the_closed_form_also_with_items_nobody_engaged_with():
    rng = np.random.default_rng(1)
    m = (rng.random((40, 30)) < 0.2).astype(np.float32)
    m[:, [4, 17]] = 0  # nobody engaged with these: solved without them, zero weights in and out
    g = m.T.astype(np.float64) @ m + 7.0 * np.eye(30)
    p = np.linalg.inv(g)
    expected = -p / np.diag(p)
    np.fill_diagonal(expected, 0.0)
    expected[:, [4, 17]] = expected[[4, 17], :] = 0.0
    model = make_algorithm("ease", l2=7.0).fit(sparse.csr_matrix(m))  # every row whole: a dense model
    dense = np.zeros((30, 30))
    for i in range(30):
        lo, hi = model.indptr[i], model.indptr[i + 1]
        dense[i, model.indices[lo:hi]] = model.data[lo:hi]
    assert np.allclose(dense, expected, atol=1e-5)
    x = m[0]
    assert np.allclose(model.scores(np.flatnonzero(x), x[x > 0]), x @ expected, atol=1e-4)


def test_nmf_fold_in_ranks_the_users_own_group_first():
    m = _two_taste_groups()
    model = make_algorithm("nmf", n_components=4).fit(sparse.csr_matrix(m))
    assert model.item_factors.shape == (20, 4) and model.projection.shape == (20, 4)
    for u in (3, 27):
        scores = _score(model, m[u])
        unseen = [i for i in range(20) if m[u, i] == 0]
        top = sorted(unseen, key=lambda i: -scores[i])[:4]
        group = range(10) if u < 20 else range(10, 20)
        assert all(i in group for i in top), (u, top)


def test_fold_in_of_a_brand_new_user_uses_only_its_row():
    m = _two_taste_groups()
    model = make_algorithm("nmf", n_components=4).fit(sparse.csr_matrix(m))
    newcomer = np.zeros(20, np.float32)
    newcomer[[11, 12]] = 5.0
    scores = _score(model, newcomer)
    assert np.argsort(-scores)[:5].min() >= 10  # items of the second group


def test_nmf_components_are_bounded_by_the_matrix():
    model = make_algorithm("nmf", n_components=50).fit(sparse.csr_matrix(np.eye(3, dtype=np.float32)))
    assert model.params["n_components"] == 3


def test_unknown_algorithm_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown CF algorithm"):
        make_algorithm("magic")


@pytest.mark.parametrize("algorithm", ["itemknn", "ease+itemknn"])
def test_item_models_rank_the_users_own_group_and_round_trip(algorithm):
    from dummi.ml.cf import model_from_arrays

    m = _two_taste_groups()
    model = make_algorithm(algorithm).fit(sparse.csr_matrix(m))
    scores = _score(model, m[3])
    unseen = [i for i in range(20) if m[3, i] == 0]
    assert all(i < 10 for i in sorted(unseen, key=lambda i: -scores[i])[:3])
    again = model_from_arrays(model.algorithm, model.kind, model.arrays(), model.params)
    assert np.allclose(_score(again, m[3]), scores)
