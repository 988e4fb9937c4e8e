"""GET /recommendations/trending on a real Postgres, through the recommendations function's handler: a burst on
an old item tops the list while the all-time favourite does not; one click is no trend; hidden items and other
categories stay out; the hourly rollup holds the closed hours, and counts again the hours events were
written into late."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import load_event, load_function_module


def _get(path: str, lambda_context) -> tuple[int, dict]:
    event = copy.deepcopy(load_event("meta_health"))
    path, _, query = path.partition("?")
    event.update(routeKey=f"GET {path}", rawPath=path, rawQueryString=query)
    event["requestContext"]["http"].update(method="GET", path=path)
    response = load_function_module("functions/recommendations").handler(event, lambda_context)
    return response["statusCode"], json.loads(response["body"])


def _events(db, content_id: str, count: int, *, minutes_ago: float, every_minutes: float, kind: str = "click"):
    """``count`` events on the item, the newest ``minutes_ago`` minutes ago and one every ``every_minutes``
    before it (written with their times, as an import would)."""
    db.autocommit(
        lambda conn: conn.run(
            "INSERT INTO interactions (user_id, content_id, kind, event_type, created_at)"
            " SELECT 'reader', :cid, 'interaction', :kind,"
            "        now() - (CAST(:ago AS float8) + g * CAST(:every AS float8)) * interval '1 minute'"
            " FROM generate_series(0, :n - 1) g",
            cid=content_id,
            kind=kind,
            ago=minutes_ago,
            every=every_minutes,
            n=count,
        )
    )


@pytest.fixture
def shelf(client, db, monkeypatch):
    monkeypatch.setenv("DUMMI_EMBEDDING_MODE", "inline")
    monkeypatch.setenv("DUMMI_MODEL_CHECK_SECONDS", "0")
    from tests.conftest import _clear_caches

    _clear_caches()
    items = [
        ("favourite", "Everyone's favourite novel", "books"),
        ("old", "A forgotten classic", "books"),
        ("once", "A quiet debut", "books"),
        ("secret", "A withdrawn memoir", "books"),
        ("gadget", "A pocket radio", "electronics"),
    ]
    for cid, title, category in items:
        assert (
            client.post("/content/", json={"content_id": cid, "title": title, "category": category}).status_code == 201
        )
    assert client.post("/users/", json={"user_id": "reader", "interests": [], "skill_level": "beginner"}).status_code
    day = 24 * 60
    # the favourite: 30 events a day all week, 20 in the last day (the most engaged item by far, not rising)
    _events(db, "favourite", 20, minutes_ago=5, every_minutes=day / 20)
    _events(db, "favourite", 7 * 30, minutes_ago=day + 10, every_minutes=day / 30)
    # the old item: two events six days ago, then fifteen in the last hour
    _events(db, "old", 2, minutes_ago=6 * day, every_minutes=60)
    _events(db, "old", 15, minutes_ago=1, every_minutes=2)
    _events(db, "once", 1, minutes_ago=3, every_minutes=1)  # one click on a cold item
    _events(db, "secret", 12, minutes_ago=2, every_minutes=3)
    _events(db, "gadget", 8, minutes_ago=4, every_minutes=5)
    _events(db, "gadget", 5, minutes_ago=20, every_minutes=1, kind="skip")  # skips are no engagement


def test_a_burst_on_an_old_item_tops_trending_and_the_favourite_does_not(shelf, client, db, lambda_context):
    assert client.patch("/content/secret", json={"hidden": True}).status_code == 200
    status, body = _get("/recommendations/trending", lambda_context)
    assert status == 200, body
    listed = [r["content_id"] for r in body["recommendations"]]
    assert listed[0] == "old", listed
    assert "favourite" not in listed and "once" not in listed and "secret" not in listed
    assert set(listed) == {"old", "gadget"}
    first = body["recommendations"][0]
    assert first["method"] == "trending" and 0 < first["score"] < 1 and "15 events in 24h" in first["reason"]
    assert body["recommendation_id"]  # logged as the other lists are

    status, body = _get("/recommendations/trending?category=electronics&window=2h&n=5", lambda_context)
    assert status == 200 and [r["content_id"] for r in body["recommendations"]] == ["gadget"]

    # the closed hours went into the rollup (the metrics job keeps it; a late one is caught up here)
    hours = db.read(lambda c: c.run("SELECT count(*), sum(events) FROM item_hourly_engagement")[0])
    assert hours[0] > 0 and hours[1] >= 7 * 30


@pytest.mark.parametrize("window", ["0h", "49h", "24", "1d"])
def test_a_window_out_of_bounds_is_refused(db, lambda_context, window):
    status, body = _get(f"/recommendations/trending?window={window}", lambda_context)
    assert status == 422, body


def test_the_metrics_job_keeps_the_hourly_rollup(shelf, db):
    from dummi.services import online_metrics_service, trending_service

    done = online_metrics_service.run(db)
    assert done["trending_rollup"] > 0  # the closed hours of the last nine days, once
    rows = db.read(lambda c: c.run("SELECT content_id, sum(events) FROM item_hourly_engagement GROUP BY 1"))
    counted = {cid: int(n) for cid, n in rows}
    assert counted["favourite"] >= 7 * 30
    assert counted.get("gadget", 0) <= 8  # its clicks of a closed hour, never its skips
    assert trending_service.roll_up(db) == 0  # up to this hour already: nothing to do


def _rolled(db, content_id: str) -> dict:
    rows = db.read(
        lambda c: c.run("SELECT hour, events FROM item_hourly_engagement WHERE content_id = :id", id=content_id)
    )
    return dict(rows)


def _late_marks(db) -> list:
    return [r[0] for r in db.read(lambda c: c.run("SELECT hour FROM item_hourly_engagement_stale ORDER BY 1"))]


def test_events_written_into_counted_hours_are_counted_again_by_the_next_rollup(shelf, db, tmp_path):
    from dummi.services import trending_service
    from dummi.services.import_service import import_directory
    from dummi.services.personalize.event_types import EventTypeTable
    from dummi.services.personalize.events import EventIn, put_events

    assert trending_service.roll_up(db) > 0  # the watermark is at this hour: every closed hour is counted
    assert _late_marks(db) == []
    three_days = datetime.now(UTC).replace(minute=10, second=0, microsecond=0) - timedelta(days=3)
    hour = three_days.replace(minute=0)
    assert _rolled(db, "once").get(hour) is None

    # an import with old timestamps marks the hour it wrote into
    lines = [
        {"user_id": "reader", "content_id": "once", "interaction_type": "click", "timestamp": at.isoformat()}
        for at in (three_days, three_days + timedelta(minutes=5), three_days + timedelta(minutes=9))
    ]
    (tmp_path / "interactions.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    import_directory(db, tmp_path)
    assert _late_marks(db) == [hour]
    # a Personalize client that buffered its events: two more in that hour and one a day later, sent now
    sent = [three_days + timedelta(minutes=20), three_days + timedelta(minutes=30), three_days + timedelta(days=1)]
    put_events(
        db,
        EventTypeTable.parse(""),
        user_id="reader",
        session_id="s-late",
        events=[EventIn("click", "once", at) for at in sent],
    )
    assert _late_marks(db) == [hour + timedelta(hours=k) for k in range(25)]  # every hour in the batch's span

    # the next rollup (the watermark has not moved) counts the marked hours again, and takes the marks
    assert trending_service.roll_up(db) > 0
    assert _rolled(db, "once") == {hour: 5, hour + timedelta(days=1): 1} and _late_marks(db) == []
    assert trending_service.roll_up(db) == 0  # nothing late is left

    # an event within the hour before the watermark needs no mark: the next rollup counts that hour again
    put_events(
        db,
        EventTypeTable.parse(""),
        user_id="reader",
        session_id="s-late",
        events=[EventIn("click", "once", datetime.now(UTC) - timedelta(minutes=20))],
    )
    assert _late_marks(db) == []


def test_a_rollup_taking_a_mark_waits_for_the_late_events_being_written_under_it(shelf, db):
    """A writer marks an hour already marked while a rollup is about to take that mark: the rollup waits for
    the writer's commit and counts its event (had the mark been left alone, the rollup would take it at once
    and count the hour without the event, which then no mark would recall)."""
    import threading

    from dummi.db.trending_repository import TrendingRepository
    from dummi.services import trending_service

    trending_service.roll_up(db)
    at = datetime.now(UTC).replace(minute=15, second=0, microsecond=0) - timedelta(days=2)
    hour = at.replace(minute=0)
    db.autocommit(lambda conn: TrendingRepository(conn).mark_late(at, at))  # an earlier writer's mark
    done = []
    with db.transaction() as conn:  # the writer: its event and its mark, not committed yet
        conn.run(
            "INSERT INTO interactions (user_id, content_id, kind, event_type, created_at)"
            " VALUES ('reader', 'once', 'interaction', 'click', :at)",
            at=at,
        )
        TrendingRepository(conn).mark_late(at, at)
        rollup = threading.Thread(target=lambda: done.append(trending_service.roll_up(db)))
        rollup.start()
        rollup.join(timeout=1.0)
        assert rollup.is_alive() and not done  # the rollup waits on the writer's mark
    rollup.join(timeout=30)
    assert done and done[0] > 0
    assert _rolled(db, "once").get(hour) == 1 and _late_marks(db) == []
