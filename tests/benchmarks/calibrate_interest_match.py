"""Where does "close to a stated interest" start? The cosine threshold of ``INTEREST_MATCH_COSINE``
(``dummi.ml.recommender``) is calibrated here: for catalogs whose items carry labels (the ml-100k split's
genres, the sample catalog's categories and tags), each label is embedded as an interest would be and
compared with every item's embedding; an item whose category or tags hold the label is a true match.
Prints precision and recall of "cosine >= t" per threshold, for single interests and for the interest
lists of the split's users (3 genres each; an item matches when it holds any of them).

    .venv/bin/python tests/benchmarks/calibrate_interest_match.py
"""

from __future__ import annotations

import json

import numpy as np
from _common import ML100K, ROOT, model_dir

THRESHOLDS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)


def catalogs() -> list[tuple[str, list[dict], list[list[str]]]]:
    sample = json.loads((ROOT / "data" / "sample_data.json").read_text())
    out = [("sample catalog", sample["content"], [u.get("interests", []) for u in sample["users"]])]
    if (ML100K / "content.jsonl").exists():
        content = [json.loads(line) for line in (ML100K / "content.jsonl").open()]
        users = [json.loads(line)["interests"] for line in (ML100K / "users.jsonl").open()]
        out.append(("ml-100k genres", content, users))
    return out


def report(title: str, sims: list[np.ndarray], truth: list[np.ndarray]) -> None:
    print(f"  {title}")
    for t in THRESHOLDS:
        tp = sum(int((s >= t)[y].sum()) for s, y in zip(sims, truth, strict=True))
        fp = sum(int((s >= t)[~y].sum()) for s, y in zip(sims, truth, strict=True))
        fn = sum(int((s < t)[y].sum()) for s, y in zip(sims, truth, strict=True))
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        per_list = (tp + fp) / len(sims)
        print(f"    cosine >= {t:.2f}: precision {precision:.3f}  recall {recall:.3f}  matches/list {per_list:7.1f}")


def main() -> None:
    from dummi.ml.embeddings import OnnxEmbedder
    from dummi.ml.interests import item_labels, label
    from dummi.ml.text import content_text, interests_text

    embedder = OnnxEmbedder(model_dir())
    for name, content, user_interests in catalogs():
        texts = [content_text(c["title"], c["category"], c.get("tags", []), c.get("description", "")) for c in content]
        vectors = embedder.encode(texts)
        labels = [item_labels(c["category"], c.get("tags", [])) for c in content]
        names = sorted({x for ls in labels for x in ls})
        print(f"{name}: {len(content)} items, {len(names)} labels")
        interest_vectors = embedder.encode([interests_text([x]) for x in names])
        sims = [vectors @ v for v in interest_vectors]
        truth = [np.array([x in ls for ls in labels]) for x in names]
        report("one interest (each label)", sims, truth)
        lists = [u for u in user_interests if u][:300]
        if lists:
            list_vectors = embedder.encode([interests_text(u) for u in lists])
            sims = [vectors @ v for v in list_vectors]
            truth = [np.array([bool(ls & {label(x) for x in u}) for ls in labels]) for u in lists]
            report(f"users' interest lists ({len(lists)})", sims, truth)


if __name__ == "__main__":
    main()
