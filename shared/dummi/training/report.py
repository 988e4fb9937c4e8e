"""What a run reports as it goes (no numpy: the planner's function imports it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunReport:
    """Timings and counts by name, the stages in the order they ran, and the publish decision."""

    timings: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    decision: dict[str, Any] | None = None  # dummi.ml.publish_gate.decide
    stages: list[dict[str, Any]] = field(default_factory=list)  # [{name, seconds, engine}] in order
    engine: str | None = None  # where the run's stages ran: local | spark
    plan: dict[str, Any] | None = None  # the planner's choice of engine, and why (dummi.training.planner)

    def stage_done(self, name: str, seconds: float, engine: str) -> None:
        self.timings[name] = seconds
        self.stages.append({"name": name, "seconds": seconds, "engine": engine})
