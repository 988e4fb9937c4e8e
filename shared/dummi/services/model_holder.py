"""The published model serving answers from: loaded on first use and swapped for a newer version when the
pointer names one, re-checked at most every ``DUMMI_MODEL_CHECK_SECONDS`` (``dummi.artifacts.loader``: checksums
verified, the last good model kept on any error)."""

from __future__ import annotations

from dataclasses import dataclass

from dummi.artifacts.loader import ModelCache
from dummi.artifacts.store import get_artifact_store
from dummi.config import Settings
from dummi.ml.model_bundle import ModelBundle, parse_bundle


@dataclass(frozen=True)
class ServingModel:
    """The model in service as serving reads it (all None before training first publishes)."""

    version: str | None
    bundle: ModelBundle | None
    # the snapshot xmin training recorded before it read the catalog (``dummi.services.catalog_view``)
    items_xmin: str | None = None


NO_MODEL = ServingModel(None, None)


class ModelHolder:
    """The model bundle in service, re-checked for a newer published version on every ``get``."""

    def __init__(self, models: ModelCache[ModelBundle]) -> None:
        self.models = models

    @classmethod
    def from_settings(cls, settings: Settings) -> ModelHolder:
        """The artifact store's published model, re-checked every ``dummi_model_check_seconds``."""
        return cls(ModelCache(get_artifact_store, parse_bundle, check_interval=settings.dummi_model_check_seconds))

    def get(self) -> ServingModel:
        """The model in service, after looking for a newer version when the check interval has passed."""
        loaded = self.models.get()
        if loaded is None:
            return NO_MODEL
        return ServingModel(loaded.version, loaded.model, loaded.manifest.get("items_xmin"))

    @property
    def last_error(self) -> str | None:
        """Why the last look for a newer version failed (None: it did not)."""
        return self.models.last_error
