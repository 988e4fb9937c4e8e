"""`dummi evaluate` end to end on a split of its own making: import, train, recommend for every user, score."""

from __future__ import annotations

import json

from dummi.services.evaluation_service import evaluate_directory
from tests.conftest import write_tastes


def test_evaluate_scores_every_user_s_list_against_the_held_out_likes(db, migrated, tmp_path):
    # Given a split: users liking one topic each, the next item of their topic held out as the test
    folder = write_tastes(tmp_path / "split")
    test = [
        {
            "user_id": f"u{u}",
            "content_id": f"{('soups', 'rockets', 'violins')[u % 3]}-{(u + 40) % 12}",
            "interaction_type": "like",
            "timestamp": "2026-02-01T00:00:00+00:00",
        }
        for u in range(60)
    ]
    (folder / "test.jsonl").write_text("".join(json.dumps(e) + "\n" for e in test))
    (folder / "cold_users.txt").write_text("u0\nu1\n")
    # When it is evaluated (on the emptied test database; the CLI makes a fresh one)
    result = evaluate_directory(folder, tmp_path / "recs.jsonl", database_url=migrated, engine="local")
    # Then every user has a list of 10, and the figures are those of EVALUATION.md
    lines = [json.loads(line) for line in (tmp_path / "recs.jsonl").read_text().splitlines()]
    assert len(lines) == 60 and all(len(line["recommendations"]) == 10 for line in lines)
    metrics = result.metrics
    assert metrics["all"]["users"] == 60 and metrics["cold"]["users"] == 2 and metrics["warm"]["users"] == 58
    # one topic of 12 items, 8 of them seen: the held-out item is among the 4 left, near the top
    assert metrics["warm"]["hit_rate"] > 0.9 and 0 < metrics["all"]["ndcg"] <= 1
    assert set(metrics["lists"]) == {"intra_list_diversity", "category_spread", "novelty"}
    assert result.training["counts"]["interactions"] == 480
