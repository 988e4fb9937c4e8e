"""Embed changed text: content whose title, category, tags or description changed since it was embedded
(by text hash), and users' stated interests; only rows a write marked, unless ``regenerate_embeddings``."""

from __future__ import annotations

from dummi.training.context import RunContext
from dummi.training.embedding import embed_content, embed_user_interests


class EmbedChangedText:
    name = "embed"
    engine = "local"

    def run(self, ctx: RunContext) -> None:
        # the embedder is the run's own (RunContext.embedder: the caller's factory, else the ONNX one)
        pending_only = not ctx.params.regenerate_embeddings
        result = embed_content(
            ctx.db,
            ctx.embedder(),
            pending_only=pending_only,
            progress=ctx.progress.advance,
            on_plan=lambda n: ctx.progress.start("embedding content", n),
        )
        ctx.progress.finish(f"{result.embedded} of {result.examined} items had new text")
        users = embed_user_interests(ctx.db, ctx.embedder(), pending_only=pending_only)
        ctx.report.counts.update(
            content_examined=result.examined, content_embedded=result.stored, users_embedded=users.stored
        )
