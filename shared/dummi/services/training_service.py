"""Training: turn what is in Postgres into a published model version that serving can load.

    embed (only changed text) -> FAISS index -> CF factors -> popularity -> publish (pointer last) -> record

Runs are rows in ``training_runs``. Triggering is serialized by a transaction-scoped advisory lock and at
most one run is queued or running (a partial unique index), so concurrent triggers start one run and are
told about it. Executing holds a session advisory lock, so a duplicate delivery of the same run (Lambda
retries an async invocation) does nothing. A failed run is recorded with its error and never moves the
pointer: publishing writes ``models/latest.json`` only after every file of the version is stored.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from dummi.artifacts.publish import new_version, prune_trained_before, publish
from dummi.artifacts.store import ArtifactStore
from dummi.db.connection import Database
from dummi.db.content_repository import ContentRepository
from dummi.db.interactions_repository import InteractionsRepository
from dummi.db.interests_repository import InterestsRepository
from dummi.db.training_repository import TrainingRepository, TrainingRun
from dummi.db.users_repository import UsersRepository
from dummi.errors import ConflictError
from dummi.ml.publish_gate import Serving, algorithms, decide, recipe
from dummi.progress import NullProgress, Progress

logger = logging.getLogger(__name__)

# A run that has not recorded progress for this long is considered dead (Lambda's limit is 15 minutes).
STALE_AFTER_SECONDS = 20 * 60


class TrainingAlreadyRunningError(ConflictError):
    code = "training_already_running"

    def __init__(self, run: TrainingRun | None) -> None:
        detail = f"training run {run.run_id} is already {run.state}" if run else "a training run is being started"
        super().__init__(detail, field=None)
        self.run = run


@dataclass(frozen=True)
class TrainingParams:
    retrain_cf: bool = True
    regenerate_embeddings: bool = False  # True: hash-check every row, not only rows a write marked
    cf_algorithm: str = "auto"  # auto: choose on the holdout; or a name from dummi.ml.collaborative.ALGORITHMS
    cf_factors: int = 50
    force: bool = False  # publish even if the holdout scores the new model worse than the serving one

    def as_dict(self) -> dict[str, Any]:
        return {
            "retrain_cf": self.retrain_cf,
            "regenerate_embeddings": self.regenerate_embeddings,
            "cf_algorithm": self.cf_algorithm,
            "cf_factors": self.cf_factors,
            "force": self.force,
        }

    @classmethod
    def configured(
        cls, *, retrain_cf: bool = True, regenerate_embeddings: bool = False, force: bool = False
    ) -> TrainingParams:
        """A run's parameters: the trigger's choices plus the algorithm settings of this deployment."""
        from dummi.config import get_settings

        settings = get_settings()
        return cls(
            retrain_cf=retrain_cf,
            regenerate_embeddings=regenerate_embeddings,
            cf_algorithm=settings.dummi_cf_algorithm,
            cf_factors=settings.dummi_cf_factors,
            force=force,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingParams:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class RunReport:
    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    decision: dict[str, Any] | None = None  # dummi.ml.publish_gate.decide


# -- triggering ------------------------------------------------------------------------------------------
def request_run(db: Database, trigger: str, params: TrainingParams) -> TrainingRun:
    """Queue a run, or raise TrainingAlreadyRunningError naming the run that is queued or running."""
    with db.transaction() as conn:
        runs = TrainingRepository(conn)
        if not runs.try_trigger_lock():
            raise TrainingAlreadyRunningError(None)
        runs.abandon_stale(STALE_AFTER_SECONDS)
        created = runs.create_queued(trigger, params.as_dict())
        if created is None:
            raise TrainingAlreadyRunningError(runs.active())
        return created


def fail_undispatched(db: Database, run_id: str, error: str) -> None:
    """A queued run that could not be handed to an executor: fail it, so it does not block the next."""
    with db.transaction() as conn:
        TrainingRepository(conn).finish(run_id, state="failed", timings={}, counts={}, error=error)


def latest_runs(db: Database, limit: int = 10) -> list[TrainingRun]:
    return db.read(lambda conn: TrainingRepository(conn).latest(limit))


def get_run(db: Database, run_id: str) -> TrainingRun | None:
    return db.read(lambda conn: TrainingRepository(conn).get(run_id))


# -- executing -------------------------------------------------------------------------------------------
def execute_run(
    db: Database,
    store: ArtifactStore,
    run_id: str,
    *,
    progress: Progress | None = None,
    embedder_factory: Callable[[], Any] | None = None,
) -> TrainingRun | None:
    """Run a queued run to the end. Returns the finished run, or None if this call did not run it (it was
    not queued any more, or another process is executing a run)."""
    lock_conn = db.connect()  # a dedicated session for the advisory lock, held for the whole run
    try:
        lock = TrainingRepository(lock_conn)
        if not lock.try_execute_lock():
            logger.info("run %s: another run is executing; leaving it", run_id)
            return None
        with db.transaction() as conn:
            run = TrainingRepository(conn).mark_running(run_id)
        if run is None:
            logger.info("run %s is not queued any more; nothing to do", run_id)
            return None
        params = TrainingParams.from_dict(run.params)
        report = RunReport()

        def checkpoint() -> None:
            with db.transaction() as conn:
                TrainingRepository(conn).record_progress(run_id, report.timings, report.counts)

        try:
            version = train_and_publish(
                db,
                store,
                params,
                run_id=run_id,
                report=report,
                progress=progress or NullProgress(),
                checkpoint=checkpoint,
                embedder_factory=embedder_factory,
            )
        except Exception as exc:
            logger.exception("training run %s failed", run_id)
            message = f"{type(exc).__name__}: {exc}"
            if len(message) > 2000:
                message = message[:2000] + "..."
            with db.transaction() as conn:
                return TrainingRepository(conn).finish(
                    run_id,
                    state="failed",
                    timings=report.timings,
                    counts=report.counts,
                    error=message + "\n" + traceback.format_exc(limit=3)[-1500:],
                )
        with db.transaction() as conn:
            return TrainingRepository(conn).finish(
                run_id,
                state="succeeded",
                timings=report.timings,
                counts=report.counts,
                model_version=version,
                decision=report.decision,
            )
    finally:
        try:
            lock_conn.close()  # ends the session: the advisory lock goes with it
        except Exception:  # noqa: BLE001
            pass


def run_now(
    db: Database,
    store: ArtifactStore,
    trigger: str,
    params: TrainingParams,
    *,
    progress: Progress | None = None,
) -> TrainingRun | None:
    """Trigger and execute in this process (the CLI and the scheduled event)."""
    run = request_run(db, trigger, params)
    return execute_run(db, store, run.run_id, progress=progress)


# -- the pipeline ----------------------------------------------------------------------------------------
class _Timer:
    def __init__(self, report: RunReport, name: str) -> None:
        self.report, self.name = report, name

    def __enter__(self) -> _Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.report.timings[self.name] = round(time.perf_counter() - self.started, 3)


def train_and_publish(
    db: Database,
    store: ArtifactStore,
    params: TrainingParams,
    *,
    run_id: str | None,
    report: RunReport,
    progress: Progress,
    checkpoint: Callable[[], None] = lambda: None,
    embedder_factory: Callable[[], Any] | None = None,
    retention: int | None = None,
) -> str:
    """Build every artifact from Postgres and publish them as a new version; returns the version."""
    from dummi.config import get_settings
    from dummi.ml.embeddings import from_bytes, get_embedder
    from dummi.ml.interactions import build_matrix, popularity
    from dummi.ml.model_bundle import ModelBundle, bundle_files
    from dummi.ml.vector_index import build_index
    from dummi.services.embedding_service import embed_content, embed_user_interests

    settings = get_settings()
    started = time.perf_counter()
    embedder = (embedder_factory or get_embedder)()

    with _Timer(report, "embed"):
        result = embed_content(
            db,
            embedder,
            pending_only=not params.regenerate_embeddings,
            progress=progress.advance,
            on_plan=lambda n: progress.start("embedding content", n),
        )
        progress.finish(f"{result.embedded} of {result.examined} items had new text")
        users = embed_user_interests(db, embedder, pending_only=not params.regenerate_embeddings)
        report.counts.update(
            content_examined=result.examined,
            content_embedded=result.stored,
            users_embedded=users.stored,
        )
    checkpoint()

    with _Timer(report, "index"):
        progress.start("building index")
        # Serving treats content created after this moment as "fresh" (not in this model).
        items_as_of = db.read(lambda conn: ContentRepository(conn).clock())
        # serving reads every change by a transaction from this one on (dummi.services.catalog_view)
        items_xmin = db.read(lambda conn: ContentRepository(conn).snapshot_xmin())
        items = db.read(lambda conn: ContentRepository(conn).embedded_items())
        ids = [i[0] for i in items]
        vectors = np.vstack([from_bytes(i[4]) for i in items]) if items else np.empty((0, 384), np.float32)
        index = build_index(ids, vectors)
        progress.finish(f"{index.size} items, {index.kind}")
        report.counts["items"] = index.size

    with _Timer(report, "load_interactions"):
        # a user deleted before this clock reading is in none of the events read after it
        events_as_of, users_deleted_at = db.read(
            lambda conn: (ContentRepository(conn).clock(), UsersRepository(conn).last_deletion())
        )
        events = db.read(lambda conn: InteractionsRepository(conn).all_events())
        report.counts["interactions"] = len(events)
    checkpoint()
    serving = _serving_model(store)

    titles, categories, tags = [i[1] for i in items], [i[2] for i in items], [i[3] for i in items]
    state = {key: [i[5][key] for i in items] for key in ("properties", "hidden", "available_from", "available_until")}
    settings_chosen: dict[str, Any] = {}
    metrics: dict[str, Any] = {}
    cf_config: dict[str, Any] | None = _explicit_cf_config(params)
    if params.retrain_cf and params.cf_algorithm == "auto":
        with _Timer(report, "tune"):
            progress.start("choosing on the holdout")
            baseline = serving.recipe if serving is not None else None
            choice = _choose_on_holdout(
                db, events, ids, titles, categories, tags, index, vectors, params, embedder, baseline
            )
            if choice is not None:
                cf_config, settings_chosen, metrics = choice.cf_config, choice.settings, choice.metrics
                winner = (cf_config or {}).get("algorithm")
                progress.finish(f"{winner}, holdout NDCG@10 {metrics['holdout']['all']['ndcg']:.4f}")
            else:
                cf_config = {"algorithm": "nmf", "n_components": params.cf_factors}
                progress.finish("too little data to hold out; using NMF and default settings")
        checkpoint()

    wanted = _experiment_algorithms(db, len(ids), params.cf_factors) if params.retrain_cf else frozenset()
    report.decision = decide(
        force=params.force,
        serving=serving,
        item_ids=ids,
        new_score=metrics.get("holdout", {}).get("all", {}).get("ndcg"),
        serving_score=metrics.get("serving_holdout", {}).get("all", {}).get("ndcg"),
        noise=metrics.get("serving_holdout", {}).get("paired_se"),
        wanted_algorithms=wanted,
        erased_since_serving=serving is not None
        and users_deleted_at is not None
        and (serving.events_as_of is None or datetime.fromisoformat(serving.events_as_of) < users_deleted_at),
    )
    if report.decision["action"] == "kept":
        progress.start("keeping the serving model")
        progress.finish(report.decision["reason"])
        report.timings["total"] = round(time.perf_counter() - started, 3)
        return serving.version

    cf = None
    with _Timer(report, "cf"):
        matrix = build_matrix(events, ids)
        report.counts.update(cf_users=matrix.shape[0], cf_nonzeros=int(matrix.matrix.nnz))
        if params.retrain_cf and matrix.matrix.nnz > 0 and cf_config is not None:
            progress.start(f"fitting {cf_config['algorithm']}")
            cf = _fit(cf_config, matrix.matrix)
            progress.finish(f"{matrix.shape[0]} users x {matrix.shape[1]} items, {matrix.matrix.nnz} values")
        elif not params.retrain_cf:
            cf, settings_chosen = _previous_cf(store, ids)
    alternatives = {}
    if cf is not None and wanted - {cf.algorithm}:
        with _Timer(report, "alternatives"):
            for name in sorted(wanted - {cf.algorithm}):
                config = _alternative_config(name, len(ids), params.cf_factors, metrics)
                progress.start(f"fitting {name} for a running experiment")
                alternatives[name] = _fit(config, matrix.matrix)
                progress.finish(str(config))

    with _Timer(report, "popularity"):
        pop = popularity(events, ids)
    cooccurrence = None
    with _Timer(report, "colikes"):
        if events:
            from dummi.ml.collaborative import fit_cooccurrence
            from dummi.ml.interactions import engagement_matrices

            cooccurrence = fit_cooccurrence(
                *engagement_matrices(events, ids),
                prior_strength=float(settings_chosen.get("prior_strength", 50.0)),
            )

    sequence = None
    with _Timer(report, "sequence"):
        if events and cf is not None:
            from dummi.ml.sequence import fit_transitions

            sequence = fit_transitions(events, ids)

    bundle = ModelBundle(
        item_ids=np.array(ids, dtype=object),
        titles=titles,
        categories=categories,
        index=index,
        popularity=pop,
        cf=cf,
        settings=settings_chosen,
        vectors=vectors,
        cooccurrence=cooccurrence,
        sequence=sequence,
        tags=tags,
        alternatives=alternatives,
        state=state,
    )
    with _Timer(report, "publish"):
        progress.start("publishing")
        files, facts = bundle_files(bundle)
        version = new_version()
        report.timings["total"] = round(time.perf_counter() - started, 3)  # as of publishing, for the manifest
        manifest = publish(
            store,
            version,
            files,
            {
                "created_at": datetime.now(UTC).isoformat(),
                "items_as_of": items_as_of.isoformat(),
                "items_xmin": items_xmin,
                "events_as_of": events_as_of.isoformat(),
                "run_id": run_id,
                "params": params.as_dict(),
                "model": facts,
                "counts": dict(report.counts),
                "timings": dict(report.timings),
                "metrics": metrics,
            },
            retention=retention or settings.dummi_model_retention,
        )
        if users_deleted_at is not None:
            # a deleted user's events are in no kept model: every version trained before the deletion goes
            pruned = prune_trained_before(store, users_deleted_at, keep={version})
            if pruned:
                report.counts["versions_pruned"] = len(pruned)
        suggestions, source = _interest_suggestions(categories, tags, pop)
        with db.transaction() as conn:
            TrainingRepository(conn).record_model_version(version, run_id, store.uri, manifest, manifest["metrics"])
            InterestsRepository(conn).replace(suggestions, source, version)
        progress.finish(version)
    report.timings["total"] = round(time.perf_counter() - started, 3)
    return version


SUGGESTIONS_KEPT = 100


def _interest_suggestions(categories: list[str], tags: list[list[str]], popularity: np.ndarray):
    """The interests worth asking newcomers about, by engagement (by items when nothing is engaged yet)."""
    from dummi.ml.interests import suggest

    source = "engagement" if float(popularity.sum()) > 0 else "catalog"
    weights = popularity.tolist() if source == "engagement" else [1.0] * len(categories)
    return suggest(zip(categories, tags, weights, strict=True), n=SUGGESTIONS_KEPT), source


def _explicit_cf_config(params: TrainingParams) -> dict[str, Any] | None:
    if params.cf_algorithm == "auto":
        return None
    if params.cf_algorithm == "nmf":
        return {"algorithm": "nmf", "n_components": params.cf_factors}
    return {"algorithm": params.cf_algorithm}


def _experiment_algorithms(db: Database, n_items: int, factors: int) -> frozenset[str]:
    """CF algorithms that experiments not yet ended name, among those this catalog's size allows (the
    item-item ones stop at EASE_MAX_ITEMS): training publishes each beside the chosen one. An experiment
    naming one the catalog does not allow stays without users (serving puts nobody in it)."""
    from dummi.db.experiments_repository import ExperimentsRepository

    live = db.read(lambda conn: ExperimentsRepository(conn).live())
    named = {v.overrides["algorithm"] for e in live for v in e.variants if "algorithm" in v.overrides}
    allowed = {c["algorithm"] for c in _cf_candidates(n_items, factors)}
    for name in sorted(named - allowed):
        logger.warning(
            "an experiment names %s, which is not fitted on %d items; its experiment gets no users", name, n_items
        )
    return frozenset(named & allowed)


def _alternative_config(name: str, n_items: int, factors: int, metrics: dict[str, Any]) -> dict[str, Any]:
    """The configuration of ``name`` that scored best on this run's holdout, else its first candidate."""
    trials = [t for t in metrics.get("trials", []) if (t.get("cf") or {}).get("algorithm") == name]
    if trials:
        return max(trials, key=lambda t: t.get("ndcg", 0.0))["cf"]
    for config in _cf_candidates(n_items, factors):
        if config["algorithm"] == name:
            return config
    return {"algorithm": name, "n_components": factors} if name == "nmf" else {"algorithm": name}


