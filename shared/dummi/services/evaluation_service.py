"""`dummi evaluate`, as docs/evaluation.md specifies: import content, users and train into a fresh
database through the import path, run the real training pipeline, ask the real recommender (default
request, without exploration slots: they are judged online) for 10 items for every user, write them out,
and score them against test.jsonl."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dummi.artifacts.loader import ModelCache
from dummi.artifacts.publish import MANIFEST, MODELS, read_pointer
from dummi.artifacts.store import FileStore
from dummi.db.connection import Database
from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres
from dummi.db.migrations import migrate
from dummi.domain.ranking import RankRequest
from dummi.ml.metrics import list_figures, summarize, users_per_item
from dummi.ml.model_bundle import parse_bundle
from dummi.progress import NullProgress, Progress
from dummi.services.import_service import import_directory
from dummi.services.recommendation_service import RecommendationEngine
from dummi.training.params import TrainingParams
from dummi.training.runs import run_now

K = 10


@dataclass
class EvaluationResult:
    metrics: dict[str, dict[str, float]]  # the default request's (plus "lists": diversity, spread, novelty)
    model_version: str | None
    timings: dict[str, float]
    training: dict[str, Any]
    variants: dict[str, dict[str, dict[str, float]]] | None = None  # per named request, when asked for


def evaluate_directory(
    data_dir: Path,
    recommendations_out: Path,
    *,
    database_url: str | None = None,
    progress: Progress | None = None,
    log: Callable[[str], None] = lambda line: None,
    variants: Mapping[str, RankRequest] | None = None,
    engine: str = "auto",
) -> EvaluationResult:
    """``variants``: further requests (e.g. other diversities) scored the same way on the same model; only
    the default request's lists are written out. ``engine``: where training runs (auto: the planner's
    choice); the deployment's settings apply as in any run (``DUMMI_CF_ALGORITHM`` pins an algorithm)."""
    progress = progress or NullProgress()
    data_dir = Path(data_dir)
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="dummi-evaluate-") as tmp:
        work = Path(tmp)
        stop = None
        if database_url is None:
            database_url = start_embedded_postgres(work / "data")
            stop = lambda: stop_embedded_postgres(work / "data")  # noqa: E731
        db = Database(database_url, pool_size=2, statement_timeout_ms=3_600_000)
        try:
            migrate(db)
            started = time.perf_counter()
            imported = import_directory(db, data_dir, progress=lambda what, n: None)
            timings["import"] = time.perf_counter() - started
            log(f"imported {imported.users} users, {imported.content} items, {imported.events} interactions")

            store = FileStore(work / "artifacts")
            started = time.perf_counter()
            run = run_now(db, store, "evaluate", TrainingParams.configured(engine=engine), progress=progress)
            timings["train"] = time.perf_counter() - started
            if run is None or run.state != "succeeded":
                raise RuntimeError(f"training failed: {run.error if run else 'not run'}")
            log(f"trained {run.model_version} in {timings['train']:.1f}s")

            started = time.perf_counter()
            lists, recommender = recommend_all(db, store, data_dir, variants=variants, progress=progress)
            recommendations = lists["default"]
            recommendations_out.parent.mkdir(parents=True, exist_ok=True)
            with recommendations_out.open("w") as out:
                for user, items in recommendations.items():
                    out.write(json.dumps({"user_id": user, "recommendations": items}) + "\n")
            timings["recommend"] = time.perf_counter() - started
            choice = _choice(store)
        finally:
            db.close()
            if stop is not None:
                stop()

    scored = {name: score_lists(recs, data_dir, recommender, imported.content) for name, recs in lists.items()}
    training = {"timings": run.timings, "counts": run.counts, **choice}
    return EvaluationResult(scored["default"], run.model_version, timings, training, scored if variants else None)


