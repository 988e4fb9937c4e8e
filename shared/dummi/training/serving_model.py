"""What serves now, as training needs to know it: the pointer's version, its recipe and items."""

from __future__ import annotations

import json
import logging

from dummi.artifacts.publish import MANIFEST, MODELS, read_pointer
from dummi.artifacts.store import ArtifactStore
from dummi.ml.model_bundle import ITEMS_FILE
from dummi.ml.publish_gate import Serving, algorithms, recipe

logger = logging.getLogger(__name__)


def serving_model(store: ArtifactStore) -> Serving | None:
    """The pointer's version: its recipe and item ids, or None before the first model. A version that cannot
    be read counts as none: the new model is published."""
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
    return Serving(
        version,
        recipe(facts),
        frozenset(items["ids"]),
        algorithms(facts),
        manifest.get("events_as_of"),
        manifest,
    )