def _fit(config: dict[str, Any], matrix: Any):
    from dummi.ml.collaborative import Fitter

    return Fitter(matrix).fit(config)


def _cf_candidates(n_items: int, factors: int) -> list[dict[str, Any]]:
    from dummi.ml.collaborative import EASE_MAX_ITEMS

    candidates: list[dict[str, Any]] = [{"algorithm": "nmf", "n_components": factors}]
    if n_items <= EASE_MAX_ITEMS:
        candidates += [{"algorithm": "ease", "l2": l2} for l2 in (250.0, 500.0, 1000.0)]
        candidates += [{"algorithm": "itemknn"}]
        candidates += [{"algorithm": "ease+itemknn", "l2": 250.0, "weight": w} for w in (1.0, 2.5)]
    return candidates


def _choose_on_holdout(
    db, events, ids, titles, categories, tags, index, vectors, params: TrainingParams, embedder, baseline=None
):
    """Fit each candidate on the holdout's training part and keep what ranks the held-out likes best."""
    from dummi.db.users_repository import UsersRepository
    from dummi.ml.embeddings import from_bytes

    raw = db.read(lambda conn: UsersRepository(conn).interest_vectors())
    interests = {u: (names, from_bytes(v) if v is not None else None) for u, (names, v) in raw.items()}
    catalog = (ids, titles, categories, tags, index, vectors)
    return choose_recipe(events, catalog, interests, embedder, factors=params.cf_factors, baseline=baseline)


