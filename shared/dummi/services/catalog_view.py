"""What serving knows of the catalog beyond the loaded model: every item changed, deleted or created since the
model read the catalog, kept up to date by a cheap read every second (``CATALOG_REFRESH_SECONDS``).

One read asks for the rows, and the tombstones of deleted items, written by transactions that the previous
read's snapshot could not see (``changed_xid`` at or above its xmin: exact, however late a transaction
commits, and nothing is read again once seen); vectors are read only for items whose stored vector is newer
than what is held. The first read after a model loads starts at the xmin training recorded before it read
the catalog (``items_xmin`` in the manifest), so a model trained before a take-down (a run that was already
going) never brings the item back, and a model published after it carries the take-down in its own item
state. A model without that record (published before it existed), or with one from another server (a model
restored from a backup: its ids mean nothing here), starts from the whole catalog."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np

from dummi.db.content_repository import ContentRepository
from dummi.db.records import CatalogChange
from dummi.ml.catalog import ItemFacts, epoch
from dummi.ml.embeddings import from_bytes
from dummi.ml.recommender import FreshItems


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
        items_xmin: str | None = None,
        previous: CatalogView | None = None,
    ) -> None:
        self.model_positions = model_positions or {}
        self.changes: dict[str, CatalogChange] = {}
        self.facts: dict[str, ItemFacts] = {}
        self.vectors: dict[str, _Held] = dict(previous.vectors) if previous is not None else {}
        self.watermark: str | None = items_xmin  # the snapshot xmin the next read starts at (None: everything)
        self._first = True
        self.fresh_stamp = 0  # moves whenever the set of fresh items or their vectors may have changed
        self.pending: set[str] = set()  # ids changed since the caller last took them (``take_changed``)

    def read(self, repo: ContentRepository) -> bool:
        """Read what changed since the last read (through ``repo``); True when anything did."""
        if self._first and self.watermark is not None and repo.is_ahead(self.watermark):
            self.watermark = None  # the model's xmin is another server's (a restored backup): read everything
        self._first = False
        xmin, rows = repo.changes_since(self.watermark)
        changed = False
        for row in rows:
            held = self.changes.get(row.content_id)
            if held is not None and (held.changed_at, held.deleted) == (row.changed_at, row.deleted):
                continue  # a transaction still running at the last read may show a row seen already
            if row.content_id not in self.model_positions and (held is None or held.deleted != row.deleted):
                self.fresh_stamp += 1  # an item newer than the model deleted, or created again
            self.changes[row.content_id] = row
            self.facts[row.content_id] = facts_of(row)
            self.pending.add(row.content_id)
            changed = True
        wanted = [
            c.content_id
            for c in self.changes.values()
            if not c.deleted and c.embedded_at is not None and self._needs_vector(c)
        ]
        if wanted:
            for cid, blob in repo.vectors(wanted).items():
                self.vectors[cid] = _Held(self.changes[cid].embedded_at, from_bytes(blob))
                self.pending.add(cid)
            if any(cid not in self.model_positions for cid in wanted):
                self.fresh_stamp += 1
            changed = True
        self.watermark = xmin
        return changed

    def _needs_vector(self, change: CatalogChange) -> bool:
        held = self.vectors.get(change.content_id)
        return held is None or held.embedded_at < change.embedded_at

    def take_changed(self) -> set[str]:
        """The ids changed since the last call (what an incremental update of the catalog applies)."""
        taken, self.pending = self.pending, set()
        return taken

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

    def facts_on(self, position: dict[str, int], ids=None) -> dict[int, ItemFacts]:
        """The current facts of the items that changed since the model's catalog read (or of ``ids`` among
        them), on ``position``."""
        ids = self.facts.keys() if ids is None else ids
        return {position[cid]: self.facts[cid] for cid in ids if cid in position and cid in self.facts}

    def overrides(self) -> dict[int, np.ndarray]:
        """New vectors of model items whose text changed since training (their old vector never serves)."""
        out = {}
        for cid, c in self.changes.items():
            pos = self.model_positions.get(cid)
            if pos is None or c.deleted or c.embedded_at is None:
                continue
            held = self.vectors.get(cid)
            if held is not None and held.embedded_at >= c.embedded_at:  # read since the model's catalog read
                out[pos] = held.vector
        return out
