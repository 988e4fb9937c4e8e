"""Promotions' online figures: per promotion (its name), day and surface, the promoted items shown (one
impression per promoted slot of a logged answer) and clicked (an attributed click event on a promoted item,
once per answer and item). The metrics job recomputes them with the days it recomputes; the console's
overview shows each promotion's CTR over the last days (GET /overview)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dummi.services.event_types_service import click_types
from dummi.services.unit_of_work import Source, UnitOfWork, work_of

OVERVIEW_DAYS = 14
OVERVIEW_PROMOTIONS = 20


@dataclass(frozen=True)
class PromotionFigures:
    name: str
    impressions: int
    clicks: int

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None


def recompute(db: Source | UnitOfWork, days: list[date], start: datetime, end: datetime) -> int:
    """Replace the stored rows of ``days`` (answers created in [start, end)); how many rows."""
    clicks = click_types(db)
    with work_of(db).transaction() as repos:
        return repos.promotions.replace_days(days, start, end, clicks)


def by_name(db: Source | UnitOfWork, today: date, days: int = OVERVIEW_DAYS) -> list[PromotionFigures]:
    """Each promotion's figures over the last ``days`` days up to ``today``, most shown first."""
    start = today - timedelta(days=days - 1)
    rows = work_of(db).read(lambda repos: repos.promotions.by_name(start, today, OVERVIEW_PROMOTIONS))
    return [PromotionFigures(*r) for r in rows]
