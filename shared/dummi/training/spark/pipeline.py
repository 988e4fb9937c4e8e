"""The Spark engine's stages: the same names and outputs as in process (``dummi.training.stages``), the heavy
work on the executors. Each stage says where it ran: ``spark`` (executors), ``driver`` (in process on the
job's driver: the catalog, the choice on a sample, the index while it fits, publishing).

    embed (mapInPandas) -> read (catalog on the driver; events by JDBC or a Parquet export) -> matrix
    (Spark SQL) -> index (HNSW on the driver; IVF-PQ encoded on the executors for large catalogs) ->
    choose (a sample of users, on the driver) -> cf (MLlib ALS; item-item models on the driver) ->
    item_item (Spark SQL top-k) -> publish (the same ``Publish``)
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from dummi.config import get_settings
from dummi.db.users_repository import UsersRepository
from dummi.domain.events import Event
from dummi.ml.embeddings import ensure_onnx_model, from_bytes
from dummi.training.choice import choose_recipe
from dummi.training.context import RunContext
from dummi.training.embedding import embed_content, embed_user_interests
from dummi.training.spark.als import fit_als
from dummi.training.spark.embed import SPARK_EMBED_BATCH, SparkEmbedder
from dummi.training.spark.events import how_to_read, read_events
from dummi.training.spark.index import SparkIndex
from dummi.training.spark.item_item import cooccurrence, popularity, transitions
from dummi.training.spark.matrix import build_matrix
from dummi.training.stages.cf import FitCF, fit
from dummi.training.stages.choose import Choose
from dummi.training.stages.publish import Publish
from dummi.training.stages.read import ReadCatalogAndEvents

logger = logging.getLogger(__name__)

# The choice scores the real recommender user by user on the driver; what grows with the data is the
# fitting of each candidate on the holdout's training part. It runs on whole users (each keeps its whole
# history, so the holdout cut by time is the same as on all the data) drawn by a hash of their id, as many
# as keep the sample within CHOICE_MAX_EVENTS: past that, the holdout's noise (a few hundred scored users)
# limits the choice more than the sample does.
CHOICE_MAX_EVENTS = 2_000_000


class SparkEmbed:
    name = "embed"
    engine = "spark"

    def run(self, ctx: RunContext) -> None:
        embedder = SparkEmbedder(ctx.spark, str(ensure_onnx_model(get_settings().model_dir)))
        pending_only = not ctx.params.regenerate_embeddings
        result = embed_content(
            ctx.db,
            embedder,
            pending_only=pending_only,
            batch_size=SPARK_EMBED_BATCH,
            progress=ctx.progress.advance,
            on_plan=lambda n: ctx.progress.start("embedding content on Spark", n),
        )
        ctx.progress.finish(f"{result.embedded} of {result.examined} items had new text")
        users = embed_user_interests(ctx.db, embedder, pending_only=pending_only, batch_size=SPARK_EMBED_BATCH)
        ctx.report.counts.update(
            content_examined=result.examined, content_embedded=result.stored, users_embedded=users.stored
        )


class SparkRead(ReadCatalogAndEvents):
    engine = "spark"

    def read_events(self, ctx: RunContext) -> tuple[int, str]:
        how = how_to_read(ctx.db.url())
        events, staged = read_events(ctx.spark, ctx.db, ctx.store, ctx.run_id or "adhoc", how=how)
        if staged:
            ctx.cleanup.append(lambda: ctx.store.delete(staged))
        ctx.events = events.persist()
        ctx.metrics.setdefault("spark", {})["events_read_by"] = how
        return ctx.events.count(), f" ({how})"


class SparkBuildMatrix:
    name = "matrix"
    engine = "spark"

    def run(self, ctx: RunContext) -> None:
        ctx.matrix = build_matrix(ctx.spark, ctx.events, ctx.catalog.ids)
        ctx.report.counts.update(cf_users=ctx.matrix.shape[0], cf_nonzeros=ctx.matrix.nnz)


def sample_choice(ctx: RunContext):
    """The full choice, in process on the driver, on the events of a hash sample of whole users."""
    # pyspark: the spark extra, only on the Spark engine
    from pyspark.sql import functions as F

    total = int(ctx.report.counts.get("interactions", 0))
    share = min(1.0, CHOICE_MAX_EVENTS / max(total, 1))
    events = ctx.events
    if share < 1.0:
        bucket = F.abs(F.xxhash64("user_id")) % F.lit(1_000_000)
        events = events.where(bucket < F.lit(int(share * 1_000_000)))
    frame = (
        events.orderBy("at_us", "interaction_id")
        .select("user_id", "content_id", "kind", "event_type", "duration_seconds", "at_us")
        .toPandas()
    )
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    sample = [
        Event(u, c, k, t, None if d != d else float(d), epoch + timedelta(microseconds=int(us)))  # d != d: NaN
        for u, c, k, t, d, us in frame.itertuples(index=False, name=None)
    ]
    ctx.metrics.setdefault("spark", {})["choice_sample"] = {"events": len(sample), "share_of_users": round(share, 4)}
    raw = ctx.db.read(lambda conn: UsersRepository(conn).interest_vectors())
    interests = {u: (names, from_bytes(v) if v is not None else None) for u, (names, v) in raw.items()}
    c = ctx.catalog
    return choose_recipe(
        sample,
        (c.ids, c.titles, c.categories, c.tags, ctx.index, c.vectors),
        interests,
        ctx.embedder(),
        factors=ctx.params.cf_factors,
        baseline=ctx.serving.recipe if ctx.serving is not None else None,
        engine="spark",
    )


def spark_fit(config: dict[str, Any], matrix):
    """MLlib ALS on the executors; the item-item models and NMF on the driver, on the collected matrix (they
    are candidates only where their items x items matrix fits: ``cf_candidates``)."""
    if config["algorithm"] == "als":
        return fit_als(matrix, config)

    return fit(config, matrix.collect())


class SparkItemItem:
    name = "item_item"
    engine = "spark"

    def run(self, ctx: RunContext) -> None:
        ids = ctx.catalog.ids
        ctx.popularity = popularity(ctx.spark, ctx.events, ids)
        if int(ctx.report.counts.get("interactions", 0)) > 0:
            prior = float(ctx.settings.get("prior_strength", 50.0))
            ctx.cooccurrence = cooccurrence(ctx.spark, ctx.events, ids, prior_strength=prior)
            if ctx.cf is not None:
                ctx.sequence = transitions(ctx.spark, ctx.events, ids)
        else:
            ctx.popularity = np.zeros(len(ids), np.float32)


def spark_stages() -> list:
    choose = Choose(choose=sample_choice)
    choose.engine = "driver"
    cf = FitCF(fitter=spark_fit)
    cf.engine = "spark"
    publish = Publish()
    publish.engine = "driver"
    return [SparkEmbed(), SparkRead(), SparkBuildMatrix(), SparkIndex(), choose, cf, SparkItemItem(), publish]
