"""The publish gate: which model a run leaves serving, and why."""

import pytest

from dummi.ml.publish_gate import NEW_ITEMS_SHARE, NOISE_UNITS, Serving, decide, recipe

ITEMS = [f"i{k}" for k in range(100)]
SERVING = Serving("v1", ({"algorithm": "ease", "l2": 250.0}, {}), frozenset(ITEMS))


def test_a_new_model_worse_beyond_the_holdouts_noise_is_kept_back():
    kept = decide(force=False, serving=SERVING, item_ids=ITEMS, new_score=0.18, serving_score=0.20, noise=0.005)
    assert kept["action"] == "kept" and (kept["new_ndcg"], kept["serving_ndcg"]) == (0.18, 0.20)
    assert kept["serving_version"] == "v1" and "0.1800" in kept["reason"] and "0.2000" in kept["reason"]
    assert kept["noise"] == 0.005 and "0.0050" in kept["reason"]
    # the same 0.02 loss is within the noise of a noisier holdout: published
    within = 0.02 / NOISE_UNITS + 1e-9
    noisy = decide(force=False, serving=SERVING, item_ids=ITEMS, new_score=0.18, serving_score=0.20, noise=within)
    assert noisy["action"] == "published" and "noise" in noisy["reason"]
    # without a noise estimate there is nothing to hold a model back with
    unmeasured = decide(force=False, serving=SERVING, item_ids=ITEMS, new_score=0.18, serving_score=0.20)
    assert unmeasured["action"] == "published" and unmeasured["reason"] == "no holdout score to compare"


def test_forced_first_or_moved_on_catalogs_publish_anyway():
    worse = {"new_score": 0.1, "serving_score": 0.2, "noise": 0.01}
    assert decide(force=True, serving=SERVING, item_ids=ITEMS, **worse)["reason"] == "forced"
    assert decide(force=False, serving=None, item_ids=ITEMS, **worse)["reason"] == "no model was serving"
    grown = ITEMS + [f"new{k}" for k in range(round(len(ITEMS) * NEW_ITEMS_SHARE * 1.2))]  # 12 of 112 new
    moved = decide(force=False, serving=SERVING, item_ids=grown, **worse)
    assert moved["action"] == "published" and "new to the serving model" in moved["reason"]
    few = ITEMS + ["new0"]
    assert decide(force=False, serving=SERVING, item_ids=few, **worse)["action"] == "kept"
    unscored = decide(force=False, serving=SERVING, item_ids=ITEMS, new_score=0.1, serving_score=None)
    assert unscored["action"] == "published"


@pytest.mark.parametrize(
    ("cf", "config"),
    [
        ({"algorithm": "ease", "params": {"l2": 500.0}}, {"algorithm": "ease", "l2": 500.0}),
        ({"algorithm": "itemknn", "params": {}}, {"algorithm": "itemknn"}),
        (
            {"algorithm": "ease+itemknn", "params": {"weight": 2.5, "first": {"params": {"l2": 250.0}}}},
            {"algorithm": "ease+itemknn", "l2": 250.0, "weight": 2.5},
        ),
        ({"algorithm": "nmf", "params": {"n_components": 50}}, {"algorithm": "nmf", "n_components": 50}),
    ],
)
def test_the_recipe_of_a_published_model(cf, config):
    assert recipe({"cf": cf, "settings": {"cf_share": 0.8}}) == (config, {"cf_share": 0.8})


def test_no_recipe_without_cf():
    assert recipe({"cf": None}) is None
    assert recipe({"cf": {"algorithm": "someday", "params": {}}}) is None


def test_a_run_that_would_keep_the_serving_model_publishes_when_an_experiment_needs_an_algorithm():
    serving = Serving("v1", None, frozenset({"a"}), frozenset({"ease"}))
    kept = decide(force=False, serving=serving, item_ids=["a"], new_score=0.1, serving_score=0.2, noise=0.01)
    assert kept["action"] == "kept"
    needed = decide(
        force=False,
        serving=serving,
        item_ids=["a"],
        new_score=0.1,
        serving_score=0.2,
        noise=0.01,
        wanted_algorithms=frozenset({"nmf"}),
    )
    assert needed["action"] == "published" and "nmf" in needed["reason"]
