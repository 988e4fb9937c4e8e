"""Batch recommendation lines, in the format of AWS Personalize's batch inference, extended.

In, one JSON object a line: ``{"userId": "u1"}`` (the user's recommendations) or ``{"itemId": "m1"}`` (items
related to it). Out, one line for every input line, in the same order::

    {"input": {"userId": "u1"},
     "output": {"recommendedItems": ["m7", ...], "scores": [0.41, ...], "methods": ["hybrid", ...],
                "reasons": ["...", ...], "modelVersion": "20261206T..."},
     "error": null}

A bad line (not JSON, no or both ids, an unknown user or item) gets ``"output": null`` and ``"error"``, a
sentence naming the field at fault; the job goes on. Answers are those of ``POST /recommendations/`` and
``GET /content/{id}/similar`` for the same user, options and model version, with exploration off (a batch
answer goes out later, to a list of people, and should not spend exploration's budget on a guess).
"""

from __future__ import annotations

import json
from typing import Any

from dummi.batch.options import BatchOptions
from dummi.db.connection import Database
from dummi.domain.ranking import Recommendation
from dummi.errors import InvalidRequestError, NotFoundError
from dummi.services.recommendation_service import RecommendationEngine, Served


class LineError(Exception):
    pass


def _parse(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise LineError(f"not JSON ({exc.msg})") from None


def _ids(given: Any) -> tuple[str | None, str | None]:
    """(userId, itemId) of a parsed line; LineError for a line that names neither or both."""
    if not isinstance(given, dict):
        raise LineError("not a JSON object")
    unknown = sorted(set(given) - {"userId", "itemId"})
    if unknown:
        raise LineError(f"{unknown[0]}: not a field of a batch line (userId or itemId)")
    user, item = given.get("userId"), given.get("itemId")
    if (user is None) == (item is None):
        raise LineError("give one of userId, itemId")
    for name, value in (("userId", user), ("itemId", item)):
        if value is not None and (not isinstance(value, str) or not value or len(value) > 256):
            raise LineError(f"{name}: a non-empty string of at most 256 characters")
    return user, item


def _output(served: Served) -> dict[str, Any]:
    recs: list[Recommendation] = served.recommendations
    return {
        "recommendedItems": [r.content_id for r in recs],
        "scores": [round(r.score, 6) for r in recs],
        "methods": [r.method for r in recs],
        "reasons": [r.reason for r in recs],
        "modelVersion": served.model_version,
    }


def answer_lines(
    engine: RecommendationEngine, db: Database, texts: list[str], options: BatchOptions
) -> tuple[list[str], int, set[str]]:
    """(output lines, how many are error lines, the model versions that answered), one output per input."""
    request = options.rank_request()
    # an item's related items keep to the job's category too, as a filter (similar has no category of its own)
    in_category = (("category", "in", (options.category,)),) if options.category else ()
    out: list[str] = []
    errors = 0
    versions: set[str] = set()
    for text in texts:
        given: Any = text.rstrip("\n")  # what the output line quotes: the parsed line, or its text
        try:
            given = _parse(given)
            user, item = _ids(given)
            if user is not None:
                served = engine.recommend(db, user, request)
            else:
                served = engine.similar(db, item, options.num_results, request.filters + in_category)
            if served.model_version is not None:
                versions.add(served.model_version)
            line = {"input": given, "output": _output(served), "error": None}
        except LineError as exc:
            line, errors = {"input": given, "output": None, "error": str(exc)}, errors + 1
        except (NotFoundError, InvalidRequestError) as exc:  # an unknown user or item: its own error line;
            # anything else (the database down) fails the chunk, which is tried again
            field = "userId" if exc.field == "user_id" else "itemId"
            line, errors = {"input": given, "output": None, "error": f"{field}: {exc.message}"}, errors + 1
        out.append(json.dumps(line, ensure_ascii=False, separators=(",", ":")))
    return out, errors, versions
