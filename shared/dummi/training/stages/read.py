"""Read what the model is built on: the embedded catalog (with the clocks serving reads changes from), every
event, and what serves now."""

from __future__ import annotations

import numpy as np

from dummi.db.content_repository import ContentRepository
from dummi.db.interactions_repository import InteractionsRepository
from dummi.db.users_repository import UsersRepository
from dummi.ml.embeddings import from_bytes
from dummi.training.context import Catalog, RunContext
from dummi.training.serving_model import serving_model


def read_catalog(db) -> Catalog:
    """The embedded items in content_id order, with the clock and snapshot xmin read before them."""
    # serving treats content created after this moment as "fresh" (not in this model), and reads every
    # change by a transaction from this snapshot xmin on (dummi.services.catalog_view)
    as_of = db.read(lambda conn: ContentRepository(conn).clock())
    xmin = db.read(lambda conn: ContentRepository(conn).snapshot_xmin())
    items = db.read(lambda conn: ContentRepository(conn).embedded_items())
    vectors = np.vstack([from_bytes(i[4]) for i in items]) if items else np.empty((0, 384), np.float32)
    return Catalog(
        ids=[i[0] for i in items],
        titles=[i[1] for i in items],
        categories=[i[2] for i in items],
        tags=[i[3] for i in items],
        vectors=vectors,
        state={
            key: [i[5][key] for i in items] for key in ("properties", "hidden", "available_from", "available_until")
        },
        as_of=as_of,
        xmin=xmin,
    )


def read_clocks(db):
    """(now by the database's clock, the latest user deletion): a user deleted before that reading is in
    none of the events read after it."""
    return db.read(lambda conn: (ContentRepository(conn).clock(), UsersRepository(conn).last_deletion()))


class ReadCatalogAndEvents:
    """The catalog, the clocks, the events and the serving model, in that order; where the events come from
    is ``read_events`` (the Spark engine reads them into a DataFrame)."""

    name = "read"
    engine = "local"

    def run(self, ctx: RunContext) -> None:
        ctx.progress.start("reading the catalog and events")
        ctx.catalog = read_catalog(ctx.db)
        ctx.events_as_of, ctx.users_deleted_at = read_clocks(ctx.db)
        n_events, how = self.read_events(ctx)
        ctx.serving = serving_model(ctx.store)
        ctx.report.counts.update(items=ctx.catalog.size, interactions=n_events)
        ctx.progress.finish(f"{ctx.catalog.size} items, {n_events} events{how}")

    def read_events(self, ctx: RunContext) -> tuple[int, str]:
        """Sets ``ctx.events``; (how many, a note on how they were read)."""
        ctx.events = ctx.db.read(lambda conn: InteractionsRepository(conn).all_events())
        return len(ctx.events), ""
