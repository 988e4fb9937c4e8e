"""What a training run carries from stage to stage: its inputs, its report, and each stage's outputs."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from dummi.ml.embeddings import get_embedder
from dummi.training.report import RunReport

if TYPE_CHECKING:
    from dummi.artifacts.store import ArtifactStore
    from dummi.db.connection import Database
    from dummi.ml.cf import CFModel, CooccurrenceModel, ItemItemModel
    from dummi.ml.publish_gate import Serving
    from dummi.ml.vector_index import VectorIndex
    from dummi.progress import Progress
    from dummi.training.params import TrainingParams


@dataclass
class Catalog:
    """The items a model is built on, in index order (every array and list below shares the positions)."""

    ids: list[str]
    titles: list[str]
    categories: list[str]
    tags: list[list[str]]
    vectors: np.ndarray  # (n, 384) float32, L2-normalized
    state: dict[str, list]  # properties, hidden, available_from, available_until per item
    as_of: datetime  # serving treats content created after this as "fresh" (not in this model)
    xmin: str  # serving reads every change by a transaction from this snapshot xmin on

    @property
    def size(self) -> int:
        return len(self.ids)

    def vectors_digest(self) -> str:
        """sha256 of the ids and vectors: two runs with the same digest build the same index."""
        digest = hashlib.sha256()
        digest.update("\n".join(self.ids).encode())
        digest.update(np.ascontiguousarray(self.vectors, dtype="<f4").tobytes())
        return digest.hexdigest()


@dataclass
class RunContext:
    db: Database
    store: ArtifactStore
    params: TrainingParams
    report: RunReport
    progress: Progress
    run_id: str | None = None
    checkpoint: Callable[[], None] = lambda: None
    embedder_factory: Callable[[], Any] | None = None
    retention: int | None = None
    spark: Any = None  # the SparkSession, on the Spark engine
    started: float = field(default_factory=time.perf_counter)

    # outputs, in the order the stages fill them
    catalog: Catalog | None = None
    events: Any = None  # list[Event] in process; a DataFrame on Spark
    events_as_of: datetime | None = None
    users_deleted_at: datetime | None = None  # the latest user deletion, read before the events
    serving: Serving | None = None  # what serves now (None before the first model)
    matrix: Any = None  # dummi.ml.interactions.InteractionMatrix (both engines end with one)
    index: VectorIndex | None = None
    cf_config: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # ranking settings chosen on the holdout
    metrics: dict[str, Any] = field(default_factory=dict)  # the choice's record for the manifest
    cf: CFModel | None = None
    wanted_algorithms: frozenset[str] = frozenset()  # CF algorithms live experiments need beside the chosen one
    alternatives: dict[str, CFModel] = field(default_factory=dict)
    newcomer_cf: CFModel | None = None  # the newcomers' own CF model, where the choice picked one
    popularity: np.ndarray | None = None
    cooccurrence: CooccurrenceModel | None = None
    sequence: ItemItemModel | None = None
    version: str | None = None  # the model serving after the run
    finished: bool = False  # a stage ended the run early (the serving model is kept)
    cleanup: list[Callable[[], None]] = field(default_factory=list)  # run when the run ends, however it ends
    _embedder: Any = field(default=None, repr=False)

    def embedder(self) -> Any:
        """The embedder, made on first use (a run that embeds nothing and reuses its choice loads none)."""
        if self._embedder is None:
            self._embedder = (self.embedder_factory or get_embedder)()
        return self._embedder
