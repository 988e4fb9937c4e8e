"""One answer of POST /recommendations/: whom it is for (a user, an anonymous session, or a user in a
session, whose anonymous events join the user first), which page of a list (``dummi.services.page_tokens``:
a page_token's page leaves out every item of the lineage's earlier pages), the ranking, its log line and the
token of the next page."""

from __future__ import annotations

from dataclasses import dataclass

from dummi.errors import InvalidRequestError
from dummi.ml.recommender import RankRequest
from dummi.services import page_tokens, sessions_service
from dummi.services.impressions_service import log_answer
from dummi.services.recommendation_service import RecommendationEngine, Served
from dummi.services.unit_of_work import Source, UnitOfWork


@dataclass(frozen=True)
class Answer:
    served: Served
    recommendation_id: str | None
    next_page_token: str | None
    page: int
    needs_interests: bool


def recommend(
    db: Source | UnitOfWork,
    engine: RecommendationEngine,
    request: RankRequest,
    *,
    user_id: str | None,
    session_id: str | None,
    surface: str,
    preview: bool,
    page_token: str | None = None,
) -> Answer:
    if user_id is None and session_id is None:
        raise InvalidRequestError("user_id or session_id is required", field="user_id")
    page, lineage, earlier = 1, None, None
    if page_token is not None:
        subjects = {page_tokens.subject_of(user_id, None), page_tokens.subject_of(None, session_id)}
        token = page_tokens.read(page_tokens.secret(db), page_token, subjects)
        page, lineage = token.page, token.lineage
        earlier = (lineage, page)  # the earlier pages' items come with the state, in its round trip
    if user_id is not None:
        sessions_service.merge(db, session_id, user_id)  # the session's anonymous events become the user's
        served = engine.recommend(db, user_id, request, earlier=earlier)
    else:
        subject = page_tokens.subject_of(None, session_id)
        raw = sessions_service.session_events(db, session_id, earlier)
        if earlier is not None:
            request = request.leaving_out(raw["shown"])
        state = engine.state_of(db, subject, raw)
        served = engine.recommend(db, state.user_id, request, state)
    recommendation_id = None
    if not preview:
        recommendation_id = log_answer(
            db,
            served.recommendations,
            user_id=user_id,
            surface=surface,
            endpoint="recommend",
            model_version=served.model_version,
            experiment=served.experiment,
            variant=served.variant,
            session_id=session_id,
            page=page,
            lineage=lineage,
        )
    next_page_token = None
    # a full page may have a next one; a short one used up what the catalog allows (and an unlogged answer
    # left no record of its items to leave out)
    if recommendation_id is not None and len(served.recommendations) >= request.n:
        subject = page_tokens.subject_of(user_id, session_id)
        secret = page_tokens.secret(db)
        next_page_token = page_tokens.next_token(secret, subject, lineage or recommendation_id, page + 1)
    return Answer(served, recommendation_id, next_page_token, page, served.needs_interests and user_id is not None)