def choose_recipe(events, catalog, interests, embedder, *, factors: int, baseline=None):
    """The holdout choice (``dummi.ml.tuning.choose``) on a catalog ``(ids, titles, categories, tags, index,
    vectors)`` and the users' stored ``interests`` ({user: (names, vector)}); None with too few users to hold
    out. Reads nothing: what training runs, and what a test runs on a catalog of its own."""
    from dummi.ml.collaborative import Fitter, fit_cooccurrence
    from dummi.ml.interactions import build_matrix, engagement_matrices, popularity
    from dummi.ml.interests import item_labels
    from dummi.ml.model_bundle import ModelBundle
    from dummi.ml.recommender import HybridRecommender
    from dummi.ml.sequence import fit_transitions
    from dummi.ml.tuning import MIN_USERS_TO_TUNE, MemoScores, choose, split_holdout, user_states

    ids, titles, categories, tags, index, vectors = catalog
    holdout = split_holdout(events)
    if len(holdout.relevant) < MIN_USERS_TO_TUNE:
        return None
    interests = dict(interests)
    labels = [item_labels(c, t) for c, t in zip(categories, tags, strict=True)]
    interests.update(_interests_at_signup(holdout, labels, ids, embedder))
    states = user_states(holdout.fit_events, interests, users=set(holdout.relevant))
    matrix = build_matrix(holdout.fit_events, ids).matrix
    fit_popularity = popularity(holdout.fit_events, ids)
    cooccurrence = fit_cooccurrence(*engagement_matrices(holdout.fit_events, ids))
    sequence = fit_transitions(holdout.fit_events, ids)
    fitter = Fitter(matrix)  # every candidate fitted once, sharing the Gram matrix and blend members
    item_ids = np.array(ids, dtype=object)
    memos: dict[int, MemoScores] = {}  # per fitted model (the fitter hands out one object per configuration)
    sequence = MemoScores(sequence) if sequence is not None else None

    def memo(config):
        if not config:
            return None
        model = fitter.fit(config)
        return memos.setdefault(id(model), MemoScores(model))

    def build(config, settings):
        bundle = ModelBundle(
            item_ids,
            titles,
            categories,
            index,
            fit_popularity,
            memo(config),
            settings,
            vectors,
            cooccurrence,
            sequence,
            tags=tags,
        )
        return HybridRecommender(bundle)

    candidates = _cf_candidates(len(ids), factors)
    return choose(holdout, states, candidates, build, baseline=baseline, n_items=len(ids))


