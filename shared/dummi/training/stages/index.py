"""The FAISS index over the catalog's vectors. Built anew only when the vectors changed: when the ids and
vectors are those of the serving model (their digest is in its manifest), its index is read back from the
store instead (an HNSW build costs ~15 s per 100K items; reading it back a fraction of that)."""

from __future__ import annotations

import logging

from dummi.artifacts.publish import MODELS, sha256
from dummi.ml.model_bundle import INDEX_FILE
from dummi.ml.vector_index import VectorIndex, build_index
from dummi.training.context import RunContext

logger = logging.getLogger(__name__)


def reusable_index(ctx: RunContext, digest: str):
    """The serving model's index when it was built on exactly these ids and vectors (and its file is the one
    its manifest names), else None."""
    manifest = (ctx.serving.manifest or {}) if ctx.serving else {}
    facts = manifest.get("model") or {}
    if facts.get("vectors_sha256") != digest:
        return None
    try:
        blob = ctx.store.get(f"{MODELS}/{ctx.serving.version}/{INDEX_FILE}")
        if sha256(blob) != manifest["files"][INDEX_FILE]["sha256"]:
            raise ValueError(f"{INDEX_FILE} of {ctx.serving.version} does not match its manifest's checksum")
        return VectorIndex.deserialize(
            blob, ctx.catalog.ids, facts["index"], params=facts.get("index_params"), vectors=ctx.catalog.vectors
        )
    except Exception:  # noqa: BLE001 - a missing or broken file: build it
        logger.warning("the serving model's index could not be read back; building it", exc_info=True)
        return None


class BuildIndex:
    """The serving model's index read back, or one built by ``build``."""

    name = "index"
    engine = "local"

    def run(self, ctx: RunContext) -> None:
        ctx.progress.start("building index")
        ctx.index = reusable_index(ctx, ctx.catalog.vectors_digest())
        how = f"reused from {ctx.serving.version}" if ctx.index is not None else "built"
        if ctx.index is None:
            ctx.index = self.build(ctx)
        params = f" {ctx.index.params}" if ctx.index.params else ""
        ctx.progress.finish(f"{ctx.index.size} items, {ctx.index.kind}{params}, {how}")

    def build(self, ctx: RunContext):
        return build_index(ctx.catalog.ids, ctx.catalog.vectors)
