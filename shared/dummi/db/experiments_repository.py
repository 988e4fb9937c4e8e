"""All SQL about experiments: their definitions, and the per-user sums their results are computed from."""

from __future__ import annotations

import json
from datetime import datetime

from pg8000.exceptions import DatabaseError

from dummi.db.connection import Connection
from dummi.db.errors import is_unique_violation
from dummi.errors import ConflictError
from dummi.experiments.assignment import Experiment, Variant
from dummi.experiments.statistics import UserSums

_COLUMNS = "name, salt, variants, traffic_percent, starts_at, ends_at, stopped_at, created_at"


def _experiment(row: list) -> Experiment:
    variants = row[2] if isinstance(row[2], list) else json.loads(row[2])
    return Experiment(
        name=row[0],
        salt=row[1],
        variants=tuple(Variant(v["name"], float(v["weight"]), dict(v.get("overrides") or {})) for v in variants),
        traffic_percent=float(row[3]),
        starts_at=row[4],
        ends_at=row[5],
        stopped_at=row[6],
        created_at=row[7],
    )


class ExperimentsRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def create(self, experiment: Experiment) -> Experiment:
        variants = [{"name": v.name, "weight": v.weight, "overrides": v.overrides} for v in experiment.variants]
        try:
            rows = self.conn.run(
                f"INSERT INTO experiments (name, salt, variants, traffic_percent, starts_at, ends_at)"
                f" VALUES (:name, :salt, CAST(:variants AS jsonb), :traffic, :starts_at, :ends_at)"
                f" RETURNING {_COLUMNS}",
                name=experiment.name,
                salt=experiment.salt,
                variants=json.dumps(variants),
                traffic=experiment.traffic_percent,
                starts_at=experiment.starts_at,
                ends_at=experiment.ends_at,
            )
        except DatabaseError as exc:
            if is_unique_violation(exc):
                raise ConflictError(f"experiment {experiment.name!r} already exists", field="name") from exc
            raise
        return _experiment(rows[0])

    def get(self, name: str, *, lock: bool = False) -> Experiment | None:
        """``lock``: the row held until the transaction ends (a change decided on what it read)."""
        rows = self.conn.run(
            f"SELECT {_COLUMNS} FROM experiments WHERE name = :name" + (" FOR UPDATE" if lock else ""), name=name
        )
        return _experiment(rows[0]) if rows else None

    def all(self) -> list[Experiment]:
        rows = self.conn.run(f"SELECT {_COLUMNS} FROM experiments ORDER BY created_at, name")
        return [_experiment(r) for r in rows]

    def live(self) -> list[Experiment]:
        """Experiments not stopped and not ended (some may start later), the first to take users first (its
        start, or its creation where it was created with a start already past): a user in a running experiment
        stays in it when another begins, one created earlier to start later or one created later backdated."""
        rows = self.conn.run(
            f"SELECT {_COLUMNS} FROM experiments WHERE stopped_at IS NULL AND (ends_at IS NULL OR ends_at > now())"
            f" ORDER BY GREATEST(starts_at, created_at), created_at, name"
        )
        return [_experiment(r) for r in rows]

    def stop(self, name: str) -> Experiment | None:
        rows = self.conn.run(
            f"UPDATE experiments SET stopped_at = COALESCE(stopped_at, now()), updated_at = now()"
            f" WHERE name = :name RETURNING {_COLUMNS}",
            name=name,
        )
        return _experiment(rows[0]) if rows else None

    def set_traffic(self, name: str, traffic_percent: float) -> Experiment | None:
        rows = self.conn.run(
            f"UPDATE experiments SET traffic_percent = :traffic, updated_at = now()"
            f" WHERE name = :name RETURNING {_COLUMNS}",
            name=name,
            traffic=traffic_percent,
        )
        return _experiment(rows[0]) if rows else None

    def user_sums(
        self, name: str, click_types: list[str], since: datetime | None = None, until: datetime | None = None
    ):
        """{variant: UserSums} over the users who got at least one answer in the experiment: per user, the
        items shown (impressions) and the shown items they clicked (an event of ``click_types``, once per
        answer and item)."""
        rows = self.conn.run(
            "WITH shown AS ("
            "   SELECT recommendation_id, user_id, variant, cardinality(item_ids) AS n FROM impressions"
            "   WHERE experiment = :name AND user_id IS NOT NULL"
            "     AND (CAST(:since AS timestamptz) IS NULL OR created_at >= :since)"
            "     AND (CAST(:until AS timestamptz) IS NULL OR created_at < :until)),"
            " clicked AS ("
            "   SELECT e.recommendation_id, count(DISTINCT e.content_id) AS c"
            "   FROM interactions e JOIN shown s ON s.recommendation_id = e.recommendation_id"
            "   WHERE e.event_type = ANY(CAST(:clicks AS text[])) GROUP BY e.recommendation_id),"
            " per_user AS ("
            "   SELECT s.variant, s.user_id, sum(s.n)::float8 AS n, COALESCE(sum(c.c), 0)::float8 AS x"
            "   FROM shown s LEFT JOIN clicked c ON c.recommendation_id = s.recommendation_id"
            "   GROUP BY s.variant, s.user_id)"
            " SELECT variant, count(*), sum(x), sum(n), sum(x * x), sum(n * n), sum(x * n)"
            " FROM per_user GROUP BY variant",
            name=name,
            since=since,
            until=until,
            clicks=click_types,
        )
        return {r[0]: UserSums(int(r[1]), *(float(v) for v in r[2:])) for r in rows}

    def user_sums_at(self, name: str, cuts: list[datetime], click_types: list[str]) -> list[dict[str, UserSums]]:
        """user_sums(name, until=cut) for every cut (ascending), in one pass over the experiment's answers:
        each answer falls in the first cut after it, each user's figures are summed up cut by cut, and a user
        counts at every cut from their first answer on."""
        rows = self.conn.run(
            "WITH shown AS ("
            "   SELECT recommendation_id, user_id, variant, cardinality(item_ids) AS n,"
            "          width_bucket(created_at, CAST(:cuts AS timestamptz[])) + 1 AS k FROM impressions"
            "   WHERE experiment = :name AND user_id IS NOT NULL AND created_at < :last),"
            " clicked AS ("
            "   SELECT e.recommendation_id, count(DISTINCT e.content_id) AS c"
            "   FROM interactions e JOIN shown s ON s.recommendation_id = e.recommendation_id"
            "   WHERE e.event_type = ANY(CAST(:clicks AS text[])) GROUP BY e.recommendation_id),"
            " per_cut AS ("
            "   SELECT s.variant, s.user_id, s.k, sum(s.n)::float8 AS n, COALESCE(sum(c.c), 0)::float8 AS x"
            "   FROM shown s LEFT JOIN clicked c ON c.recommendation_id = s.recommendation_id"
            "   GROUP BY s.variant, s.user_id, s.k),"
            " running AS ("
            "   SELECT variant, k, sum(n) OVER w AS n, sum(x) OVER w AS x,"
            "          COALESCE(lead(k) OVER w, :count + 1) AS next_k"
            "   FROM per_cut WINDOW w AS (PARTITION BY variant, user_id ORDER BY k))"
            " SELECT g.k, r.variant, count(*), sum(r.x), sum(r.n), sum(r.x * r.x), sum(r.n * r.n), sum(r.x * r.n)"
            " FROM running r JOIN generate_series(1, :count) AS g(k) ON g.k >= r.k AND g.k < r.next_k"
            " GROUP BY g.k, r.variant",
            name=name,
            cuts=cuts,
            last=cuts[-1],
            count=len(cuts),
            clicks=click_types,
        )
        out: list[dict[str, UserSums]] = [{} for _ in cuts]
        for r in rows:
            out[int(r[0]) - 1][r[1]] = UserSums(int(r[2]), *(float(v) for v in r[3:]))
        return out