def _serving_model(store: ArtifactStore) -> Serving | None:
    """What serves now (the pointer's version): its recipe and item ids, or None before the first model. A
    version that cannot be read counts as none: the new model is published."""
    import json

    from dummi.artifacts.publish import MANIFEST, MODELS, read_pointer
    from dummi.ml.model_bundle import ITEMS_FILE

    try:
        pointer = read_pointer(store)
        if pointer is None:
            return None
        version = pointer["version"]
        manifest = json.loads(store.get(f"{MODELS}/{version}/{MANIFEST}"))
        items = json.loads(store.get(f"{MODELS}/{version}/{ITEMS_FILE}"))
    except Exception:  # noqa: BLE001 - a broken serving model must not stop a new one
        logger.warning("the serving model could not be read; the new model will be published", exc_info=True)
        return None
    facts = manifest.get("model", {})
    return Serving(version, recipe(facts), frozenset(items["ids"]), algorithms(facts), manifest.get("events_as_of"))


def _interests_at_signup(holdout, labels: list[set[str]], ids: list[str], embedder) -> dict[str, tuple]:
    """Interests for the holdout's simulated newcomers, as their first items suggest them.

    A user's stored interests are what it says *today* (PUT /users changes them as tastes move), so for a
    user made a newcomer again they would leak what it went on to like. The labels (categories and tags)
    most frequent among the items it engaged with in its kept history stand in for what it would have
    declared at sign-up.
    """
    from collections import Counter

    from dummi.ml.text import interests_text

    labels_of = dict(zip(ids, labels, strict=True))
    kept: dict[str, Counter] = {u: Counter() for u in holdout.cold_users}
    for e in holdout.fit_events:
        if e.user_id in kept and e.event_type not in ("skip", "negative") and e.content_id in labels_of:
            kept[e.user_id].update(labels_of[e.content_id])
    # ties go by name: labels come from sets, whose order changes from one process to the next
    names = {u: sorted(counts, key=lambda x: (-counts[x], x))[:3] for u, counts in kept.items() if counts}
    users = sorted(names)
    vectors = embedder.encode([interests_text(names[u]) for u in users]) if users else []
    return {u: (names[u], v) for u, v in zip(users, vectors, strict=True)}


