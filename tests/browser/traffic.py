"""A month of traffic written straight into Postgres, as if the service had been answering for weeks: answers
on two surfaces (logged impressions, in an experiment's variants where its users fall), the clicks they
earned (attributed to their answer and position), then the online metrics job over those days. For the
console's browser tests, its screenshots and its benchmark (tests/benchmarks/bench_console.py): the console
must be looked at with history in it, and the service itself only writes "now"."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from dummi.db.connection import Database
from dummi.experiments.assignment import assign
from dummi.services import experiments_service, online_metrics_service
from dummi.services.impressions_service import new_recommendation_id

SURFACES = (("home", 0.7), ("email", 0.3))
N = 10


@dataclass(frozen=True)
class Written:
    answers: int
    clicks: int
    days: int


def write_month(
    db: Database,
    *,
    days: int = 30,
    answers_per_day: int = 200,
    base_ctr: float = 0.04,
    variant_lift: dict[str, float] | None = None,
    seed: int = 7,
    now: datetime | None = None,
    users: list[str] | None = None,
) -> Written:
    """``answers_per_day`` answers a day for the last ``days`` days (today up to ``now``), 10 items each,
    clicked with ``base_ctr`` falling with the position (x (1 + lift) in the variants named), then the
    metrics job over every one of those days. ``users``: who gets the answers (default: every user)."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    variant_lift = variant_lift or {}

    def catalog(conn):
        everyone = [r[0] for r in conn.run("SELECT user_id FROM users ORDER BY user_id")]
        items = [r[0] for r in conn.run("SELECT content_id FROM content WHERE NOT hidden ORDER BY content_id")]
        return everyone, items

    everyone, items = db.read(catalog)
    users = users or everyone
    experiments = experiments_service.list_all(db)
    popular = items[: max(N, len(items) // 5)]  # a head the lists lean on, as real lists do
    answers, clicks = [], []
    for back in range(days - 1, -1, -1):
        day = now.date() - timedelta(days=back)
        start = datetime.combine(day, time.min, UTC)
        span = (now - start).total_seconds() if back == 0 else 86_400.0
        weekly = 1.0 + 0.15 * ((day.toordinal() % 7) in (5, 6))  # busier weekends
        for _ in range(int(answers_per_day * weekly * span / 86_400)):
            at = start + timedelta(seconds=rng.uniform(0, span - 120))
            user = rng.choice(users)
            surface = rng.choices([s for s, _ in SURFACES], [w for _, w in SURFACES])[0]
            shown = rng.sample(popular, N // 2) + rng.sample(items, N)
            listed = list(dict.fromkeys(shown))[:N]
            assignment = assign(experiments, user, at) if surface == "home" else None
            lift = variant_lift.get(assignment.variant.name, 0.0) if assignment else 0.0
            rid = new_recommendation_id(at.timestamp())
            answers.append(
                (
                    rid,
                    user,
                    surface,
                    assignment.experiment if assignment else None,
                    assignment.variant.name if assignment else None,
                    at,
                    listed,
                )
            )
            for position, item in enumerate(listed, start=1):
                if rng.random() < base_ctr * (1 + lift) * 2.0 / (1 + position / 3):
                    clicks.append((user, item, at + timedelta(seconds=rng.uniform(5, 110)), rid, position))

    def write(conn):
        conn.run(
            "INSERT INTO impressions (recommendation_id, user_id, surface, endpoint, model_version, experiment,"
            " variant, created_at, item_ids, scores, methods)"
            " SELECT CAST(t.id AS uuid), t.u, t.s, 'recommend', NULL, t.e, t.v, t.at, string_to_array(t.items, ','),"
            "  array_fill(CAST(0.5 AS real), ARRAY[cardinality(string_to_array(t.items, ','))]),"
            "  array_fill(CAST('hybrid' AS text), ARRAY[cardinality(string_to_array(t.items, ','))])"
            " FROM unnest(CAST(:ids AS text[]), CAST(:users AS text[]), CAST(:surfaces AS text[]),"
            "  CAST(:experiments AS text[]), CAST(:variants AS text[]), CAST(:ats AS timestamptz[]),"
            "  CAST(:items AS text[])) AS t(id, u, s, e, v, at, items)",
            ids=[a[0] for a in answers],
            users=[a[1] for a in answers],
            surfaces=[a[2] for a in answers],
            experiments=[a[3] for a in answers],
            variants=[a[4] for a in answers],
            ats=[a[5] for a in answers],
            items=[",".join(a[6]) for a in answers],
        )
        conn.run(
            "INSERT INTO interactions (user_id, content_id, kind, event_type, created_at, recommendation_id,"
            " position, attribution)"
            " SELECT t.u, t.c, 'interaction', 'click', t.at, CAST(t.rid AS uuid), t.p, 'explicit'"
            " FROM unnest(CAST(:users AS text[]), CAST(:items AS text[]), CAST(:ats AS timestamptz[]),"
            "  CAST(:rids AS text[]), CAST(:positions AS integer[])) AS t(u, c, at, rid, p)",
            users=[c[0] for c in clicks],
            items=[c[1] for c in clicks],
            ats=[c[2] for c in clicks],
            rids=[c[3] for c in clicks],
            positions=[c[4] for c in clicks],
        )

    with db.transaction() as conn:
        write(conn)
    # the job recomputes the day before and the day of its `now`: walked forward, it fills every day
    for back in range(days - 1, -1, -1):
        online_metrics_service.compute(db, now=now - timedelta(days=back))
    return Written(len(answers), len(clicks), days)
