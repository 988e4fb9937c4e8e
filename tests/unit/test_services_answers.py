"""The answers service on fake repositories and a fake engine: whom an answer is for, what a page leaves
out, what is logged, when a next page is offered, and that a refused token stops before anything is ranked."""

from __future__ import annotations

import pytest

from dummi.errors import InvalidRequestError
from dummi.ml.recommender import RankRequest, Recommendation
from dummi.services import answers_service, page_tokens
from dummi.services.recommendation_service import Served, state_of
from tests.unit.service_fakes import fake_work

AT = "2026-01-01T00:00:00+00:00"


class FakeSessions:
    def __init__(self, events: dict[str, list[str]]) -> None:
        self.events = events  # session -> clicked content ids (anonymous), newest first
        self.calls: list[tuple] = []
        self.shown: dict[str, list[str]] = {}  # lineage -> items of its earlier pages

    def session_state(self, session_id, earlier=None):
        clicked = self.events.get(session_id, [])
        found = {"events": [[c, "interaction", "click", None, AT] for c in clicked], "seen": list(clicked)}
        if earlier is not None:
            self.calls.append(("earlier", *earlier))
            found["shown"] = self.shown.get(earlier[0], [])
        return found

    def has_anonymous_events(self, session_id):
        return bool(self.events.get(session_id))

    def merge(self, session_id, user_id):
        self.calls.append(("merge", session_id, user_id))
        return len(self.events.pop(session_id, []))


class FakeImpressions:
    def __init__(self) -> None:
        self.logged = []

    def log(self, impression):
        self.logged.append(impression)


class FakeSecrets:
    def get_or_create(self, name, candidate):
        return b"s" * 32


class FakeEngine:
    """Ranks c0, c1, ... minus what the request leaves out; a user's earlier pages are ``shown`` (lineage ->
    items), left out as the real engine leaves out what its state read finds."""

    def __init__(self, items: int, shown: dict[str, list[str]] | None = None) -> None:
        self.items, self.calls, self.shown = items, [], shown if shown is not None else {}

    def state_of(self, db, user_id, raw):
        return state_of(user_id, raw)

    def recommend(self, db, user_id, request, state=None, earlier=None):
        if earlier is not None:
            request = request.leaving_out(self.shown.get(earlier[0], []))
        self.calls.append((user_id, request, state, earlier))
        recs = [Recommendation(f"c{k}", "t", "x", 0.5, "hybrid", "r") for k in range(self.items)]
        recs = [r for r in recs if r.content_id not in request.exclude][: request.n]
        return Served(recs, "v1", needs_interests=True)


@pytest.fixture
def work():
    sessions, impressions = FakeSessions({"s1": ["c7", "c8"]}), FakeImpressions()
    unit, _ = fake_work(sessions=sessions, impressions=impressions, service_secrets=FakeSecrets())
    return unit, sessions, impressions


def _answer(unit, engine, n=3, **who):
    who = {"user_id": None, "session_id": None, "surface": "api", "preview": False, **who}
    return answers_service.recommend(unit, engine, RankRequest(n=n), **who)


def test_a_session_is_answered_from_its_own_events_and_logged_as_page_one(work):
    unit, sessions, impressions = work
    engine = FakeEngine(items=10)
    answer = _answer(unit, engine, session_id="s1")
    user_id, _, state, _ = engine.calls[0]
    assert (
        user_id == "session:s1" and state.seen == {"c7", "c8"} and [e.content_id for e in state.events] == ["c7", "c8"]
    )
    assert answer.needs_interests is False and sessions.calls == []  # nothing merged without a user
    logged = impressions.logged[0]
    assert (logged.user_id, logged.session_id, logged.page) == (None, "s1", 1)
    assert logged.lineage == answer.recommendation_id
    token = page_tokens.read(b"s" * 32, answer.next_page_token, {"session:s1"})
    assert (token.lineage, token.page) == (answer.recommendation_id, 2)


def test_a_user_in_a_session_takes_its_events_over_before_the_ranking(work):
    unit, sessions, impressions = work
    engine = FakeEngine(items=10)
    answer = _answer(unit, engine, user_id="ann", session_id="s1")
    assert sessions.calls == [("merge", "s1", "ann")] and engine.calls[0][0] == "ann" and engine.calls[0][2] is None
    assert answer.needs_interests is True and impressions.logged[0].user_id == "ann"
    _answer(unit, engine, user_id="ann", session_id="s1")
    assert sessions.calls == [("merge", "s1", "ann")]  # nothing left to merge: no second write


def test_a_page_leaves_out_the_earlier_pages_and_the_last_one_offers_none(work):
    unit, sessions, impressions = work
    engine = FakeEngine(items=7, shown=sessions.shown)
    first = _answer(unit, engine, user_id="ann")
    assert engine.calls[-1][3] is None  # a first page reads no earlier pages
    sessions.shown[first.recommendation_id] = ["c0", "c1", "c2"]
    second = _answer(unit, engine, user_id="ann", page_token=first.next_page_token)
    assert engine.calls[-1][3] == (first.recommendation_id, 2) and second.page == 2
    assert engine.calls[-1][1].exclude == {"c0", "c1", "c2"}
    assert [r.content_id for r in second.served.recommendations] == ["c3", "c4", "c5"]
    assert (impressions.logged[-1].lineage, impressions.logged[-1].page) == (first.recommendation_id, 2)
    sessions.shown[first.recommendation_id] += ["c3", "c4", "c5"]
    third = _answer(unit, engine, user_id="ann", page_token=second.next_page_token)
    assert [r.content_id for r in third.served.recommendations] == ["c6"] and third.next_page_token is None
    preview = _answer(unit, engine, user_id="ann", preview=True)
    assert preview.recommendation_id is None and preview.next_page_token is None


def test_a_sessions_page_leaves_out_what_its_state_read_found_on_the_earlier_pages(work):
    unit, sessions, impressions = work
    engine = FakeEngine(items=10)
    first = _answer(unit, engine, session_id="s1")
    assert sessions.calls == []  # a first page reads no earlier pages
    sessions.shown[first.recommendation_id] = ["c0", "c1", "c2"]
    second = _answer(unit, engine, session_id="s1", page_token=first.next_page_token)
    assert sessions.calls == [("earlier", first.recommendation_id, 2)]
    assert [r.content_id for r in second.served.recommendations] == ["c3", "c4", "c5"]
    assert (impressions.logged[-1].session_id, impressions.logged[-1].page) == ("s1", 2)


def test_a_foreign_token_is_refused_before_anything_is_read_or_ranked(work):
    unit, sessions, _ = work
    engine = FakeEngine(items=10)
    token = _answer(unit, engine, user_id="ann").next_page_token
    calls = len(engine.calls)
    for who in ({"user_id": "bob"}, {"session_id": "ann"}):
        with pytest.raises(InvalidRequestError) as refused:
            _answer(unit, engine, page_token=token, **who)
        assert refused.value.field == "page_token"
    assert len(engine.calls) == calls and sessions.calls == []
    with pytest.raises(InvalidRequestError) as refused:
        _answer(unit, engine)
    assert refused.value.field == "user_id"
