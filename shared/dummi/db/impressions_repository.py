"""All SQL about impressions: logging an answer, finding the answer an interaction came from, retention."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from dummi.db.connection import Connection


@dataclass(frozen=True, slots=True)
class Impression:
    """One logged answer; position p (1-based) of the answer is index p - 1 of the lists."""

    recommendation_id: str
    user_id: str | None
    surface: str
    endpoint: str
    model_version: str | None
    experiment: str | None
    variant: str | None
    created_at: datetime | None
    item_ids: list[str]
    scores: list[float]
    methods: list[str]
    propensities: list[float | None] | None = None  # exploration's, per position (None: ranked)
    explore: list[dict] | None = None  # each exploration decision as made (dummi.ml.explore.target_probability)
    session_id: str | None = None  # the anonymous session it was shown to
    lineage: str | None = None  # the first page's recommendation_id (itself on page 1; None: not paged)
    page: int | None = None  # 1, 2, ... within the lineage
    promotion: str | None = None  # the request's promotion
    promoted: list[int] | None = None  # the 1-based positions the promotion held


@dataclass(frozen=True, slots=True)
class Attribution:
    recommendation_id: str
    position: int  # 1-based
    how: str  # explicit | window


class ImpressionsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def log(self, impression: Impression) -> None:
        """One INSERT (autocommit). Safe to repeat: the id is the primary key. The user id is kept only while
        the user exists (a key-share lock on its row: an answer logged while the user is being deleted waits
        for the delete and then names nobody), so a deleted user leaves no impression behind."""
        self.conn.run(
            "INSERT INTO impressions (recommendation_id, user_id, surface, endpoint, model_version, experiment,"
            " variant, created_at, item_ids, scores, methods, propensities, explore, session_id, lineage, page,"
            " promotion, promoted)"
            " VALUES (CAST(:id AS uuid),"
            "         (SELECT u.user_id FROM users u WHERE u.user_id = CAST(:user_id AS text) FOR KEY SHARE),"
            "         :surface, :endpoint, :model_version, :experiment, :variant,"
            "         COALESCE(CAST(:created_at AS timestamptz), now()), CAST(:item_ids AS text[]),"
            "         CAST(:scores AS real[]), CAST(:methods AS text[]), CAST(:propensities AS real[]),"
            "         CAST(:explore AS jsonb), CAST(:session_id AS text), CAST(:lineage AS uuid),"
            "         CAST(:page AS integer), CAST(:promotion AS text), CAST(:promoted AS integer[]))"
            " ON CONFLICT (recommendation_id) DO NOTHING",
            id=impression.recommendation_id,
            user_id=impression.user_id,
            surface=impression.surface,
            endpoint=impression.endpoint,
            model_version=impression.model_version,
            experiment=impression.experiment,
            variant=impression.variant,
            created_at=impression.created_at,
            item_ids=impression.item_ids,
            scores=impression.scores,
            methods=impression.methods,
            propensities=impression.propensities,
            explore=json.dumps(impression.explore) if impression.explore else None,
            session_id=impression.session_id,
            lineage=impression.lineage,
            page=impression.page,
            promotion=impression.promotion,
            promoted=impression.promoted,
        )

    def latest_listing(
        self, user_id: str | None, content_id: str, window: timedelta, session_id: str | None = None
    ) -> Attribution | None:
        """The latest answer to ``user_id`` (or, without one, to the session) within ``window`` (before now)
        that listed ``content_id``."""
        who = "user_id = :user_id" if user_id is not None else "session_id = :session_id AND user_id IS NULL"
        rows = self.conn.run(
            "SELECT CAST(recommendation_id AS text), array_position(item_ids, :content_id) FROM impressions"
            f" WHERE {who} AND created_at >= now() - CAST(:window AS interval)"
            "   AND :content_id = ANY(item_ids)"
            " ORDER BY created_at DESC LIMIT 1",
            content_id=content_id,
            window=f"{window.total_seconds()} seconds",
            **({"user_id": user_id} if user_id is not None else {"session_id": session_id}),
        )
        return Attribution(rows[0][0], int(rows[0][1]), "window") if rows else None

    def delete_older_than(self, cutoff: datetime, batch: int) -> int:
        """Delete at most ``batch`` of the oldest impressions created before ``cutoff``; how many went."""
        rows = self.conn.run(
            "WITH doomed AS (SELECT recommendation_id FROM impressions WHERE created_at < :cutoff"
            "                ORDER BY created_at LIMIT :batch)"
            " DELETE FROM impressions i USING doomed d WHERE i.recommendation_id = d.recommendation_id"
            " RETURNING 1",
            cutoff=cutoff,
            batch=batch,
        )
        return len(rows)

    def get(self, recommendation_id: str) -> Impression | None:
        rows = self.conn.run(
            "SELECT CAST(recommendation_id AS text), user_id, surface, endpoint, model_version, experiment, variant,"
            " created_at, item_ids, scores, methods, propensities, explore, session_id, CAST(lineage AS text), page,"
            " promotion, promoted FROM impressions WHERE recommendation_id = CAST(:id AS uuid)",
            id=recommendation_id,
        )
        if not rows:
            return None
        r = rows[0]
        propensities = list(r[11]) if r[11] is not None else None
        explore = (json.loads(r[12]) if isinstance(r[12], str) else r[12]) if r[12] is not None else None
        return Impression(
            *r[:8],
            list(r[8]),
            list(r[9]),
            list(r[10]),
            propensities,
            explore,
            r[13],
            r[14],
            r[15],
            r[16],
            list(r[17]) if r[17] is not None else None,
        )

    def for_user(self, user_id: str) -> list[dict]:
        """Every answer logged for the user, oldest first (an export)."""
        rows = self.conn.run(
            "SELECT CAST(recommendation_id AS text), surface, endpoint, model_version, experiment, variant,"
            " created_at, item_ids, scores, methods FROM impressions WHERE user_id = :user_id ORDER BY created_at",
            user_id=user_id,
        )
        return [
            {
                "recommendation_id": r[0],
                "surface": r[1],
                "endpoint": r[2],
                "model_version": r[3],
                "experiment": r[4],
                "variant": r[5],
                "created_at": r[6].isoformat(),
                "item_ids": list(r[7]),
                "scores": [float(x) for x in r[8]],
                "methods": list(r[9]),
            }
            for r in rows
        ]

    def explore_decisions(self, since: datetime, click_types: list[str]) -> list[tuple[dict, bool]]:
        """Every logged exploration decision since ``since`` with whether its item got an attributed click."""
        rows = self.conn.run(
            "SELECT d.decision, EXISTS (SELECT 1 FROM interactions e WHERE e.recommendation_id = i.recommendation_id"
            "   AND e.content_id = i.item_ids[CAST(d.decision->>'position' AS integer)]"
            "   AND e.event_type = ANY(CAST(:clicks AS text[])))"
            " FROM impressions i, jsonb_array_elements(i.explore) AS d(decision)"
            " WHERE i.explore IS NOT NULL AND i.created_at >= :since",
            since=since,
            clicks=click_types,
        )
        return [(r[0] if isinstance(r[0], dict) else json.loads(r[0]), bool(r[1])) for r in rows]
