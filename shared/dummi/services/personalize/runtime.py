"""GetRecommendations and GetPersonalizedRanking on Dummi's own serving engine.

A filter (``filterArn`` + ``filterValues``) reaches ranking as an ``ItemGate``: its program's mask over the
catalog, worked out once per request inside the eligibility step, so a filter shapes the list exactly as
Dummi's own filters do (never a cut after ranking). An unknown ``userId`` gets a newcomer's list, as
Personalize answers; every answer is logged (its ``recommendationId`` attributes the events it leads to) with
the request's ``context``.

A promotion (``promotions``, at most one, as Personalize allows) is Dummi's own promotion
(``dummi.ml.ranking.promotions``): ``percentPromotedItems`` / 100 of the slots for the best-scored items its
filter (with its ``filterValues``) lets through, as the promotion's ``gate``; the promoted items carry its
name."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from dummi.db.connection import Database
from dummi.db.personalize_repository import PersonalizeEventsRepository
from dummi.domain.ranking import ItemGate, Promotion, RankRequest, Recommendation
from dummi.errors import InvalidRequestError
from dummi.ml.catalog import Catalog
from dummi.ml.filter_expressions import FilterProgram, property_key
from dummi.ml.ranking.types import UserState
from dummi.services.impressions_service import log_answer
from dummi.services.personalize.arns import Target
from dummi.services.personalize.event_types import EventTypeTable
from dummi.services.personalize.filters import program_of
from dummi.services.recommendation_service import RecommendationEngine

logger = logging.getLogger(__name__)

DEFAULT_RESULTS = 25
MAX_RESULTS = 500  # Personalize's bound on numResults and on inputList
RANKING_METHOD = "ranking"


@dataclass(frozen=True, slots=True)
class PredictedItem:
    item_id: str
    score: float
    reason: str | None = None
    promotion: str | None = None  # the promotion whose slot the item holds


@dataclass(frozen=True, slots=True)
class Answer:
    items: list[PredictedItem]
    recommendation_id: str | None


@dataclass(frozen=True, slots=True)
class FilterUse:
    arn: str
    values: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class PromotionUse:
    name: str
    percent: int  # 1..100: percentPromotedItems
    filter: FilterUse


class ProgramGate:
    """A filter program as ranking's ``ItemGate``. ``Interactions.EVENT_TYPE`` reads the user's whole history:
    an event PutEvents stored under the eventType it was sent with, one of Dummi's own routes under its type
    and every Personalize type mapped onto it. ``CurrentItem`` is the request's item; ``CurrentUser`` sees the
    user's ``interests`` only (Dummi keeps no other user attribute)."""

    def __init__(
        self,
        program: FilterProgram,
        values: Mapping[str, str],
        history: list[tuple[str, str, str | None]],
        event_types: EventTypeTable,
        item_id: str | None = None,
        user: UserState | None = None,
    ) -> None:
        self.program, self.values, self.item_id, self.user = program, values, item_id, user
        self.history = [
            (content_id, (sent,) if sent is not None else (own, *event_types.names_for(own)))
            for content_id, own, sent in history
        ]

    def __call__(self, catalog: Catalog, position: Mapping[str, int], user: UserState | None) -> np.ndarray:
        user = user if user is not None else self.user
        interacted: dict[str, list[int]] = {}
        for content_id, names in self.history:
            pos = position.get(content_id)
            if pos is not None and pos < catalog.size:
                for name in names:
                    interacted.setdefault(name, []).append(pos)
        attributes = {"interests": list(user.interests)} if user is not None else None
        current = position.get(self.item_id) if self.item_id is not None else None
        if self.item_id is not None and current is None and self.program.uses_current_item:
            return np.zeros(catalog.size, bool)  # an item not in the catalog yet: nothing shares its values
        return self.program.mask(catalog, self.values, current=current, interacted=interacted, user=attributes)


def _gate(
    db: Database,
    use: FilterUse | None,
    event_types: EventTypeTable,
    user_id: str | None,
    item_id: str | None = None,
    user: UserState | None = None,
) -> ItemGate | None:
    if use is None:
        return None
    program = program_of(db, use.arn)
    history = []
    if program.uses_interactions and user_id is not None:
        history = db.read(lambda conn: PersonalizeEventsRepository(conn).typed_history(user_id))
    return ProgramGate(program, use.values, history, event_types, item_id, user)


def results(n: int | None) -> int:
    if n is None or n == 0:
        return DEFAULT_RESULTS
    if not 0 < n <= MAX_RESULTS:
        raise InvalidRequestError(f"numResults must be between 1 and {MAX_RESULTS}", field="numResults")
    return n


def get_recommendations(
    db: Database,
    engine: RecommendationEngine,
    event_types: EventTypeTable,
    *,
    user_id: str | None,
    item_id: str | None,
    n: int,
    target: Target,
    filter_use: FilterUse | None = None,
    context: Mapping[str, str] | None = None,
    promotion: PromotionUse | None = None,
) -> Answer:
    """``item_id``: related items (the items most like it, a ResourceNotFoundError-style NotFoundError for an
    unknown one); else the user's list, with ``promotion``'s share of its slots. ``target``: the surface and the
    variant the ARN names."""
    if item_id is not None and promotion is not None:
        raise InvalidRequestError("promotions apply to a user's list (userId without itemId)", field="promotions")
    if item_id is not None:
        user = engine.user_state(db, user_id) if user_id is not None else None
        served = engine.similar(db, item_id, n, gate=_gate(db, filter_use, event_types, user_id, item_id, user))
        recs = served.recommendations
        endpoint, experiment, variant = "similar", None, None
    elif user_id is not None:
        gate = _gate(db, filter_use, event_types, user_id)
        promoted = None
        if promotion is not None:
            matching = _gate(db, promotion.filter, event_types, user_id)
            promoted = Promotion(promotion.name, promotion.percent / 100, gate=matching)
        variant_named = (target.experiment, target.variant) if target.experiment and target.variant else None
        served = engine.recommend(
            db,
            user_id,
            RankRequest(n=n, gate=gate, promotion=promoted),
            unknown_as_newcomer=True,
            serve_variant=variant_named,
        )
        recs, endpoint, experiment, variant = served.recommendations, "recommend", served.experiment, served.variant
    else:
        raise InvalidRequestError("give a userId (the user's list) or an itemId (related items)", field="userId")
    recommendation_id = _log(db, recs, user_id, target, endpoint, served.model_version, experiment, variant, context)
    items = [PredictedItem(r.content_id, round(r.score, 6), r.reason, r.promoted) for r in recs]
    return Answer(items, recommendation_id)


