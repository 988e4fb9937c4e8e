"""What serving knows of the catalog beyond the loaded model: every item changed, deleted or created since the
model read the catalog, kept up to date by a cheap read every second (``CATALOG_REFRESH_SECONDS``).

One read asks for the rows whose ``changed_at`` is past the previous read's database clock minus
``CHANGES_MARGIN`` (a write's transaction may commit up to a statement timeout after its ``now()``), and for
tombstones of deleted items; vectors are read only for items whose stored vector is newer than what is held.
The first read after a model loads starts at the model's ``items_as_of`` minus the margin, so a model trained
before a take-down (a run that was already going) never brings the item back, and a model published after it
carries the take-down in its own item state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from dummi.db.connection import Connection
from dummi.db.content_repository import ContentRepository
from dummi.db.records import CatalogChange
from dummi.ml.catalog import ItemFacts, epoch
from dummi.ml.embeddings import from_bytes
from dummi.ml.recommender import FreshItems

CHANGES_MARGIN = timedelta(seconds=60)


@dataclass(frozen=True)
class _Held:
    embedded_at: datetime
    vector: np.ndarray


def facts_of(change: CatalogChange) -> ItemFacts:
    return ItemFacts(
        change.title,
        change.category,
        change.tags,
        change.properties,
        change.hidden,
        epoch(change.available_from, -np.inf),
        epoch(change.available_until, np.inf),
        change.deleted,
    )


class CatalogView:
    """Changes since one model's catalog read (a new model starts a new view; vectors already read for items
    newer than the model are carried over)."""

    def __init__(
        self,
        model_positions: dict[str, int] | None = None,
        as_of: datetime | None = None,
        previous: CatalogView | None = None,
    ) -> None:
        self.model_positions = model_positions or {}
        self.as_of = as_of
        self.changes: dict[str, CatalogChange] = {}
        self.vectors: dict[str, _Held] = dict(previous.vectors) if previous is not None else {}
        self.watermark: datetime | None = None
        self.fresh_stamp = 0  # moves whenever the fresh items or their vectors change
        self._since_model = as_of - CHANGES_MARGIN if as_of is not None else None

    def read(self, conn: Connection) -> bool:
        """Read what changed since the last read; True when anything did."""
        repo = ContentRepository(conn)
        since = self.watermark - CHANGES_MARGIN if self.watermark is not None else self._since_model
        clock, rows = repo.changes_since(since)
        changed = False
        for row in rows:
            held = self.changes.get(row.content_id)
            if held is not None and (held.changed_at, held.deleted) == (row.changed_at, row.deleted):
                continue
            if held is not None and row.changed_at < held.changed_at:
                continue  # an older state seen again within the margin
            self.changes[row.content_id] = row
            changed = True
        wanted = [
            c.content_id
            for c in self.changes.values()
            if not c.deleted and c.embedded_at is not None and self._needs_vector(c)
        ]
        if wanted:
            for cid, blob in repo.vectors(wanted).items():
                self.vectors[cid] = _Held(self.changes[cid].embedded_at, from_bytes(blob))
            if any(cid not in self.model_positions for cid in wanted):
                self.fresh_stamp += 1
            changed = True
        self.watermark = clock
        return changed

    def _needs_vector(self, change: CatalogChange) -> bool:
        held = self.vectors.get(change.content_id)
        if held is not None and held.embedded_at >= change.embedded_at:
            return False
        if change.content_id in self.model_positions:
            # the model's own vector is as new as its catalog read; a later one replaces it
            return self._since_model is None or change.embedded_at > self._since_model
        return True

    def is_deleted(self, content_id: str) -> bool:
        change = self.changes.get(content_id)
        return change is not None and change.deleted

    def fresh_items(self) -> FreshItems:
        """Embedded items the model does not hold, in content_id order."""
        rows = sorted(
            (c for c in self.changes.values() if c.content_id not in self.model_positions and not c.deleted),
            key=lambda c: c.content_id,
        )
        rows = [c for c in rows if c.content_id in self.vectors]
        return FreshItems(
            ids=[c.content_id for c in rows],
            titles=[c.title for c in rows],
            categories=[c.category for c in rows],
            tags=[c.tags for c in rows],
            vectors=np.vstack([self.vectors[c.content_id].vector for c in rows])
            if rows
            else np.empty((0, 384), np.float32),
            facts=[facts_of(c) for c in rows],
        )

    def facts_on(self, position: dict[str, int]) -> dict[int, ItemFacts]:
        """The current facts of the items that changed since the model's catalog read, on ``position``."""
        return {position[cid]: facts_of(c) for cid, c in self.changes.items() if cid in position}

    def overrides(self) -> dict[int, np.ndarray]:
        """New vectors of model items whose text changed since training (their old vector never serves)."""
        out = {}
        for cid, c in self.changes.items():
            pos = self.model_positions.get(cid)
            if pos is None or c.deleted:
                continue
            held = self.vectors.get(cid)
            if held is not None and (self._since_model is None or held.embedded_at > self._since_model):
                out[pos] = held.vector
        return out
