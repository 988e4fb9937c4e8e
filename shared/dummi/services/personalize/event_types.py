"""Personalize's ``eventType`` (any text a team chose: "click", "watch", "purchase") mapped to Dummi's
interaction and feedback types.

An ``eventType`` that names one of Dummi's own event types (``GET /event-types``: the built-in four and any
the product defined with ``PUT /event-types/{name}``, names compared ignoring case) is stored as that type,
with that type's weight. Any other goes through a table the deployment configures:
``DUMMI_PERSONALIZE_EVENT_TYPES`` lists ``name=type`` pairs separated by commas; each pair adds to or replaces
an entry of ``DEFAULT_EVENT_TYPES``; a pair ``name=`` removes an entry. A target is a Dummi event type (a
``view_time``'s ``eventValue`` is its duration in seconds; a custom target must be defined when the event
arrives) or feedback (positive, negative, neutral). An event type neither knows is refused
(InvalidInputException), never guessed."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from dummi.errors import InvalidRequestError

INTERACTIONS = ("click", "like", "skip", "view_time")
FEEDBACK = ("positive", "negative", "neutral")
_TYPE_NAME = re.compile(r"^[a-z0-9_]{1,40}$")  # an event type's name (dummi.services.event_types_service)
DEFAULT_EVENT_TYPES: Mapping[str, str] = {
    "click": "click",
    "like": "like",
    "skip": "skip",
    "view_time": "view_time",
    "view": "view_time",
    "watch": "view_time",
    "play": "view_time",
    "read": "view_time",
    "listen": "view_time",
    "purchase": "like",
    "add_to_cart": "like",
    "favorite": "like",
    "rating": "positive",
    "positive": "positive",
    "negative": "negative",
    "dislike": "negative",
    "neutral": "neutral",
}


@dataclass(frozen=True, slots=True)
class MappedType:
    kind: str  # interaction | feedback
    event_type: str  # Dummi's type


class EventTypeTable:
    def __init__(self, table: Mapping[str, str]) -> None:
        self.table = {name.casefold(): target for name, target in table.items()}

    @classmethod
    def parse(cls, spec: str, base: Mapping[str, str] = DEFAULT_EVENT_TYPES) -> EventTypeTable:
        """``base`` changed by ``spec`` (``"watch=view_time,purchase=like,rating="``); ValueError names a bad pair."""
        table = {name.casefold(): target for name, target in base.items()}
        for pair in (p.strip() for p in spec.split(",") if p.strip()):
            name, eq, target = (part.strip() for part in pair.partition("="))
            if not eq or not name:
                raise ValueError(f"DUMMI_PERSONALIZE_EVENT_TYPES: {pair!r} is not name=type")
            if not target:
                table.pop(name.casefold(), None)
            elif target in FEEDBACK or _TYPE_NAME.match(target):
                table[name.casefold()] = target
            else:
                raise ValueError(
                    f"DUMMI_PERSONALIZE_EVENT_TYPES: {name!r} maps to {target!r}; use an event type's name"
                    " (a-z, 0-9, _) or one of " + ", ".join(FEEDBACK)
                )
        return cls(table)

    def candidates(self, event_type: str) -> tuple[str, ...]:
        """The Dummi event types ``event_type`` may stand for, the product's own name first."""
        name = event_type.casefold()
        target = self.table.get(name)
        return (name,) if target is None or target == name else (name, target)

    def map(self, event_type: str, defined: frozenset[str] | set[str] = frozenset(INTERACTIONS)) -> MappedType:
        """``event_type`` as Dummi stores it: a defined Dummi type by its own name, else the table's target
        (``defined``: Dummi's event types, as the write's transaction locked them)."""
        name = event_type.casefold()
        if name in defined:
            return MappedType("interaction", name)
        target = self.table.get(name)
        if target is not None and target not in FEEDBACK and target not in defined:
            raise InvalidRequestError(
                f"eventType {event_type!r} maps to the event type {target!r}, which is not defined"
                " (PUT /event-types/{name})",
                field="eventType",
            )
        if target is None:
            known = ", ".join(sorted(self.table))
            raise InvalidRequestError(
                f"eventType {event_type!r} is no Dummi event type and has no mapping: mapped are {known} "
                "(PUT /event-types/{name} defines a type; DUMMI_PERSONALIZE_EVENT_TYPES maps more)",
                field="eventType",
            )
        return MappedType("feedback" if target in FEEDBACK else "interaction", target)

    def names_for(self, dummi_type: str) -> list[str]:
        """Every event type name that maps onto ``dummi_type`` (filters' ``Interactions.EVENT_TYPE`` reads
        Dummi's stored types through these)."""
        return [name for name, target in self.table.items() if target == dummi_type]


@lru_cache(maxsize=1)
def get_event_types() -> EventTypeTable:
    from dummi.config import get_settings

    return EventTypeTable.parse(get_settings().dummi_personalize_event_types)
