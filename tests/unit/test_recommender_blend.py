import pytest

from dummi.ml.recommender import effective_cf_weight


@pytest.mark.parametrize("share", [0.5, 0.75, 1.0])
def test_cf_weight_endpoints_mean_content_only_and_cf_only(share):
    assert effective_cf_weight(0.0, share) == 0.0
    assert effective_cf_weight(1.0, share) == pytest.approx(1.0)
    assert effective_cf_weight(0.5, share) == pytest.approx(share)


def test_cf_weight_is_monotonic():
    values = [effective_cf_weight(w / 20, 0.8) for w in range(21)]
    assert values == sorted(values)
