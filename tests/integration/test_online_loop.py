"""The online loop over HTTP on a real Postgres with real embeddings: every answer is logged under a
time-ordered id; interactions are attributed (explicit id, window, none, 409/404); retention deletes old
answers in batches; experiments assign users stably, ramp without moving anyone, stop, and report results."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from dummi.db.impressions_repository import Impression, ImpressionsRepository
from dummi.services import impressions_service
from dummi.services.impressions_service import delete_expired, id_time, new_recommendation_id

TITLES = [
    ("garden", "Growing tomatoes in containers"),
    ("garden", "Composting kitchen scraps for the garden"),
    ("garden", "Pruning roses in early spring"),
    ("garden", "Planting a vegetable garden bed"),
    ("food", "Baking sourdough bread at home"),
    ("food", "Quick weeknight pasta recipes"),
    ("food", "Slow cooker chicken stew recipe"),
    ("food", "Knife skills for home cooks"),
]


@pytest.fixture
def shop(client, db, monkeypatch):
    monkeypatch.setenv("DUMMI_EMBEDDING_MODE", "inline")
    monkeypatch.setenv("DUMMI_MODEL_CHECK_SECONDS", "0")  # experiments and fresh items are re-read at once
    from tests.conftest import _clear_caches

    _clear_caches()
    for i, (category, title) in enumerate(TITLES):
        assert client.post("/content/", json={"content_id": f"c{i}", "title": title, "category": category}).status_code
    for user in ("ann", "bob"):
        assert client.post("/users/", json={"user_id": user, "interests": ["gardening"]}).status_code == 201
    return client


def _recommend(client, user_id, **options):
    response = client.post("/recommendations/", json={"user_id": user_id, "n_recommendations": 4, **options})
    assert response.status_code == 200, response.text
    return response.json()


def _interact(client, user_id, content_id, status=201, **fields):
    body = {"user_id": user_id, "content_id": content_id, "interaction_type": "click", **fields}
    response = client.post("/recommendations/interact", json=body)
    assert response.status_code == status, response.text
    return response.json()


def _logged(db, recommendation_id) -> Impression:
    found = db.read(lambda conn: ImpressionsRepository(conn).get(recommendation_id))
    assert found is not None
    return found


def test_every_answer_is_logged_with_its_items_positions_scores_and_methods(shop, db):
    answer = _recommend(shop, "ann", surface="home")
    rid = answer["recommendation_id"]
    assert uuid.UUID(rid).version == 7
    assert abs((id_time(rid) - datetime.now(UTC)).total_seconds()) < 60
    assert answer["experiment"] is None and answer["variant"] is None
    logged = _logged(db, rid)
    assert (logged.user_id, logged.surface, logged.endpoint) == ("ann", "home", "recommend")
    assert logged.model_version == answer["model_version"]
    assert logged.item_ids == [r["content_id"] for r in answer["recommendations"]]
    assert logged.methods == [r["method"] for r in answer["recommendations"]]
    assert logged.scores == pytest.approx([r["score"] for r in answer["recommendations"]], rel=1e-5)
    # ids sort by time
    later = _recommend(shop, "ann")["recommendation_id"]
    assert later > rid and _logged(db, later).surface == "api"

    popular = shop.get("/recommendations/popular?n=3&user_id=bob&surface=sidebar").json()
    logged = _logged(db, popular["recommendation_id"])
    assert (logged.user_id, logged.surface, logged.endpoint) == ("bob", "sidebar", "popular")
    similar = shop.get("/content/c0/similar?n=2").json()
    logged = _logged(db, similar["recommendation_id"])
    assert (logged.user_id, logged.endpoint, len(logged.item_ids)) == (None, "similar", 2)
    assert shop.get("/recommendations/popular?surface=no%20spaces").status_code == 422
    assert shop.post("/recommendations/", json={"user_id": "ann", "surface": ""}).status_code == 422


def test_interactions_are_attributed_by_id_by_window_or_not_at_all(shop, db, monkeypatch):
    answer = _recommend(shop, "ann")
    rid = answer["recommendation_id"]
    listed = [r["content_id"] for r in answer["recommendations"]]
    unlisted = next(f"c{i}" for i in range(len(TITLES)) if f"c{i}" not in listed)

    explicit = _interact(shop, "ann", listed[2], recommendation_id=rid)
    assert (explicit["recommendation_id"], explicit["position"], explicit["attribution"]) == (rid, 3, "explicit")
    # no id: the latest answer to this user that listed the item, within the window
    window = _interact(shop, "ann", listed[0], interaction_type="like")
    assert (window["recommendation_id"], window["position"], window["attribution"]) == (rid, 1, "window")
    feedback = shop.post(
        "/recommendations/feedback", json={"user_id": "ann", "content_id": listed[1], "feedback_type": "positive"}
    )
    assert feedback.status_code == 201 and feedback.json()["position"] == 2
    # an item no answer listed: stored, unattributed
    plain = _interact(shop, "ann", unlisted)
    assert (plain["recommendation_id"], plain["position"], plain["attribution"]) == (None, None, None)
    # another user's interaction is not attributed to ann's answer by the window
    assert _interact(shop, "bob", listed[3])["recommendation_id"] is None

    # an answer that did not list the item, or went to another user: 409 naming the field; nothing stored
    before = db.read(lambda conn: conn.run("SELECT count(*) FROM interactions"))[0][0]
    wrong = _interact(shop, "ann", unlisted, status=409, recommendation_id=rid)
    assert wrong["field"] == "recommendation_id" and "did not list" in wrong["detail"]
    assert _interact(shop, "bob", listed[0], status=409, recommendation_id=rid)["field"] == "recommendation_id"
    # an id never logged: 404; an id older than the retention period: kept, unattributed
    unknown = _interact(shop, "ann", listed[0], status=404, recommendation_id=new_recommendation_id())
    assert unknown["field"] == "recommendation_id"
    ancient = new_recommendation_id(now=(datetime.now(UTC) - timedelta(days=400)).timestamp())
    assert _interact(shop, "ann", listed[0], recommendation_id=ancient)["recommendation_id"] is None
    assert (
        shop.post(
            "/recommendations/interact",
            json={"user_id": "ann", "content_id": listed[0], "interaction_type": "click", "recommendation_id": "nope"},
        ).status_code
        == 422
    )
    assert db.read(lambda conn: conn.run("SELECT count(*) FROM interactions"))[0][0] == before + 1

    # outside the window: unattributed
    monkeypatch.setenv("DUMMI_ATTRIBUTION_WINDOW_MINUTES", "0")
    from dummi.config import get_settings

    get_settings.cache_clear()
    assert _interact(shop, "ann", listed[3])["attribution"] is None


def test_a_retried_event_keeps_its_first_attribution(shop):
    answer = _recommend(shop, "ann")
    rid, item = answer["recommendation_id"], answer["recommendations"][0]["content_id"]
    first = _interact(shop, "ann", item, event_id="evt-1", recommendation_id=rid)
    again = _interact(shop, "ann", item, event_id="evt-1")
    assert again["interaction_id"] == first["interaction_id"] and again["recommendation_id"] == rid


def test_retention_deletes_old_answers_in_batches(db, monkeypatch):
    monkeypatch.setattr(impressions_service, "RETENTION_BATCH", 3)
    now = datetime.now(UTC)

    def log(age_days):
        rid = new_recommendation_id(now=(now - timedelta(days=age_days)).timestamp())
        db.autocommit(
            lambda conn: ImpressionsRepository(conn).log(
                Impression(
                    rid,
                    "u",
                    "api",
                    "recommend",
                    None,
                    None,
                    None,
                    now - timedelta(days=age_days),
                    ["a"],
                    [1.0],
                    ["popular"],
                )
            )
        )
        return rid

    old = [log(100 + i) for i in range(7)]
    young = [log(1), log(89)]
    assert delete_expired(db, timedelta(days=90)) == 7
    assert all(db.read(lambda conn, r=r: ImpressionsRepository(conn).get(r)) is None for r in old)
    assert all(db.read(lambda conn, r=r: ImpressionsRepository(conn).get(r)) is not None for r in young)


def test_an_answer_goes_out_when_its_log_cannot_be_written(shop, monkeypatch, caplog):
    def broken(self, impression):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ImpressionsRepository, "log", broken)
    answer = _recommend(shop, "ann")
    assert answer["recommendation_id"] is None and answer["recommendations"]
    assert any("ImpressionWriteFailures" in r.getMessage() for r in caplog.records)


# -- experiments -------------------------------------------------------------------------------------
def _experiment(client, name="ranking", status=201, **fields):
    body = {
        "name": name,
        "variants": [{"name": "control"}, {"name": "content-only", "overrides": {"cf_weight": 0.0}}],
        **fields,
    }
    response = client.post("/experiments", json=body)
    assert response.status_code == status, response.text
    return response.json()


def test_experiments_are_created_listed_read_and_checked(shop):
    created = _experiment(shop, traffic_percent=50)
    assert created["status"] == "running" and created["traffic_percent"] == 50
    assert [v["name"] for v in created["variants"]] == ["control", "content-only"]
    assert shop.get("/experiments/ranking").json()["variants"][1]["overrides"] == {"cf_weight": 0.0}
    assert [e["name"] for e in shop.get("/experiments").json()] == ["ranking"]
    assert _experiment(shop, status=409)["field"] == "name"
    for overrides, at in [
        ({"colour": 1}, "colour"),
        ({"algorithm": "x"}, "algorithm"),
        ({"cf_weight": 2}, "cf_weight"),
    ]:
        bad = _experiment(shop, "bad", status=422, variants=[{"name": "a"}, {"name": "b", "overrides": overrides}])
        assert [e["loc"][1:5] for e in bad["detail"]] == [["variants", 1, "overrides", at]]
    for changes, loc in [
        ({"variants": [{"name": "a"}, {"name": "a"}]}, ["body", "variants"]),  # a rule across fields: its field
        ({"variants": [{"name": "a"}]}, ["body", "variants"]),
        ({"traffic_percent": 0}, ["body", "traffic_percent"]),
        ({"starts_at": "2030-01-01T00:00:00"}, ["body", "starts_at"]),  # no time zone
        ({"starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"}, ["body", "ends_at"]),
    ]:
        bad = _experiment(shop, "bad", status=422, **changes)
        assert bad["detail"][0]["loc"] == loc, (changes, bad)
    later = _experiment(shop, "later", starts_at="2099-01-01T00:00:00Z")
    assert later["status"] == "scheduled"
    assert shop.get("/experiments/nope").status_code == 404
    assert shop.post("/experiments/nope/stop").status_code == 404


def test_users_keep_their_variant_and_a_ramp_up_moves_nobody(shop, db):
    for i in range(40):
        shop.post("/users/", json={"user_id": f"u{i}", "interests": ["cooking"]})
    users = [f"u{i}" for i in range(40)]
    _experiment(shop, traffic_percent=30)
    first = {u: _recommend(shop, u)["variant"] for u in users}
    assert set(first.values()) == {None, "control", "content-only"}
    assert {u: _recommend(shop, u)["variant"] for u in users} == first  # stable across calls
    answer = next(_recommend(shop, u) for u in users if first[u] == "content-only")
    logged = _logged(db, answer["recommendation_id"])
    assert (logged.experiment, logged.variant) == ("ranking", "content-only")

    ramped = shop.post("/experiments/ranking/traffic", json={"traffic_percent": 100})
    assert ramped.status_code == 200 and ramped.json()["traffic_percent"] == 100
    after = {u: _recommend(shop, u)["variant"] for u in users}
    assert all(after[u] == first[u] for u in users if first[u] is not None)
    assert None not in after.values()

    stopped = shop.post("/experiments/ranking/stop").json()
    assert stopped["status"] == "stopped" and stopped["stopped_at"]
    assert {_recommend(shop, u)["variant"] for u in users} == {None}
    # the traffic it ran with is part of its record
    refused = shop.post("/experiments/ranking/traffic", json={"traffic_percent": 50})
    assert refused.status_code == 409 and "stopped" in refused.json()["detail"]
    assert shop.get("/experiments/ranking").json()["traffic_percent"] == 100


def test_a_user_in_a_running_experiment_stays_when_one_created_earlier_starts(db):
    """Precedence is by when an experiment takes users: one created first but scheduled later, or one created
    later with a start in the past, does not take the users of one running before it (they were moved
    mid-experiment, spoiling both)."""
    from datetime import UTC, datetime, timedelta

    from dummi.experiments.assignment import assign
    from dummi.services import experiments_service
    from dummi.services.unit_of_work import work_of

    now = datetime.now(UTC)
    variants = [{"name": "a"}, {"name": "b", "overrides": {"cf_weight": 0.0}}]
    experiments_service.create(db, "sched", variants, 100.0, now + timedelta(hours=1), None)
    experiments_service.create(db, "past", variants, 100.0, now - timedelta(days=30), None)
    live = work_of(db).read(lambda repos: repos.experiments.live())
    assert [e.name for e in live] == ["past", "sched"]
    later = now + timedelta(hours=2)  # both running, every user in both traffics
    assert {assign(live, f"u{i}", later).experiment for i in range(20)} == {"past"}
    # one created now, backdated further still, takes no one from "past", which has taken users since its creation
    experiments_service.create(db, "backdated", variants, 100.0, now - timedelta(days=60), None)
    live = work_of(db).read(lambda repos: repos.experiments.live())
    assert [e.name for e in live] == ["past", "backdated", "sched"]


def test_results_count_users_impressions_and_attributed_clicks_per_variant(shop):
    # a shop's own types: a purchase is a click on what was shown (as in the online metrics), a return is not
    assert shop.put("/event-types/purchase", json={"weight": 8.0}).status_code == 201
    assert shop.put("/event-types/return", json={"weight": -4.0}).status_code == 201
    for i in range(30):
        shop.post("/users/", json={"user_id": f"u{i}", "interests": ["cooking"]})
    _experiment(shop)
    clicked = {"control": 0, "content-only": 0}
    shown = {"control": 0, "content-only": 0}
    for i in range(30):
        answer = _recommend(shop, f"u{i}")
        shown[answer["variant"]] += len(answer["recommendations"])
        item = answer["recommendations"][0]["content_id"]
        if i % 3 == 0:  # every third user clicks (or buys) their first item (twice: counted once)
            kind = "purchase" if i % 2 else "click"
            _interact(shop, f"u{i}", item, recommendation_id=answer["recommendation_id"], interaction_type=kind)
            _interact(shop, f"u{i}", item, interaction_type=kind)
            clicked[answer["variant"]] += 1
        elif i % 3 == 1:
            _interact(shop, f"u{i}", item, recommendation_id=answer["recommendation_id"], interaction_type="return")
    results = shop.get("/experiments/ranking/results").json()
    assert results["control"] == "control"
    by_name = {v["name"]: v for v in results["variants"]}
    for name in ("control", "content-only"):
        v = by_name[name]
        assert (v["impressions"], v["clicks"]) == (shown[name], clicked[name])
        assert v["ctr"] == pytest.approx(clicked[name] / shown[name], abs=1e-6)
        assert v["ctr_interval"]["low"] <= v["ctr"] <= v["ctr_interval"]["high"]
        assert v["expected_share"] == 0.5
    assert sum(v["users"] for v in by_name.values()) == 30
    assert by_name["control"]["lift"] is None and not by_name["control"]["significant"]
    assert set(results["sample_ratio"]) == {"chi_square", "p_value", "mismatch"}
    # 30 users, a click from every third: no lift is significant and the split is as configured
    assert results["sample_ratio"]["mismatch"] is False
    assert results["decision"] == "no difference shown yet (keep it running or stop it)"


# -- online metrics ----------------------------------------------------------------------------------
def _stored(db):
    return db.read(
        lambda conn: conn.run(
            "SELECT day, surface, experiment, variant, method, model_version, lists, impressions, users, clicks,"
            " likes, user_ctr_sum, items_shown, diversity_sum, spread_sum, novelty_sum, young_impressions,"
            " by_position::text FROM online_metrics ORDER BY 1, 2, 3, 4, 5, 6"
        )
    )


def test_the_metrics_job_is_idempotent_and_the_api_answers_its_figures(shop, db):
    from dummi.services import online_metrics_service

    shown = clicks = 0
    distinct = set()
    for user, surface in (("ann", "home"), ("bob", "home"), ("ann", "email")):
        answer = _recommend(shop, user, surface=surface)
        if surface == "home":
            shown += len(answer["recommendations"])
            distinct |= {r["content_id"] for r in answer["recommendations"]}
        if user == "ann" and surface == "home":
            _interact(
                shop, user, answer["recommendations"][1]["content_id"], recommendation_id=answer["recommendation_id"]
            )
            clicks += 1
    done = online_metrics_service.run(db)
    assert done["rows"] > 0 and done["impressions_deleted"] == 0
    first = _stored(db)
    assert online_metrics_service.run(db)["rows"] == done["rows"] and _stored(db) == first  # idempotent

    answer = shop.get("/metrics/online", params={"group_by": "surface"}).json()
    assert answer["group_by"] == ["surface"]
    home = next(r for r in answer["rows"] if r["surface"] == "home")
    assert (home["lists"], home["impressions"], home["users"], home["clicks"]) == (2, shown, 2, clicks)
    assert home["ctr"] == pytest.approx(clicks / shown, abs=1e-6)
    assert home["ctr_by_position"]["2"] == pytest.approx(0.5) and home["ctr_by_position"]["1"] == 0.0
    assert home["coverage"] == pytest.approx(len(distinct) / len(TITLES))
    assert 0 < home["intra_list_diversity"] <= 2 and 0 < home["category_spread"] <= 1
    assert home["young_share"] == 1.0  # the whole catalog was created just now
    by_method = shop.get("/metrics/online", params={"group_by": "day,method"}).json()["rows"]
    assert {r["method"] for r in by_method} >= {"*"} and sum(
        r["impressions"] for r in by_method if r["method"] != "*"
    ) == sum(r["impressions"] for r in by_method if r["method"] == "*")
    assert shop.get("/metrics/online", params={"group_by": "user_id"}).status_code == 422
    assert shop.get("/metrics/online", params={"from": "2026-02-02", "to": "2026-02-01"}).json()["rows"] == []
    assert shop.get("/metrics/online", params={"from": "yesterday"}).status_code == 422


def test_users_and_coverage_are_distinct_across_models_experiments_and_surfaces(shop, db):
    """A user served by two model versions in one day (a retrain), in and out of an experiment and on two
    surfaces is one user; the items shown across those rows are one set. Both were added up across the stored
    rows (the console showed more users and less coverage on every day with a retrain or an experiment)."""
    from dummi.domain.ranking import Recommendation
    from dummi.services import online_metrics_service
    from dummi.services.impressions_service import log_answer

    def shown(*ids):
        return [Recommendation(cid, "t", "c", 0.5, "cf", "") for cid in ids]

    ids = [f"c{i}" for i in range(4)]
    for model, experiment, surface, items in (
        ("v1", None, "home", ids[:2]),
        ("v2", None, "home", ids[1:3]),  # after a retrain
        ("v2", "exp", "home", ids[2:4]),
        ("v2", None, "email", ids[:1]),
    ):
        log_answer(db, shown(*items), user_id="ann", surface=surface, endpoint="recommend", model_version=model,
                   experiment=experiment, variant="b" if experiment else None)  # fmt: skip
    online_metrics_service.run(db)
    rows = shop.get("/metrics/online", params={"group_by": "day,surface"}).json()["rows"]
    home = next(r for r in rows if r["surface"] == "home")
    assert (home["users"], home["impressions"]) == (1, 6)
    assert home["coverage"] == pytest.approx(4 / len(TITLES))
    assert home["ctr_per_user"] == 0.0
    (day,) = shop.get("/metrics/online", params={"group_by": "day"}).json()["rows"]
    assert (day["users"], day["impressions"], day["coverage"]) == (1, 7, pytest.approx(4 / len(TITLES)))
    # grouped by model too, users are added up over the group's rows (v2's: two surfaces, in and out of the
    # experiment), as the API guide says: distinct only by day and surface
    by_model = shop.get("/metrics/online", params={"group_by": "day,model_version"}).json()["rows"]
    assert {r["model_version"]: r["users"] for r in by_model} == {"v1": 1, "v2": 3}


def test_a_day_stored_before_distinct_rows_existed_keeps_its_own_figures(shop, db):
    """Days the job computed before it stored each day's distinct users keep their summed figures in a range
    that groups the day away; they were dropped (a week's users were today's)."""
    from dummi.domain.ranking import Recommendation
    from dummi.services import online_metrics_service
    from dummi.services.impressions_service import log_answer

    yesterday = datetime.now(UTC) - timedelta(days=1)
    for user, model, item in (("ann", "v1", "c0"), ("ann", "v2", "c1"), ("bob", "v1", "c0"), ("bob", "v2", "c2")):
        rid = log_answer(db, [Recommendation(item, "t", "c", 0.5, "cf", "")], user_id=user, surface="home",
                         endpoint="recommend", model_version=model)  # fmt: skip
        if user == "bob":  # bob's answers were yesterday's
            moved = "UPDATE impressions SET created_at = :at WHERE recommendation_id = CAST(:id AS uuid)"
            db.autocommit(lambda conn, rid=rid, moved=moved: conn.run(moved, at=yesterday, id=rid))
    online_metrics_service.run(db)
    db.autocommit(lambda conn: conn.run(  # yesterday as an older job stored it: no distinct rows
        "DELETE FROM online_metrics WHERE day = :day AND model_version = '*'", day=yesterday.date()
    ))  # fmt: skip
    by_day = shop.get("/metrics/online", params={"group_by": "day,surface", "from": yesterday.date().isoformat()})
    assert [r["users"] for r in by_day.json()["rows"]] == [2, 1]  # yesterday summed over its two models; today once
    (week,) = shop.get("/metrics/online", params={"group_by": "surface", "from": yesterday.date().isoformat()}).json()[
        "rows"
    ]
    # yesterday's coverage as the old rows give it (their mean: one item each), today's the distinct two
    assert week["users"] == 3 and week["coverage"] == pytest.approx((1 / len(TITLES) + 2 / len(TITLES)) / 2)


def test_the_metrics_function_sends_emf_with_at_most_four_dimensions_and_no_ids(
    shop, db, lambda_context, capsys, monkeypatch
):
    import json

    from tests.conftest import load_function_module

    # The function sends the hour that ended an hour ago: ann's answer in the middle of it, bob's an hour
    # later, so that exactly one of them is in it even if the clock turns an hour while the test runs.
    hour_end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    for user, at in (("ann", hour_end - timedelta(minutes=30)), ("bob", hour_end + timedelta(minutes=30))):
        answer = _recommend(shop, user)
        db.autocommit(
            lambda conn, rid=answer["recommendation_id"], at=at: conn.run(
                "UPDATE impressions SET created_at = :at WHERE recommendation_id = CAST(:id AS uuid)", at=at, id=rid
            )
        )
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "dummi-metrics")
    module = load_function_module("functions/metrics")
    capsys.readouterr()
    done = module.handler({"source": "aws.scheduler", "detail-type": "Scheduled Event"}, lambda_context)
    assert done["emf_documents"] >= 2
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    counted = [b for b in blobs if "Impressions" in b]
    assert (
        sum(
            b["Impressions"][0] if isinstance(b["Impressions"], list) else b["Impressions"]
            for b in counted
            if b["method"] == "all"
        )
        == 4
    )
    for blob in blobs:
        for dims in blob["_aws"]["CloudWatchMetrics"][0]["Dimensions"]:
            assert len(dims) <= 4 and set(dims) <= {"surface", "variant", "method", "service"}
        assert "ann" not in json.dumps(blob) and "c0" not in json.dumps(blob)
    assert any("SampleRatioMismatches" in b for b in blobs)


def test_training_publishes_the_algorithm_an_experiment_names_and_its_users_get_it(shop, db):
    from dummi.artifacts.store import get_artifact_store
    from dummi.services.recommendation_service import get_engine
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    for i in range(12):
        shop.post("/users/", json={"user_id": f"u{i}"})
        for k in range(3):
            _interact(shop, f"u{i}", f"c{(i + k) % len(TITLES)}", interaction_type="like")
    variants = [{"name": "chosen"}, {"name": "knn", "overrides": {"algorithm": "itemknn"}}]
    _experiment(shop, "algo", variants=variants)
    # no model carries item-kNN yet: nobody is put in the experiment (its arms would not be comparable)
    assert {_recommend(shop, f"u{i}")["variant"] for i in range(12)} == {None}

    run = run_now(db, get_artifact_store(), "test", TrainingParams())
    assert run.state == "succeeded", run.error
    manifest = db.read(lambda conn: conn.run("SELECT manifest FROM model_versions"))[0][0]
    assert [a["algorithm"] for a in manifest["model"]["alternatives"]] == ["itemknn"]
    assert manifest["model"]["cf"]["algorithm"] != "itemknn"
    answers = {f"u{i}": _recommend(shop, f"u{i}") for i in range(12)}
    assert {a["variant"] for a in answers.values()} == {"chosen", "knn"}
    _interact(shop, "u0", answers["u0"]["recommendations"][0]["content_id"])
    again = {f"u{i}": _recommend(shop, f"u{i}")["variant"] for i in range(12)}
    assert again == {u: a["variant"] for u, a in answers.items()}  # the next calls too
    engine = get_engine()
    base, _ = engine.recommender()
    knn = engine.variants.built[("algo", "knn")][1]
    assert knn.bundle.cf.algorithm == "itemknn" and base.bundle.cf.algorithm == manifest["model"]["cf"]["algorithm"]
    assert knn.bundle.item_ids is base.bundle.item_ids  # a variant shares the catalog, it does not copy it


def test_the_metrics_command_prints_the_figures_and_refuses_what_the_api_refuses(shop, capsys):
    from dummi.cli import main

    _recommend(shop, "ann", surface="home")
    assert main(["metrics", "--days", "1", "--group-by", "surface,variant"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert printed[0]["rows"] > 0  # what the job did, then one line per group
    home = next(r for r in printed[1:] if r["surface"] == "home")
    assert (home["users"], home["experiment"]) == (1, "")  # a variant is named within its experiment
    for args, words in ((["--group-by", "surface,bogus"], "bogus not among"), (["--days", "0"], "at least 1")):
        assert main(["metrics", *args]) == 2
        assert words in capsys.readouterr().err


def test_metrics_at_the_ends_of_the_calendar(client):
    for params in ({"to": "0001-01-01"}, {"from": "9999-12-31", "to": "9999-12-31"}, {"from": "9999-12-31"}):
        answer = client.get("/metrics/online", params=params)
        assert answer.status_code == 200 and answer.json()["rows"] == [], params
    # a day is a calendar day: a number is not read as a Unix time (a schemathesis finding)
    for params in ({"to": "0"}, {"from": "1700000000"}, {"to": "2026-1-1"}, {"to": "2026-02-30"}):
        answer = client.get("/metrics/online", params=params)
        assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][0] == "query", params


def test_an_explore_slot_is_logged_with_its_propensity_and_counted_for_the_next_draws(shop, db):
    from dummi.services import online_metrics_service

    # four garden items match; the ranking lists three, the fourth (young: nothing is shown yet) is explored
    assert shop.post("/users/", json={"user_id": "gardener", "interests": ["garden"]}).status_code == 201
    answer = _recommend(shop, "gardener", n_recommendations=3, explore_slots=1)
    methods = [r["method"] for r in answer["recommendations"]]
    assert methods.count("explore") == 1 and methods.index("explore") == 2  # positions 3..n only
    explored = answer["recommendations"][2]
    logged = _logged(db, answer["recommendation_id"])
    assert logged.propensities[:2] == [None, None] and 0 < logged.propensities[2] <= 1
    assert logged.methods[2] == "explore"
    plain = _recommend(shop, "gardener", n_recommendations=3, explore_slots=0)["recommendations"]
    assert "explore" not in [r["method"] for r in plain]
    assert explored["category"] == "garden" and all(r["category"] == "garden" for r in answer["recommendations"])
    _interact(shop, "gardener", explored["content_id"], recommendation_id=answer["recommendation_id"])
    done = online_metrics_service.run(db)
    assert done["item_stats"] >= 3
    stats = {
        r[0]: (r[1], r[2])
        for r in db.read(lambda conn: conn.run("SELECT content_id, impressions, clicks FROM item_stats"))
    }
    assert stats[explored["content_id"]][1] == 1 and stats[explored["content_id"]][0] >= 1

    # the decision is logged as made, so that other policies can be scored from it
    (decision,) = logged.explore
    assert decision["candidates"][decision["chosen"]] == explored["content_id"] and decision["position"] == 3
    assert decision["propensity"] == pytest.approx(logged.propensities[2], rel=1e-4)
    from dummi.cli import main
    from dummi.services.policy_evaluation import evaluate_policy

    result = evaluate_policy(db, "uniform")
    assert result["decisions"] == 1 and result["logged_ctr"] == 1.0 and result["estimate"] == 1.0
    assert evaluate_policy(db, "thompson", prior_strength=50)["estimate"] == 1.0
    assert main(["evaluate-policy", "--policy", "uniform", "--days", "1"]) == 0


def test_an_algorithm_too_big_for_the_catalog_is_not_fitted_and_its_experiment_gets_nobody(shop, db, monkeypatch):
    import dummi.ml.cf as collaborative
    from dummi.artifacts.store import get_artifact_store
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    monkeypatch.setattr(collaborative, "EASE_MAX_ITEMS", 5)  # the catalog (8 items) is "too big" for item-item
    for i in range(12):
        shop.post("/users/", json={"user_id": f"u{i}"})
        for k in range(3):
            _interact(shop, f"u{i}", f"c{(i + k) % len(TITLES)}", interaction_type="like")
    _experiment(shop, "algo", variants=[{"name": "chosen"}, {"name": "knn", "overrides": {"algorithm": "itemknn"}}])
    run = run_now(db, get_artifact_store(), "test", TrainingParams())
    assert run.state == "succeeded", run.error
    manifest = db.read(lambda conn: conn.run("SELECT manifest FROM model_versions"))[0][0]
    assert "alternatives" not in manifest["model"]
    assert {_recommend(shop, f"u{i}")["variant"] for i in range(12)} == {None}
