"""What gets embedded, and how a text is identified (pure Python: the repositories import this)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSION = 384


def content_text(title: str, category: str, tags: Sequence[str], description: str) -> str:
    """The text embedded for a content item: title + category + tags + description (the product's definition)."""
    parts = [title.strip(), category.strip(), ", ".join(t.strip() for t in tags if t.strip()), description.strip()]
    return ". ".join(p for p in parts if p)


def interests_text(interests: Sequence[str]) -> str:
    """The text embedded for a user's interests (tags like 'machine-learning' read better with spaces)."""
    return ", ".join(i.replace("-", " ").replace("_", " ").strip() for i in interests if i.strip())


def text_hash(text: str) -> str:
    """Identifies an embedded text (and the model), so only changed texts are embedded again."""
    return hashlib.sha256(f"{MODEL_NAME}\n{text}".encode()).hexdigest()
