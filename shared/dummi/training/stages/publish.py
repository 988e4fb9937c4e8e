"""Publish: every file of the version, then its manifest, then the pointer (``dummi.artifacts.publish``);
prune the versions a user deletion forbids keeping; record the version and the interests worth asking."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import numpy as np

from dummi.artifacts.publish import new_version, prune_trained_before, publish
from dummi.config import get_settings
from dummi.db.interests_repository import InterestsRepository
from dummi.db.training_repository import TrainingRepository
from dummi.ml.interests import suggest
from dummi.ml.model_bundle import ModelBundle, bundle_files
from dummi.training.context import RunContext

SUGGESTIONS_KEPT = 100


def interest_suggestions(categories: list[str], tags: list[list[str]], popularity: np.ndarray):
    """The interests worth asking newcomers about, by engagement (by items when nothing is engaged yet)."""
    source = "engagement" if float(popularity.sum()) > 0 else "catalog"
    weights = popularity.tolist() if source == "engagement" else [1.0] * len(categories)
    return suggest(zip(categories, tags, weights, strict=True), n=SUGGESTIONS_KEPT), source


class Publish:
    name = "publish"
    engine = "local"

    def run(self, ctx: RunContext) -> None:
        c = ctx.catalog
        bundle = ModelBundle(
            item_ids=np.array(c.ids, dtype=object),
            titles=c.titles,
            categories=c.categories,
            index=ctx.index,
            popularity=ctx.popularity,
            cf=ctx.cf,
            settings=ctx.settings,
            vectors=c.vectors,
            cooccurrence=ctx.cooccurrence,
            sequence=ctx.sequence,
            tags=c.tags,
            alternatives=ctx.alternatives,
            state=c.state,
            newcomer_cf=ctx.newcomer_cf,
        )
        ctx.progress.start("publishing")
        files, facts = bundle_files(bundle)
        facts["vectors_sha256"] = c.vectors_digest()  # a later run with the same vectors reuses the index
        version = new_version()
        report = ctx.report
        report.timings["total"] = round(time.perf_counter() - ctx.started, 3)  # as of publishing
        manifest = publish(
            ctx.store,
            version,
            files,
            {
                "created_at": datetime.now(UTC).isoformat(),
                "items_as_of": c.as_of.isoformat(),
                "items_xmin": c.xmin,
                "events_as_of": ctx.events_as_of.isoformat(),
                "run_id": ctx.run_id,
                "params": ctx.params.as_dict(),
                "engine": report.engine,
                "model": facts,
                "counts": dict(report.counts),
                "timings": dict(report.timings),
                "stages": list(report.stages),
                "metrics": ctx.metrics,
            },
            retention=ctx.retention or get_settings().dummi_model_retention,
        )
        if ctx.users_deleted_at is not None:
            # a deleted user's events are in no kept model: every version trained before the deletion goes
            pruned = prune_trained_before(ctx.store, ctx.users_deleted_at, keep={version})
            if pruned:
                report.counts["versions_pruned"] = len(pruned)
        suggestions, source = interest_suggestions(c.categories, c.tags, ctx.popularity)
        with ctx.db.transaction() as conn:
            TrainingRepository(conn).record_model_version(
                version, ctx.run_id, ctx.store.uri, manifest, manifest["metrics"]
            )
            InterestsRepository(conn).replace(suggestions, source, version)
        ctx.version = version
        ctx.progress.finish(version)
