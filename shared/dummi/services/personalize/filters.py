"""Personalize's four filter operations over Postgres, and the parsed program of a filter for serving.

A filter is immutable once made (Personalize has no UpdateFilter), so its parsed program is kept in-process;
a delete is seen at once by the process that made it and within ``PROGRAM_SECONDS`` by every other."""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
from dataclasses import dataclass

from dummi.db.connection import Database
from dummi.db.personalize_repository import FilterRecord, FiltersRepository
from dummi.errors import InvalidNextTokenError, InvalidRequestError, NotFoundError
from dummi.ml.filter_expressions import FilterProgram, parse

NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,62}$")
ARN = re.compile(r"^arn:([a-z\d-]+):personalize:([a-z\d-]*):(\d*):([a-z-]+)/(.+)$")
DEFAULT_REGION, DEFAULT_ACCOUNT = "us-east-1", "000000000000"
MAX_PAGE = 100
PROGRAM_SECONDS = 10.0


def filter_arn(name: str, dataset_group_arn: str) -> str:
    """The filter's ARN in the partition, region and account of its dataset group (or Dummi's defaults)."""
    found = ARN.match(dataset_group_arn)
    partition, region, account = (found.group(1), found.group(2), found.group(3)) if found else ("aws", "", "")
    return f"arn:{partition}:personalize:{region or DEFAULT_REGION}:{account or DEFAULT_ACCOUNT}:filter/{name}"


def create_filter(db: Database, name: str, dataset_group_arn: str, expression: str) -> FilterRecord:
    """Parse (``FilterExpressionError`` names the position of a malformed expression), then store."""
    if not NAME.match(name):
        raise InvalidRequestError(
            f"name {name!r} must start with a letter or digit and hold only letters, digits, '-' and '_' (at most 63)",
            field="name",
        )
    parse(expression)
    with db.transaction() as conn:
        return FiltersRepository(conn).insert(filter_arn(name, dataset_group_arn), name, dataset_group_arn, expression)


def describe_filter(db: Database, arn: str) -> FilterRecord:
    found = db.read(lambda conn: FiltersRepository(conn).get(arn))
    if found is None:
        raise NotFoundError("filter", arn, field="filterArn")
    return found


@dataclass(frozen=True, slots=True)
class FilterPage:
    filters: list[FilterRecord]
    next_token: str | None


def list_filters(db: Database, dataset_group_arn: str | None, next_token: str | None, limit: int) -> FilterPage:
    """Filters ordered by ARN; ``next_token`` continues a page (an opaque token: the last ARN, encoded)."""
    after = _decode_token(next_token) if next_token else None
    limit = max(1, min(limit, MAX_PAGE))
    rows = db.read(lambda conn: FiltersRepository(conn).page(dataset_group_arn, after, limit + 1))
    more = len(rows) > limit
    rows = rows[:limit]
    return FilterPage(rows, _encode_token(rows[-1].filter_arn) if more else None)


def delete_filter(db: Database, arn: str) -> None:
    with db.transaction() as conn:
        FiltersRepository(conn).delete(arn)
    with _LOCK:
        _PROGRAMS.pop(arn, None)


def _encode_token(arn: str) -> str:
    return base64.urlsafe_b64encode(arn.encode()).decode()


def _decode_token(token: str) -> str:
    try:
        arn = base64.urlsafe_b64decode(token.encode()).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        arn = ""
    if not ARN.match(arn):
        raise InvalidNextTokenError("the nextToken is not one ListFilters gave", field="nextToken")
    return arn


_PROGRAMS: dict[str, tuple[FilterProgram, float]] = {}
_LOCK = threading.Lock()


def program_of(db: Database, arn: str) -> FilterProgram:
    """The parsed program of a stored filter; NotFoundError for an unknown ARN."""
    now = time.monotonic()
    found = _PROGRAMS.get(arn)
    if found is not None and now - found[1] < PROGRAM_SECONDS:
        return found[0]
    program = parse(describe_filter(db, arn).filter_expression)
    with _LOCK:
        _PROGRAMS[arn] = (program, now)
    return program


def forget_programs() -> None:
    with _LOCK:
        _PROGRAMS.clear()