def _previous_cf(store: ArtifactStore, ids: list[str]):
    """retrain_cf=false: keep the published CF model and its ranking settings, re-aligned to today's items."""
    from dummi.artifacts.loader import load_version
    from dummi.artifacts.publish import read_pointer
    from dummi.ml.model_bundle import parse_bundle

    pointer = read_pointer(store)
    if pointer is None:
        return None, {}
    manifest, files = load_version(store, pointer["version"], pointer.get("manifest_sha256"))
    previous = parse_bundle(manifest, files)
    if previous.cf is None:
        return None, previous.settings
    return _realign(previous.cf, previous.position, ids, pointer["version"]), previous.settings


def _realign(cf, old_position: dict[str, int], ids: list[str], version: str):
    """A published CF model on today's item positions; items it never saw get no CF signal."""
    from dummi.ml.collaborative import FactorModel, ItemItemModel

    new_of_old = np.full(len(old_position), -1, np.int64)
    for j, cid in enumerate(ids):
        old = old_position.get(cid)
        if old is not None:
            new_of_old[old] = j
    params = {**cf.params, "reused_from": version}
    if isinstance(cf, FactorModel):
        k = cf.item_factors.shape[1]
        factors, projection = np.zeros((len(ids), k), np.float32), np.zeros((len(ids), k), np.float32)
        present = new_of_old >= 0
        factors[new_of_old[present]] = cf.item_factors[present]
        projection[new_of_old[present]] = cf.projection[present]
        return FactorModel(cf.algorithm, factors, projection, params)
    assert isinstance(cf, ItemItemModel)
    rows: list[list[tuple[int, float]]] = [[] for _ in ids]
    for old in range(cf.n_items):
        new = new_of_old[old]
        if new < 0:
            continue
        lo, hi = cf.indptr[old], cf.indptr[old + 1]
        for j, w in zip(new_of_old[cf.indices[lo:hi]], cf.data[lo:hi], strict=True):
            if j >= 0:
                rows[new].append((int(j), float(w)))
    indptr = np.cumsum([0] + [len(r) for r in rows]).astype(np.int64)
    indices = np.array([j for r in rows for j, _ in r], np.int32)
    data = np.array([w for r in rows for _, w in r], np.float32)
    return ItemItemModel(cf.algorithm, indptr, indices, data, params)
