"""Logging answers and deleting old ones on a fake repository: the answer goes out even when its log line
cannot be written, and a large backlog is deleted in short transactions."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from dummi.ml.recommender import Recommendation
from dummi.services.impressions_service import RETENTION_BATCH, delete_expired, id_time, log_answer
from tests.unit.service_fakes import fake_work


class FakeImpressions:
    def __init__(self, backlog: int = 0, broken: bool = False) -> None:
        self.logged: list = []
        self.backlog, self.broken = backlog, broken
        self.cutoffs: list[datetime] = []

    def log(self, impression) -> None:
        if self.broken:
            raise OSError("disk full")
        self.logged.append(impression)

    def delete_older_than(self, cutoff: datetime, limit: int) -> int:
        self.cutoffs.append(cutoff)
        deleted = min(self.backlog, limit)
        self.backlog -= deleted
        return deleted


RECS = [
    Recommendation("a", "A", "ml", 0.9, "hybrid", "because"),
    Recommendation("b", "B", "ml", 0.5, "explore", "new", propensity=0.25, explore_context={"slot": 1}),
]


def test_an_answer_is_logged_under_a_time_ordered_id_with_its_items_in_order():
    impressions = FakeImpressions()
    work, _ = fake_work(impressions=impressions)
    before = datetime.now(UTC) - timedelta(seconds=1)
    rid = log_answer(work, RECS, user_id="alice", surface="home", endpoint="/recommendations/", model_version="v1")
    (logged,) = impressions.logged
    assert logged.recommendation_id == rid and before <= id_time(rid) <= datetime.now(UTC)
    assert (logged.item_ids, logged.scores, logged.methods) == (["a", "b"], [0.9, 0.5], ["hybrid", "explore"])
    assert logged.propensities == [None, 0.25] and logged.explore == [{"slot": 1}]
    log_answer(work, RECS[:1], user_id=None, surface="api", endpoint="/popular", model_version=None)
    assert impressions.logged[1].propensities is None and impressions.logged[1].explore is None


def test_an_answer_whose_log_line_cannot_be_written_still_goes_out_unattributable(caplog):
    work, _ = fake_work(impressions=FakeImpressions(broken=True))
    with caplog.at_level(logging.WARNING):
        rid = log_answer(work, RECS, user_id="alice", surface="home", endpoint="/recommendations/", model_version="v1")
    assert rid is None
    assert "ImpressionWriteFailures" in caplog.text  # the count an alarm watches


def test_a_backlog_is_deleted_in_batches_each_its_own_transaction():
    impressions = FakeImpressions(backlog=2 * RETENTION_BATCH + 7)
    work, db = fake_work(impressions=impressions)
    deleted = delete_expired(work, timedelta(days=30))
    assert deleted == 2 * RETENTION_BATCH + 7 and impressions.backlog == 0
    assert db.commits == 3  # two full batches, then a short one ends it
    assert len(set(impressions.cutoffs)) == 1  # one cutoff for the whole run
    age = datetime.now(UTC) - impressions.cutoffs[0]
    assert timedelta(days=30) <= age < timedelta(days=30, minutes=1)
