"""What one training run is asked to do (stored with the run, so an executor elsewhere reads the same)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from dummi.config import get_settings

ENGINES = ("auto", "local", "spark")


@dataclass(frozen=True)
class TrainingParams:
    retrain_cf: bool = True
    regenerate_embeddings: bool = False  # True: hash-check every row, not only rows a write marked
    cf_algorithm: str = "auto"  # auto: choose on the holdout; or a name from dummi.ml.cf.ALGORITHMS
    cf_factors: int = 50
    force: bool = False  # publish even if the holdout scores the new model worse than the serving one
    engine: str = "auto"  # auto: the planner chooses; local: in this process; spark: the Spark engine
    full_choice: bool = False  # search on the holdout even where the serving model's choice may be reused

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def configured(
        cls,
        *,
        retrain_cf: bool = True,
        regenerate_embeddings: bool = False,
        force: bool = False,
        engine: str = "auto",
        full_choice: bool = False,
    ) -> TrainingParams:
        """A run's parameters: the trigger's choices plus the algorithm settings of this deployment."""
        if engine not in ENGINES:
            raise ValueError(f"unknown engine {engine!r}; one of {', '.join(ENGINES)}")
        settings = get_settings()
        return cls(
            retrain_cf=retrain_cf,
            regenerate_embeddings=regenerate_embeddings,
            cf_algorithm=settings.dummi_cf_algorithm,
            cf_factors=settings.dummi_cf_factors,
            force=force,
            engine=engine,
            full_choice=full_choice,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingParams:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)
