"""Online metrics: what users did with what they were shown, per day x surface x variant x method x model.

The job (hourly: the metrics function in AWS, a background thread on `make run`, `dummi metrics` by hand)
recomputes every day from yesterday to today from the impressions log and the attributed events, and
replaces those days' rows in one transaction, so running it twice leaves the same rows (promotions' figures
too: ``dummi.services.promotions_service``). It then deletes impressions past the retention period and the
anonymous events of expired sessions (``dummi.services.sessions_service``), in batches, rebuilds the
per-item counts exploration learns from (``item_stats``) and, in Lambda, sends the hour that ended an hour ago
to CloudWatch as EMF (an hour late, so that the clicks of the attribution window are in), plus the CTR
against its 7-day baseline and the number of experiments with a sample-ratio mismatch (both alarmed on).

Definitions (docs/online-loop.md): an *impression* is one item shown in one answer; a *click* is a shown
item with at least one attributed click event (once per answer and item); a *like* likewise with a like
or positive feedback. CTR = clicks / impressions; CTR per user = the mean over users with at least one
impression of their clicks / impressions; coverage = distinct items shown / catalog; intra-list diversity
= 1 - mean pairwise cosine of a list's embeddings; category spread = distinct categories / items of a
list; novelty = mean -log2 of the share of users who interacted with the item; young share = impressions
of items created less than 7 days before the answer.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from dummi.config import get_settings
from dummi.db.connection import Database
from dummi.db.content_repository import ContentRepository
from dummi.db.metrics_repository import ROW_COLUMNS, MetricsRepository
from dummi.errors import NotFoundError
from dummi.ml.embeddings import from_bytes
from dummi.ml.metrics import category_spread, intra_list_diversity, self_information
from dummi.progress import NullProgress, Progress
from dummi.services import experiments_service, promotions_service, sessions_service, trending_service
from dummi.services.event_types_service import click_types, event_types
from dummi.services.impressions_service import delete_expired
from dummi.telemetry import in_lambda, metrics_namespace

logger = logging.getLogger(__name__)

ALL_METHODS = "*"
DIMENSIONS = ("day", "surface", "experiment", "variant", "method", "model_version")
# Users and items shown are distinct counts: they do not add up across rows (a user served by two model versions
# in a day, or in two surfaces, is one user). Stored beside the rows, per day and surface and per day (surface
# "*"), with every other dimension "*" and nothing else counted: ``query`` takes users, CTR per user and
# coverage from them wherever it groups by no more than the day and the surface.
ALL = "*"
YOUNG = timedelta(days=7)
PAGE = 5_000
BASELINE_DAYS = 7
# CloudWatch metric name -> the row's column it sums (sums only: dashboards divide them, never average ratios)
EMF_SUMS = (
    ("Impressions", "impressions"),
    ("Clicks", "clicks"),
    ("Likes", "likes"),
    ("Lists", "lists"),
    ("UsersReached", "users"),
    ("YoungImpressions", "young_impressions"),
    ("NoveltySum", "novelty_sum"),
    ("DiversitySum", "diversity_sum"),
    ("DiversityLists", "diversity_lists"),
)


@dataclass(frozen=True)
class ItemInfo:
    category: str
    created_at: datetime
    vector: np.ndarray | None


@dataclass
class _Row:
    lists: int = 0
    impressions: int = 0
    clicks: int = 0
    likes: int = 0
    diversity_sum: float = 0.0
    diversity_lists: int = 0
    spread_sum: float = 0.0
    novelty_sum: float = 0.0
    young_impressions: int = 0
    items: set[str] = field(default_factory=set)
    per_user: dict[str, list[int]] = field(default_factory=dict)  # user -> [impressions, clicks]
    by_position: dict[int, list[int]] = field(default_factory=dict)  # position -> [impressions, clicks]


class Aggregate:
    """Adds up answers into rows keyed by (day, surface, experiment, variant, method, model_version); pure
    (everything it needs is handed in), so every formula is checked on a hand-made fixture."""

    def __init__(
        self,
        items: dict[str, ItemInfo | None],
        popularity: dict[str, int],
        users_total: int,
        catalog_size: int,
        clicked: set[tuple[str, str]],
        liked: set[tuple[str, str]],
    ) -> None:
        self.items = items
        self.popularity = popularity
        self.users_total = users_total
        self.catalog_size = catalog_size
        self.clicked = clicked
        self.liked = liked
        self._rows: dict[tuple, _Row] = defaultdict(_Row)
        self._distinct: dict[tuple[date, str], _Row] = defaultdict(_Row)  # (day, surface or ALL): users, items
        self._item_days: dict[tuple[str, date], list[int]] = {}  # (item, day) -> [impressions, clicks, likes]

    def add(
        self,
        recommendation_id: str,
        user_id: str | None,
        surface: str,
        experiment: str | None,
        variant: str | None,
        model_version: str | None,
        created_at: datetime,
        item_ids: Sequence[str],
        methods: Sequence[str],
    ) -> None:
        day = created_at.astimezone(UTC).date()
        base = (day, surface, experiment or "", variant or "", model_version or "")
        keys = {m: (*base[:4], m, base[4]) for m in set(methods) | {ALL_METHODS}}
        whole = self._rows[keys[ALL_METHODS]]
        whole.lists += 1
        info = [self.items.get(cid) for cid in item_ids]
        vectors = [i.vector for i in info if i is not None and i.vector is not None]
        diversity = intra_list_diversity(np.vstack(vectors)) if len(vectors) >= 2 else None
        if diversity is not None:
            whole.diversity_sum += diversity
            whole.diversity_lists += 1
        known = [i.category for i in info if i is not None]
        spread = category_spread(known)
        if spread is not None:
            whole.spread_sum += spread
        for m in set(methods):
            self._rows[keys[m]].lists += 1
        distinct = (self._distinct[(day, surface)], self._distinct[(day, ALL)])
        for position, (cid, method, item) in enumerate(zip(item_ids, methods, info, strict=True), start=1):
            click = (recommendation_id, cid) in self.clicked
            like = (recommendation_id, cid) in self.liked
            novelty = self_information(self.popularity.get(cid, 0) / max(self.users_total, 1), self.users_total)
            young = item is not None and created_at - item.created_at < YOUNG
            counts = self._item_days.setdefault((cid, day), [0, 0, 0])
            counts[0] += 1
            counts[1] += click
            counts[2] += like
            for row in (whole, self._rows[keys[method]]):
                row.impressions += 1
                row.clicks += click
                row.likes += like
                row.novelty_sum += novelty
                row.young_impressions += young
                at = row.by_position.setdefault(position, [0, 0])
                at[0] += 1
                at[1] += click
            for row in (whole, self._rows[keys[method]], *distinct):
                row.items.add(cid)
                if user_id is not None:
                    mine = row.per_user.setdefault(user_id, [0, 0])
                    mine[0] += 1
                    mine[1] += click

    def item_rows(self) -> list[tuple[str, date, int, int, int]]:
        """(content_id, day, impressions, clicks, likes) of every item shown."""
        return [(cid, day, *counts) for (cid, day), counts in sorted(self._item_days.items())]

    def rows(self) -> list[dict[str, Any]]:
        return [self._stored(key, r) for key, r in sorted(self._rows.items())]

    def distinct_rows(self) -> list[dict[str, Any]]:
        """Per day and surface, and per day (surface ``ALL``): the distinct users (with their CTR's sum) and
        items shown, every other dimension ``ALL`` and every summed column 0 (see ``ALL``)."""
        distinct = sorted(self._distinct.items())
        return [self._stored((day, surface, ALL, ALL, ALL, ALL), r) for (day, surface), r in distinct]

    def _stored(self, key: tuple, r: _Row) -> dict[str, Any]:
        """One row of ``online_metrics``: its dimensions (``key``, in DIMENSIONS' order) and counts."""
        return {
            **dict(zip(DIMENSIONS, key, strict=True)),
            "lists": r.lists,
            "impressions": r.impressions,
            "users": len(r.per_user),
            "clicks": r.clicks,
            "likes": r.likes,
            "user_ctr_sum": float(sum(c / n for n, c in r.per_user.values())),
            "items_shown": len(r.items),
            "catalog_size": self.catalog_size,
            "diversity_sum": r.diversity_sum,
            "diversity_lists": r.diversity_lists,
            "spread_sum": r.spread_sum,
            "novelty_sum": r.novelty_sum,
            "young_impressions": r.young_impressions,
            "by_position": {str(p): v for p, v in sorted(r.by_position.items())},
        }


def figures(row: dict[str, Any]) -> dict[str, Any]:
    """The ratios a stored (or summed) row stands for."""

    def share(a: float, b: float) -> float | None:
        return round(a / b, 6) if b else None

    return {
        "ctr": share(row["clicks"], row["impressions"]),
        "like_rate": share(row["likes"], row["impressions"]),
        "ctr_per_user": share(row["user_ctr_sum"], row["users"]),
        "ctr_by_position": {p: share(c, n) for p, (n, c) in row["by_position"].items()},
        "coverage": share(row["items_shown"], row["catalog_size"]),
        "intra_list_diversity": share(row["diversity_sum"], row["diversity_lists"]),
        "category_spread": share(row["spread_sum"], row["lists"]) if row["method"] == ALL_METHODS else None,
        "novelty": share(row["novelty_sum"], row["impressions"]),
        "young_share": share(row["young_impressions"], row["impressions"]),
    }


def aggregate_period(db: Database, start: datetime, end: datetime, progress: Progress | None = None) -> Aggregate:
    """The answers created in [start, end), added up (read a page at a time)."""
    progress = progress or NullProgress()

    def context(conn):
        repo = MetricsRepository(conn)
        events = repo.attributed_events(start, end)
        return events, repo.catalog_size()

    events, catalog_size = db.read(context)
    types = event_types(db)  # by default: clicks are click events, likes like and positive feedback
    clicks, likes = types.clicks(), types.likes()
    clicked = {(r, c) for r, c, t in events if t in clicks}
    liked = {(r, c) for r, c, t in events if t in likes}
    items: dict[str, ItemInfo | None] = {}
    popularity: dict[str, int] = {}
    users_total = 0
    agg = Aggregate(items, popularity, 0, catalog_size, clicked, liked)
    after, total = None, 0
    progress.start(f"online metrics: answers from {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}")
    while True:
        page = db.read(lambda conn, after=after: MetricsRepository(conn).answers(start, end, after, PAGE))
        if not page:
            break
        new = sorted({cid for row in page for cid in row[7]} - items.keys())
        if new:

            def read_items(conn, new=new):
                repo = MetricsRepository(conn)
                return repo.items(new), repo.popularity(new)

            found, (counts, users_total) = db.read(read_items)
            for cid in new:  # a deleted item is remembered as unknown (None), not read again
                if cid in found:
                    category, created_at, blob = found[cid]
                    items[cid] = ItemInfo(category, created_at, from_bytes(blob) if blob is not None else None)
                else:
                    items[cid] = None
            popularity.update(counts)
            agg.users_total = users_total
        for row in page:
            if row[7]:  # an empty answer is logged but showed nothing
                agg.add(*row)
        progress.advance(len(page))
        total += len(page)
        after = page[-1][0]
    progress.finish(f"{total} answers")
    return agg


def compute(db: Database, *, now: datetime | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """Recompute yesterday and today (and every day since the last run, if it was longer ago) and replace
    their rows in one transaction. Idempotent: running it twice leaves the same rows."""
    now = now or datetime.now(UTC)
    today = now.date()
    latest, first = db.read(
        lambda conn: (MetricsRepository(conn).latest_day(), MetricsRepository(conn).first_answer_day())
    )
    start_day = min(latest, today - timedelta(days=1)) if latest else (first or today)
    days = [start_day + timedelta(days=k) for k in range((today - start_day).days + 1)]
    start = datetime.combine(days[0], time.min, UTC)
    end = datetime.combine(days[-1] + timedelta(days=1), time.min, UTC)
    agg = aggregate_period(db, start, end, progress)
    rows = agg.rows() + agg.distinct_rows()
    with db.transaction() as conn:
        MetricsRepository(conn).replace_days(days, rows)
        MetricsRepository(conn).replace_item_days(days, agg.item_rows())
    promotion_rows = promotions_service.recompute(db, days, start, end)
    return {"days": [d.isoformat() for d in days], "rows": len(rows), "promotion_rows": promotion_rows}


def item_days(db: Database, content_id: str, start: date, end: date) -> list[dict[str, Any]]:
    """One item's stored daily figures, every day of [start, end] (zeros where it was not shown); a
    NotFoundError when there is no such item."""

    def read(conn):
        return ContentRepository(conn).get(content_id), MetricsRepository(conn).item_days(content_id, start, end)

    item, stored = db.read(read)
    if item is None:
        raise NotFoundError("content", content_id, field="content_id")
    found = {day: rest for day, *rest in stored}
    out = []
    for k in range((end - start).days + 1):
        day = start + timedelta(days=k)
        shown, clicks, likes = found.get(day, (0, 0, 0))
        ctr = round(clicks / shown, 6) if shown else None
        out.append({"day": day.isoformat(), "impressions": shown, "clicks": clicks, "likes": likes, "ctr": ctr})
    return out


def groups_of(text: str) -> list[str]:
    """``group_by`` as the API and the CLI take it (comma-separated, once each); a variant's name means
    something only within its experiment, so grouping by variant groups by experiment too."""
    groups = list(dict.fromkeys(g.strip() for g in text.split(",") if g.strip()))
    if "variant" in groups and "experiment" not in groups:
        groups.append("experiment")
    return groups


def query(db: Database, start: date, end: date, group_by: Sequence[str]) -> list[dict[str, Any]]:
    """Stored rows in [start, end], added up over the dimensions not in ``group_by``. Users are distinct per
    day: grouping away the day adds up user-days, and coverage is then the mean of the daily coverages. Grouped
    by no more than the day and the surface (the console's view), users, CTR per user and coverage are the
    distinct ones of each day (``ALL``); grouped by an experiment, a variant, a method or a model as well, they
    are added up over the rows of each group (a user served by two models in a day counts twice there)."""
    stored = db.read(lambda conn: MetricsRepository(conn).rows(start, end))
    rows = [r for r in stored if not _is_distinct(r)]
    distinct = {(r["day"], r["surface"]): r for r in stored if _is_distinct(r)}
    keep = [d for d in DIMENSIONS if d in group_by]
    by_day = set(keep) <= {"day", "surface"}  # users and coverage distinct per day, where the job stored them
    if "method" not in keep:  # the lists as a whole, not the sum of their methods' parts
        rows = [r for r in rows if r["method"] == ALL_METHODS]
    merged: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        key = tuple(str(r[d]) for d in keep)
        m = merged.get(key)
        if m is None:
            merged[key] = m = {
                **{d: r[d] for d in keep},
                **_zero(),
                "method": r["method"] if "method" in keep else ALL_METHODS,
            }
        for name in _SUMMED:
            m[name] += r[name]
        m["coverage_sum"] += r["items_shown"] / r["catalog_size"] if r["catalog_size"] else 0.0
        m["coverage_days"] += 1
        for p, (n, c) in r["by_position"].items():
            at = m["by_position"].setdefault(p, [0, 0])
            at[0] += n
            at[1] += c
        if by_day:  # per day (and surface, where kept): its rows' own sums, for a day stored without distinct rows
            day = m.setdefault("_days", {}).setdefault((r["day"], r["surface"] if "surface" in keep else ALL), _zero())
            day["users"] += r["users"]
            day["user_ctr_sum"] += r["user_ctr_sum"]
            day["coverage_sum"] += r["items_shown"] / r["catalog_size"] if r["catalog_size"] else 0.0
            day["coverage_days"] += 1
    if by_day:
        for m in merged.values():
            days = m.pop("_days")
            m["users"] = m["user_ctr_sum"] = m["coverage_sum"] = 0
            for key, summed in days.items():
                d = distinct.get(key)  # None: a day computed before distinct rows were stored
                m["users"] += d["users"] if d else summed["users"]
                m["user_ctr_sum"] += d["user_ctr_sum"] if d else summed["user_ctr_sum"]
                coverage = d["items_shown"] / d["catalog_size"] if d and d["catalog_size"] else 0.0
                m["coverage_sum"] += coverage if d else summed["coverage_sum"] / max(summed["coverage_days"], 1)
            m["coverage_days"] = len(days)
    out = []
    for key in sorted(merged):
        m = merged[key]
        shown = {"items_shown": m["coverage_sum"] / m["coverage_days"], "catalog_size": 1}
        values = figures({**m, **shown})
        counts = {k: m[k] for k in ("lists", "impressions", "users", "clicks", "likes")}
        group = {d: (m[d].isoformat() if isinstance(m[d], date) else m[d]) for d in keep}
        out.append({**group, **counts, **values})
    return out


def _is_distinct(row: dict[str, Any]) -> bool:
    """A row of a day's distinct users and items (``Aggregate.distinct_rows``)."""
    return all(row[d] == ALL for d in ("experiment", "variant", "method", "model_version"))


# stored columns that add up across rows (distinct counts of items and the catalog size do not)
_SUMMED = tuple(c for c in ROW_COLUMNS if c not in (*DIMENSIONS, "items_shown", "catalog_size", "by_position"))


def _zero() -> dict[str, Any]:
    return {**dict.fromkeys(_SUMMED, 0), "coverage_sum": 0.0, "coverage_days": 0, "by_position": {}}


# -- CloudWatch -------------------------------------------------------------------------------------------
def emf_blobs(rows: Iterable[dict[str, Any]], timestamp: datetime, namespace: str) -> list[dict[str, Any]]:
    """One EMF document per (surface, variant, method): counts and sums for the hour (dashboards divide sums,
    never average ratios). Dimensions: surface, variant ("experiment:variant" or "none"), method, service."""
    merged: dict[tuple[str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        variant = f"{r['experiment']}:{r['variant']}" if r["experiment"] else "none"
        sums = merged[(r["surface"], variant, "all" if r["method"] == ALL_METHODS else r["method"])]
        for _, column in EMF_SUMS:
            sums[column] += r[column]
    blobs = []
    for (surface, variant, method), s in sorted(merged.items()):
        metrics = EphemeralMetrics(namespace=namespace, service="metrics")
        metrics.add_dimension("surface", surface)
        metrics.add_dimension("variant", variant)
        metrics.add_dimension("method", method)
        for name, column in EMF_SUMS:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=float(s[column]))
        metrics.set_timestamp(int(timestamp.timestamp() * 1000))
        blobs.append(metrics.serialize_metric_set())
    return blobs


def ctr_against_baseline(db: Database, today: date) -> float | None:
    """Yesterday's CTR / the CTR of the 7 days before it (None without impressions in either)."""
    rows = query(db, today - timedelta(days=BASELINE_DAYS + 1), today - timedelta(days=1), ["day"])
    by_day = {r["day"]: r for r in rows}
    yesterday = by_day.get((today - timedelta(days=1)).isoformat())
    before = [r for d, r in by_day.items() if d != (today - timedelta(days=1)).isoformat()]
    clicks, shown = sum(r["clicks"] for r in before), sum(r["impressions"] for r in before)
    if not yesterday or not yesterday["impressions"] or not shown or not clicks:
        return None
    return (yesterday["clicks"] / yesterday["impressions"]) / (clicks / shown)


def emit(db: Database, now: datetime, namespace: str) -> int:
    """Send last-but-one hour's figures, the CTR against its baseline and the SRM count as EMF (stdout,
    which Lambda ships to CloudWatch Logs, which makes the metrics). How many documents were printed."""
    hour_end = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    rows = aggregate_period(db, hour_end - timedelta(hours=1), hour_end).rows()
    blobs = emf_blobs(rows, hour_end - timedelta(hours=1), namespace)
    extra: dict[str, float] = {}
    ratio = ctr_against_baseline(db, now.date())
    if ratio is not None:
        extra["CtrVsBaseline"] = ratio
    running = [e for e in experiments_service.list_all(db) if experiments_service.status(e, now) == "running"]
    extra["SampleRatioMismatches"] = float(sum(experiments_service.results(db, e.name).srm for e in running))
    summary = EphemeralMetrics(namespace=namespace, service="metrics")
    for name, value in extra.items():
        summary.add_metric(
            name=name, unit=MetricUnit.Count if name != "CtrVsBaseline" else MetricUnit.None_, value=value
        )
    blobs.append(summary.serialize_metric_set())
    for blob in blobs:
        print(json.dumps(blob), flush=True)
    return len(blobs)


def run(db: Database, *, now: datetime | None = None, progress: Progress | None = None) -> dict[str, Any]:
    """The scheduled job: recompute the open days, delete impressions past retention, and in Lambda send the
    figures to CloudWatch. Returns what it did (the function's answer, `dummi metrics`' output)."""
    now = now or datetime.now(UTC)
    settings = get_settings()
    done = compute(db, now=now, progress=progress)
    done["impressions_deleted"] = delete_expired(
        db, timedelta(days=settings.dummi_impression_retention_days), progress=progress
    )
    done["session_events_deleted"] = sessions_service.delete_expired(
        db, timedelta(days=settings.dummi_session_idle_days), progress=progress
    )
    done["trending_rollup"] = trending_service.roll_up(db)  # the hours trending's baselines read
    clicks = click_types(db)
    with db.transaction() as conn:  # the exploration's per-item counts, over the impressions kept
        done["item_stats"] = MetricsRepository(conn).rebuild_item_stats(clicks)
    if in_lambda():
        done["emf_documents"] = emit(db, now, metrics_namespace())
    return done
