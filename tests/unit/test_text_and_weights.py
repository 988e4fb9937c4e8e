from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dummi.domain.events import Event
from dummi.ml.embeddings import from_bytes, to_bytes
from dummi.ml.interactions import MAX_PAIR_WEIGHT, build_matrix, event_weight, popularity
from dummi.ml.text import content_text, interests_text, text_hash

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_content_text_joins_title_category_tags_description():
    text = content_text("ML for Beginners", "machine-learning", ["tutorial", "python"], "")
    assert text == "ML for Beginners. machine-learning. tutorial, python"
    assert interests_text(["machine-learning", "web_dev"]) == "machine learning, web dev"


def test_text_hash_changes_with_the_text_only():
    assert text_hash("a") == text_hash("a") != text_hash("b")


def test_vector_bytes_round_trip():
    v = np.random.default_rng(0).standard_normal(384).astype(np.float32)
    blob = to_bytes(v)
    assert len(blob) == 1536
    assert np.array_equal(from_bytes(blob), v)


@pytest.mark.parametrize(
    ("kind", "event_type", "duration", "expected"),
    [
        ("interaction", "like", None, 5.0),
        ("interaction", "click", None, 2.0),
        ("interaction", "skip", None, -1.0),
        ("interaction", "view_time", None, 1.0),
        ("interaction", "view_time", 120, 1.0),
        ("interaction", "view_time", 12, 0.1),
        ("interaction", "view_time", 36000, 3.0),
        ("feedback", "positive", None, 5.0),
        ("feedback", "negative", None, -1.0),
        ("feedback", "neutral", None, 0.0),
    ],
)
def test_event_weights_follow_the_seed(kind, event_type, duration, expected):
    assert event_weight(kind, event_type, duration) == pytest.approx(expected)


def _e(user, item, event_type, kind="interaction", duration=None, days=0):
    return Event(user, item, kind, event_type, duration, T0 + timedelta(days=days))


def test_matrix_caps_repeats_clips_negatives_and_reports_them():
    events = [
        *[_e("u1", "a", "like") for _ in range(5)],  # 25 -> capped
        _e("u1", "b", "skip"),  # negative alone: empty cell, reported
        _e("u2", "b", "like"),
        _e("u2", "b", "skip"),  # like then skip: 4
        _e("u2", "zz", "like"),  # unknown item: ignored
    ]
    m = build_matrix(events, ["a", "b", "c"])
    dense = m.matrix.toarray()
    assert list(m.user_ids) == ["u1", "u2"]
    assert dense.tolist() == [[MAX_PAIR_WEIGHT, 0, 0], [0, 4, 0]]
    assert m.negatives == {(0, 1)}


def test_popularity_decays_with_age_and_ignores_negative_events():
    events = [_e("u1", "old", "like", days=0), _e("u2", "new", "like", days=60), _e("u3", "skipped", "skip", days=60)]
    pop = popularity(events, ["old", "new", "skipped"], half_life_days=30)
    assert pop.tolist() == pytest.approx([0.25, 1.0, 0.0])