def recommend_all(
    db: Database,
    store: FileStore,
    data_dir: Path,
    *,
    variants: Mapping[str, RankRequest] | None = None,
    progress: Progress | None = None,
) -> tuple[dict[str, dict[str, list[str]]], Any]:
    """({request name: {user: top-10 ids}} for every user in users.jsonl, asked of the real recommender on
    the store's published model; the recommender that answered). The default request has no exploration
    slots: offline, lists are the ranking's own (exploration is judged online and by simulation)."""
    progress = progress or NullProgress()
    engine = RecommendationEngine(db, ModelCache(store, parse_bundle, check_interval=3600))
    users = [json.loads(line)["user_id"] for line in (Path(data_dir) / "users.jsonl").open() if line.strip()]
    requests = {"default": RankRequest(n=K, explore_slots=0), **(variants or {})}
    lists: dict[str, dict[str, list[str]]] = {name: {} for name in requests}
    progress.start("recommending", len(users) * len(requests))
    for user in users:
        for name, request in requests.items():
            served = engine.recommend(db, user, request)
            lists[name][user] = [r.content_id for r in served.recommendations]
            progress.advance()
    progress.finish()
    recommender, _ = engine.recommender(db)
    return lists, recommender


def score_lists(recs: dict[str, list[str]], data_dir: Path, recommender, n_items: int) -> dict[str, dict[str, float]]:
    """EVALUATION.md's metrics of ``recs`` against the split's test.jsonl (all / warm / cold users), and the
    lists' figures (intra-list diversity, category spread, novelty)."""
    data_dir = Path(data_dir)
    relevant: dict[str, set[str]] = {}
    for line in (data_dir / "test.jsonl").open():
        if line.strip():
            e = json.loads(line)
            if e.get("interaction_type") == "like":
                relevant.setdefault(e["user_id"], set()).add(e["content_id"])
    cold_file = data_dir / "cold_users.txt"
    cold = set(cold_file.read_text().split()) if cold_file.exists() else set()
    per_item, users_total = users_per_item(
        (e["user_id"], e["content_id"]) for e in map(json.loads, (data_dir / "train.jsonl").open()) if e
    )
    metrics = summarize(recs, relevant, cold, n_items, K)
    metrics["lists"] = list_figures(
        recs.values(), recommender.position, recommender.vectors, recommender.categories, per_item, users_total
    )
    return metrics


def _choice(store: FileStore) -> dict[str, Any]:
    """The published model's choice (from its manifest): CF configuration, settings, the holdout's figures and
        noise, the confirmation cut's figure, the guard against plain candidates, the newcomers' learned weights,
    the simplifications tried, each step's seconds, the diversity curves."""
    pointer = read_pointer(store)
    if pointer is None:
        return {}
    manifest = json.loads(store.get(f"{MODELS}/{pointer['version']}/{MANIFEST}"))
    metrics = manifest.get("metrics", {})
    return {
        "cf": manifest.get("model", {}).get("cf"),
        "settings": manifest.get("model", {}).get("settings", {}),
        **{
            k: metrics[k]
            for k in (
                "holdout",
                "noise",
                "confirmation",
                "cf_candidates",
                "guard",
                "newcomers",
                "decisions",
                "step_seconds",
                "tuning_seconds",
            )
            if k in metrics
        },
        "diversity_curve": metrics.get("diversity_curve", {}),
    }


def format_metrics(metrics: dict[str, dict[str, float]]) -> str:
    lines = [f"{'users':<6} {'n':>5} {'NDCG@10':>8} {'Recall@10':>9} {'Prec@10':>8} {'MAP@10':>8} {'HitRate':>8}"]
    for group in ("all", "warm", "cold"):
        m = metrics[group]
        lines.append(
            f"{group:<6} {int(m['users']):>5} {m['ndcg']:>8.4f} {m['recall']:>9.4f} {m['precision']:>8.4f} "
            f"{m['map']:>8.4f} {m['hit_rate']:>8.4f}"
        )
    lines.append(f"catalog coverage: {metrics['all']['coverage']:.3f}")
    if "lists" in metrics:
        m = metrics["lists"]
        lines.append(
            f"lists: intra-list diversity {m['intra_list_diversity']:.3f}, category spread {m['category_spread']:.3f}, "
            f"novelty {m['novelty']:.2f} bits"
        )
    return "\n".join(lines)
