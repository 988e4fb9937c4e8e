"""The recommendation engine and its parts on fake repositories and a clock the test moves: a newer published
model serves after the next pointer check (not before), a take-down leaves the answers at the next catalog
read, exploration's counts are re-read on their own schedule, and experiments whose variant the model cannot
serve leave everyone on the default."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dummi.artifacts.loader import ModelCache
from dummi.artifacts.publish import publish
from dummi.artifacts.store import FileStore
from dummi.db.records import CatalogChange
from dummi.errors import NotFoundError
from dummi.experiments.assignment import Experiment, Variant
from dummi.ml.explore import YOUNG_IMPRESSIONS
from dummi.ml.model_bundle import ModelBundle
from dummi.ml.recommender import RankRequest
from dummi.ml.vector_index import build_index
from dummi.services.experiments_service import ExperimentCache
from dummi.services.exploration_stats import PRIOR_CTR, ExplorationStats, prior_ctr
from dummi.services.live_catalog import LiveCatalog
from dummi.services.model_holder import ModelHolder
from dummi.services.recommendation_service import RecommendationEngine
from tests.unit.service_fakes import Clock, FakeEventTypes, fake_work

CHECK_SECONDS = 60.0


def _bundle(ids: list[str]) -> ModelBundle:
    rng = np.random.default_rng(len(ids))
    vectors = rng.normal(size=(len(ids), 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    popularity = np.linspace(1.0, 0.1, len(ids)).astype(np.float32)  # the first id is the most popular
    return ModelBundle(
        np.array(ids, dtype=object),
        [f"title {i}" for i in ids],
        ["ml"] * len(ids),
        build_index(ids, vectors, kind="flat"),
        popularity,
        None,
        tags=[[] for _ in ids],
    )


def _parse(manifest: dict, files: dict[str, bytes]) -> ModelBundle:
    return _bundle(json.loads(files["items.json"]))


def _publish(store: FileStore, version: str, ids: list[str]) -> None:
    publish(store, version, {"items.json": json.dumps(ids).encode()}, {})


class FakeContent:
    """Catalog changes as the real read gives them: each change once, at the first read after it."""

    def __init__(self) -> None:
        self.pending: list[CatalogChange] = []
        self.reads = 0

    def is_ahead(self, xmin):
        return False

    def changes_since(self, xmin):
        self.reads += 1
        rows, self.pending = self.pending, []
        return str(self.reads), rows

    def vectors(self, ids):
        return {}


class FakeRecommendations:
    def __init__(self) -> None:
        self.users: dict[str, dict] = {}
        self.shown: dict[str, list[str]] = {}  # lineage -> the items of its earlier pages
        self.counts: tuple[list, list] = ([], [])
        self.count_reads = 0
        self.state_reads: list[tuple] = []

    def user_state(self, user_id, earlier=None):
        self.state_reads.append((user_id, earlier))
        found = self.users.get(user_id)
        return found if found is None or earlier is None else found | {"shown": self.shown.get(earlier[0], [])}

    def exploration_stats(self, young_days):
        self.count_reads += 1
        return self.counts

    def content_vector(self, content_id):
        return None


class FakeExperiments:
    def __init__(self, *experiments: Experiment) -> None:
        self.experiments = list(experiments)

    def live(self):
        return self.experiments


@pytest.fixture
def serving(tmp_path):
    clock = Clock()
    store = FileStore(tmp_path)
    content, recommendations, experiments = FakeContent(), FakeRecommendations(), FakeExperiments()
    work, _ = fake_work(
        content=content, recommendations=recommendations, experiments=experiments, event_types=FakeEventTypes()
    )
    engine = RecommendationEngine(
        work,
        ModelHolder(ModelCache(store, _parse, check_interval=CHECK_SECONDS, clock=clock)),
        experiments=ExperimentCache(work),
        catalog=LiveCatalog(catalog_refresh=1.0, fresh_refresh=5.0, clock=clock),
        exploration=ExplorationStats(refresh=60.0, clock=clock),
    )
    recommendations.users["alice"] = {"interests": [], "embedding": None, "events": [], "seen": []}
    return engine, work, store, clock, content, recommendations, experiments


def _popular(engine, work) -> tuple[list[str], str | None]:
    served = engine.popular(work, 10, None)
    return [r.content_id for r in served.recommendations], served.model_version


def test_a_newer_published_model_serves_after_the_next_pointer_check_and_not_before(serving):
    engine, work, store, clock, *_ = serving
    assert _popular(engine, work) == ([], None)  # nothing published yet: an empty catalog answers
    _publish(store, "v1", ["a", "b"])
    clock.advance(5.0)  # with no model, the pointer is looked at again within seconds
    assert _popular(engine, work) == (["a", "b"], "v1")

    _publish(store, "v2", ["c", "a", "b"])
    clock.advance(CHECK_SECONDS / 2)
    assert _popular(engine, work) == (["a", "b"], "v1")  # the pointer is not looked at before the interval
    clock.advance(CHECK_SECONDS / 2)
    assert _popular(engine, work) == (["c", "a", "b"], "v2")
    assert engine.models.last_error is None


def test_a_broken_publish_keeps_the_last_good_model_and_says_why(serving):
    engine, work, store, clock, *_ = serving
    _publish(store, "v1", ["a", "b"])
    assert _popular(engine, work)[1] == "v1"
    _publish(store, "v2", ["c"])
    (store.root / "models" / "v2" / "items.json").write_text('["tampered"]')
    clock.advance(CHECK_SECONDS)
    assert _popular(engine, work) == (["a", "b"], "v1")
    assert "checksum" in engine.models.last_error


def test_a_take_down_leaves_the_answers_at_the_next_catalog_read(serving):
    engine, work, store, clock, content, *_ = serving
    _publish(store, "v1", ["a", "b", "c"])
    assert _popular(engine, work)[0] == ["a", "b", "c"]
    reads = content.reads

    content.pending.append(CatalogChange("b", deleted=True, changed_at=datetime.now(UTC)))
    clock.advance(0.5)
    assert _popular(engine, work)[0] == ["a", "b", "c"] and content.reads == reads  # within the refresh period
    clock.advance(0.5)
    assert _popular(engine, work)[0] == ["a", "c"] and content.reads == reads + 1
    assert engine.is_deleted("b")
    with pytest.raises(NotFoundError):  # gone from the model's items and from the catalog
        engine.similar(work, "b", 5)


def test_an_unknown_user_is_refused(serving):
    engine, work, store, *_ = serving
    _publish(store, "v1", ["a", "b"])
    with pytest.raises(NotFoundError) as raised:
        engine.recommend(work, "nobody", RankRequest(n=2))
    assert raised.value.field == "user_id"


def test_a_page_token_leaves_out_the_earlier_pages_read_with_the_users_state(serving):
    engine, work, store, clock, content, recommendations, _ = serving
    _publish(store, "v1", ["a", "b", "c", "d"])
    recommendations.shown["lin"] = ["a", "c"]
    first = engine.recommend(work, "alice", RankRequest(n=2, explore_slots=0))
    assert [r.content_id for r in first.recommendations] == ["a", "b"]
    served = engine.recommend(work, "alice", RankRequest(n=2, explore_slots=0), earlier=("lin", 2))
    assert [r.content_id for r in served.recommendations] == ["b", "d"]
    assert recommendations.state_reads == [("alice", None), ("alice", ("lin", 2))]  # one read each


def test_exploration_counts_are_reread_on_their_own_schedule(serving):
    engine, work, store, clock, _, recommendations, _ = serving
    _publish(store, "v1", ["a", "b", "c"])
    recommender, _ = engine.recommender(work)
    stats = ExplorationStats(refresh=60.0, clock=clock)
    recommendations.counts = ([("a", 5000, 400), ("b", 10, 1), ("gone", 50, 50)], [])

    arms = stats.arms(work, recommender)
    assert arms.impressions.tolist() == [5000, 10, 0] and arms.clicks.tolist() == [400, 1, 0]  # "gone" is left out
    assert arms.young.tolist() == [5000 < YOUNG_IMPRESSIONS, True, True]
    assert arms.global_ctr == pytest.approx((401 + PRIOR_CTR * 1000) / (5010 + 1000))

    recommendations.counts = ([("a", 5000, 400), ("b", 2000, 300)], ["a"])  # the metrics job ran; "a" is new
    clock.advance(59.0)
    assert stats.arms(work, recommender) is arms and recommendations.count_reads == 1
    clock.advance(1.0)
    again = stats.arms(work, recommender)
    assert recommendations.count_reads == 2
    assert again.impressions.tolist() == [5000, 2000, 0] and again.young.tolist()[0]  # young by its age


def test_the_ctr_prior_is_the_global_ctr_shrunk_toward_its_centre():
    assert prior_ctr(0.0, 0.0) == pytest.approx(PRIOR_CTR)
    assert prior_ctr(1000.0, 100.0) == pytest.approx((100 + PRIOR_CTR * 1000) / 2000)
    assert prior_ctr(1e9, 2e8) == pytest.approx(0.2, rel=1e-5)  # plenty shown: the prior hardly counts


def test_an_experiment_naming_an_algorithm_the_model_lacks_keeps_everyone_on_the_default(serving):
    engine, work, store, clock, _, _, experiments = serving
    _publish(store, "v1", ["a", "b"])
    started = datetime.now(UTC) - timedelta(days=1)
    variants = (Variant("control", 1.0), Variant("knn", 1.0, {"algorithm": "itemknn"}))
    experiments.experiments.append(Experiment("algo", "salt", variants, 100.0, started))
    served = engine.recommend(work, "alice", RankRequest(n=2, explore_slots=0))
    assert (served.experiment, served.variant) == (None, None) and served.model_version == "v1"


def test_a_variant_that_changes_only_the_request_serves_the_user_with_its_name(serving):
    engine, work, store, clock, *_, experiments = serving
    _publish(store, "v1", ["a", "b", "c"])
    started = datetime.now(UTC) - timedelta(days=1)
    one_each = Variant("one-each", 1.0, {"max_per_category": 1})
    experiments.experiments.append(Experiment("caps", "salt", (one_each,), 100.0, started))
    served = engine.recommend(work, "alice", RankRequest(n=3, explore_slots=0))
    assert (served.experiment, served.variant) == ("caps", "one-each")
    assert [r.content_id for r in served.recommendations] == ["a"]  # one item of the one category: the cap applied
