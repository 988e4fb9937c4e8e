"""What the holdout choice maximises: NDCG@10 weighed by catalog coverage, projected past a user sample."""

import pytest

from dummi.ml.tuning import COVERAGE_TARGET, objective, projected_coverage


def _result(ndcg: float, coverage: float, half: float = 0.0) -> dict:
    return {"warm": {"ndcg": ndcg}, "cold": {"ndcg": ndcg / 2}, "all": {"coverage": coverage, "coverage_half": half}}


def test_coverage_below_the_target_counts_against_warm_choices_only():
    assert objective(_result(0.2, COVERAGE_TARGET), "warm") == pytest.approx(0.2)
    assert objective(_result(0.2, 0.5), "warm") == pytest.approx(0.2)  # above the target: NDCG alone
    assert objective(_result(0.2, COVERAGE_TARGET / 2), "warm") == pytest.approx(0.1)
    assert objective(_result(0.2, 0.01), "cold") == pytest.approx(0.1)  # newcomers: NDCG alone


def test_a_samples_coverage_is_projected_to_all_users_as_it_grew_from_half_the_sample():
    assert projected_coverage(0.10, 0.05, 2.0) == pytest.approx(0.20)  # doubled from half: linear
    assert projected_coverage(0.10, 0.10, 2.0) == pytest.approx(0.10)  # nothing new in the second half
    assert projected_coverage(0.10, 0.08, 2.0) == pytest.approx(0.10 * 2**0.321928, rel=1e-4)
    assert projected_coverage(0.60, 0.30, 4.0) == 1.0  # never past the whole catalog
    assert projected_coverage(0.10, 0.05, 1.0) == 0.10  # every user scored: as measured
    # the projection lifts a sample's choice over the target that all users would reach
    sampled = _result(0.2, 0.10, 0.06)
    assert objective(sampled, "warm") < 0.2 * 0.7 and objective(sampled, "warm", scale=2.0) == pytest.approx(0.2)