def get_personalized_ranking(
    db: Database,
    engine: RecommendationEngine,
    event_types: EventTypeTable,
    *,
    user_id: str,
    input_list: list[str],
    target: Target,
    filter_use: FilterUse | None = None,
    context: Mapping[str, str] | None = None,
) -> Answer:
    """Every input item once, best first: the user's ranking over them (what the user already engaged with
    and what the ranking leaves out follow by relevance), then the items the catalog does not hold or has taken
    down (score 0). Items a filter excludes are left out, as Personalize leaves them out."""
    if not input_list:
        raise InvalidRequestError("inputList holds no item", field="inputList")
    if len(input_list) > MAX_RESULTS:
        raise InvalidRequestError(f"inputList holds more than {MAX_RESULTS} items", field="inputList")
    recommender, version = engine.recommender(db)
    user = engine.user_state(db, user_id) or UserState(user_id, [], None, [], set())
    ids = list(dict.fromkeys(input_list))
    known = [recommender.position[i] for i in ids if i in recommender.position and not engine.is_deleted(i)]
    wanted = np.zeros(recommender.size, bool)
    wanted[known] = True
    program_gate = _gate(db, filter_use, event_types, user_id, None, user)
    passes = np.ones(recommender.size, bool)  # what the filter lets through

    def gate(catalog: Catalog, position: Mapping[str, int], state: UserState | None) -> np.ndarray:
        if program_gate is not None:
            passes[:] = program_gate(catalog, position, state)
        return wanted & passes

    ranked = recommender.rank(user, RankRequest(n=max(1, len(known)), diversity=0.0, explore_slots=0, gate=gate))
    allowed = ranked.eligible.allowed if ranked.eligible.allowed is not None else wanted
    relevance, calibration = ranked.scored.relevance, ranked.calibration
    first = [int(p) for p in ranked.top]
    listed = set(first)
    rest = [p for p in known if p not in listed and allowed[p]]
    taken_down = {p for p in known if not allowed[p] and passes[p]}  # hidden, expired: as if not held
    rest.sort(key=lambda p: -relevance[p] if np.isfinite(relevance[p]) else np.inf)  # stable: input order
    recs = [
        Recommendation(
            str(recommender.ids[p]),
            recommender.titles[p],
            recommender.categories[p],
            calibration.score(relevance[p]),
            RANKING_METHOD,
            "",
        )
        for p in first + rest
    ]
    unknown = [
        i for i in ids if i not in recommender.position or engine.is_deleted(i) or recommender.position[i] in taken_down
    ]
    recommendation_id = _log(db, recs, user_id, target, "recommend", version, None, None, context)
    items = [PredictedItem(r.content_id, round(r.score, 6)) for r in recs]
    return Answer(items + [PredictedItem(i, 0.0) for i in unknown], recommendation_id)


def item_metadata(
    db: Database, engine: RecommendationEngine, ids: list[str], columns: list[str]
) -> dict[str, dict[str, str]]:
    """``metadataColumns`` for items: each listed item's ``TITLE``, ``CATEGORY``, ``TAGS`` (pipe-separated) or
    property (``NUMBER_OF_RATINGS`` is ``numberOfRatings``), as text; a column the item lacks is left out."""
    recommender, _ = engine.recommender(db)
    catalog, out = recommender.catalog, {}
    for item_id in ids:
        pos = recommender.position.get(item_id)
        if pos is None or pos >= catalog.size:
            continue
        found = {}
        for column in columns:
            key = column.upper()
            if key == "TITLE":
                found[column] = catalog.titles[pos]
            elif key == "CATEGORY":
                found[column] = catalog.categories[pos]
            elif key == "TAGS":
                found[column] = "|".join(catalog.tags[pos])
            elif (value := catalog.properties[pos].get(property_key(column))) is not None:
                found[column] = value if isinstance(value, str) else json.dumps(value)
        out[item_id] = found
    return out


def _log(
    db: Database,
    recs: list[Recommendation],
    user_id: str | None,
    target: Target,
    endpoint: str,
    model_version: str | None,
    experiment: str | None,
    variant: str | None,
    context: Mapping[str, str] | None,
) -> str | None:
    recommendation_id = log_answer(
        db,
        recs,
        user_id=user_id,
        surface=target.surface,
        endpoint=endpoint,
        model_version=model_version,
        experiment=experiment,
        variant=variant,
    )
    if recommendation_id is not None and context:
        try:
            db.autocommit(lambda conn: PersonalizeEventsRepository(conn).keep_context(recommendation_id, dict(context)))
        except Exception:  # noqa: BLE001 - as log_answer: the answer is worth more than its context's row
            logger.exception("context of %s not kept", recommendation_id)
    return recommendation_id
