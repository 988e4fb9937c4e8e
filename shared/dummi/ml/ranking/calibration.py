"""``score``: one meaning in every answer. An item's relevance, standardised over the user's candidates (its
mean and spread taken once, before any re-rank), through the sigmoid training fitted per mode (warm users,
newcomers) to the chance that a listed item is among what the user went on to like. Fixed once per item:
re-rankers order the list and never change it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

# Until a training run has fitted them (no model, or too little data to hold out), these: a z-score of 3 reads
# as 0.5.
DEFAULT_CALIBRATION: dict[str, tuple[float, float]] = {"warm": (1.0, -3.0), "cold": (1.0, -3.0)}
EPSILON = 1e-9


def calibration(settings: Any, mode: str) -> tuple[float, float]:
    """(a, b) of the mode's score calibration: the model's own, else DEFAULT_CALIBRATION. ``settings``: a
    ``Settings`` or a settings dict."""
    fitted_all = settings.get("calibration") if isinstance(settings, Mapping) else settings.calibration
    fitted = (fitted_all or {}).get(mode)
    a, b = fitted if fitted is not None else DEFAULT_CALIBRATION[mode]
    return float(a), float(b)


def stats(relevance: np.ndarray) -> tuple[float, float]:
    """Mean and standard deviation (1 when constant) of the finite relevance values: the scale ``score``
    standardises them on."""
    finite = relevance[np.isfinite(relevance)]
    if not len(finite):
        return 0.0, 1.0
    spread = float(finite.std())
    return float(finite.mean()), spread if spread > EPSILON else 1.0


def sigmoid(x: float) -> float:
    return float(0.5 * (1.0 + np.tanh(0.5 * x)))  # 1 / (1 + e^-x), without overflow


@dataclass(frozen=True)
class Calibration:
    a: float
    b: float
    mean: float
    spread: float

    @classmethod
    def of(cls, settings: Any, mode: str, relevance: np.ndarray) -> Calibration:
        return cls(*calibration(settings, mode), *stats(relevance))

    def z(self, value: float | np.ndarray):
        """Relevance standardised as ``score`` reads it."""
        return (value - self.mean) / self.spread

    def score(self, value: float) -> float:
        """The item's ``score``: 0..1 (0 for an item the ranking left out, never a listed one)."""
        value = float(value)
        return sigmoid(self.a * (value - self.mean) / self.spread + self.b) if np.isfinite(value) else 0.0
