"""Personalize's ``eventType`` (any text a team chose: "click", "watch", "purchase") mapped to Dummi's
interaction and feedback types, by a table the deployment configures.

``DUMMI_PERSONALIZE_EVENT_TYPES`` lists ``name=type`` pairs separated by commas; each pair adds to or replaces
an entry of ``DEFAULT_EVENT_TYPES`` (names compared ignoring case, as Personalize's filters compare them); a
pair ``name=`` removes an entry. A type is one of Dummi's interactions (click, like, skip, view_time: the
event's ``eventValue`` is then its duration in seconds) or feedback (positive, negative, neutral). An event
type the table lacks is refused (InvalidInputException), never guessed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from dummi.errors import InvalidRequestError

INTERACTIONS = ("click", "like", "skip", "view_time")
FEEDBACK = ("positive", "negative", "neutral")
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
            elif target in INTERACTIONS or target in FEEDBACK:
                table[name.casefold()] = target
            else:
                raise ValueError(
                    f"DUMMI_PERSONALIZE_EVENT_TYPES: {name!r} maps to {target!r}; use one of "
                    + ", ".join(INTERACTIONS + FEEDBACK)
                )
        return cls(table)

    def map(self, event_type: str) -> MappedType:
        target = self.table.get(event_type.casefold())
        if target is None:
            known = ", ".join(sorted(self.table))
            raise InvalidRequestError(
                f"eventType {event_type!r} has no Dummi interaction type: known types are {known} "
                "(DUMMI_PERSONALIZE_EVENT_TYPES adds more)",
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
