"""Which of Dummi's surfaces (and, if named, which experiment variant) a Personalize ARN stands for.

Personalize calls name a campaign (``campaignArn``) or a recommender (``recommenderArn``); Dummi has one
ranking per model, so any ARN is accepted and only says *where* the answer is shown, and optionally which
variant of a running experiment serves it:

- ``DUMMI_PERSONALIZE_ARNS`` maps an ARN, or its last name (``campaign/home-feed`` -> ``home-feed``), to
  ``surface`` or ``surface:experiment:variant``, pairs separated by commas:
  ``home-feed=home,campaign-b=home:ranker:b``. Two "campaigns" mapped onto two variants of one experiment are
  compared by that experiment (every answer is logged with its experiment and variant).
- Otherwise the surface is the ARN's last name when it is a valid surface (letters, digits, ``._:-``, at most
  64), else ``personalize``; the user's own experiment assignment (if any) applies, as on Dummi's routes.
- A request's ``context`` key ``surface`` overrides the surface (never the variant).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

SURFACE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
DEFAULT_SURFACE = "personalize"


@dataclass(frozen=True, slots=True)
class Target:
    surface: str
    experiment: str | None = None
    variant: str | None = None


def last_name(arn: str) -> str:
    """``arn:aws:personalize:us-east-1:123456789012:campaign/home`` -> ``home``."""
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class ArnMap:
    def __init__(self, entries: dict[str, Target]) -> None:
        self.entries = entries

    @classmethod
    def parse(cls, spec: str) -> ArnMap:
        entries: dict[str, Target] = {}
        for pair in (p.strip() for p in spec.split(",") if p.strip()):
            name, eq, target = (part.strip() for part in pair.rpartition("="))
            parts = target.split(":")
            if not eq or not name or len(parts) not in (1, 3) or not all(parts) or not SURFACE.match(parts[0]):
                raise ValueError(
                    f"DUMMI_PERSONALIZE_ARNS: {pair!r} is not ARN=surface or ARN=surface:experiment:variant"
                )
            entries[name] = Target(parts[0], *(parts[1:] if len(parts) == 3 else ()))
        return cls(entries)

    def target(self, arn: str | None, context: dict[str, str] | None = None) -> Target:
        found = None
        if arn:
            found = self.entries.get(arn) or self.entries.get(last_name(arn))
            if found is None:
                name = last_name(arn)
                found = Target(name if SURFACE.match(name) else DEFAULT_SURFACE)
        found = found or Target(DEFAULT_SURFACE)
        surface = (context or {}).get("surface")
        if surface and SURFACE.match(surface):
            found = Target(surface, found.experiment, found.variant)
        return found


@lru_cache(maxsize=1)
def get_arn_map() -> ArnMap:
    from dummi.config import get_settings

    return ArnMap.parse(get_settings().dummi_personalize_arns)
