"""All SQL about training runs and model versions."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dummi.db.connection import Connection

# pg_try_advisory_xact_lock key for triggering, pg_try_advisory_lock key for executing.
TRIGGER_LOCK = 0x64756D6D6901
EXECUTE_LOCK = 0x64756D6D6902
ACTIVE_STATES = ("queued", "running")

_COLUMNS = (
    "run_id, state, trigger, params, created_at, started_at, finished_at, timings, counts, model_version, error,"
    " updated_at, decision, engine, plan, stages"
)


@dataclass(frozen=True)
class TrainingRun:
    run_id: str
    state: str
    trigger: str
    params: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    timings: dict[str, float]
    counts: dict[str, int]
    model_version: str | None
    error: str | None
    updated_at: datetime
    decision: dict[str, Any] | None = None  # published or kept the serving model, and both holdout scores
    engine: str | None = None  # where it ran: local | spark (None until an executor takes it)
    plan: dict[str, Any] | None = None  # the planner's choice of engine and why (dummi.training.planner)
    stages: list[dict[str, Any]] = field(default_factory=list)  # [{name, seconds, engine}] in the order run


def _run(row: list) -> TrainingRun:
    return TrainingRun(
        str(row[0]),
        row[1],
        row[2],
        row[3] or {},
        row[4],
        row[5],
        row[6],
        row[7] or {},
        row[8] or {},
        row[9],
        row[10],
        row[11],
        row[12],
        row[13],
        row[14],
        row[15] or [],
    )


class TrainingRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def try_trigger_lock(self) -> bool:
        """Serialize triggers within the current transaction; False if another trigger holds it."""
        return bool(self.conn.run("SELECT pg_try_advisory_xact_lock(:key)", key=TRIGGER_LOCK)[0][0])

    def try_execute_lock(self) -> bool:
        """Session lock held for the whole run on this connection; False if a run is executing elsewhere."""
        return bool(self.conn.run("SELECT pg_try_advisory_lock(:key)", key=EXECUTE_LOCK)[0][0])

    def release_execute_lock(self) -> None:
        self.conn.run("SELECT pg_advisory_unlock(:key)", key=EXECUTE_LOCK)

    def abandon_stale(self, older_than_seconds: int) -> int:
        """Fail active runs that have shown no sign of life for a while (a crashed or timed-out executor)."""
        self.conn.run(
            "UPDATE training_runs SET state = 'failed', finished_at = now(), updated_at = now(),"
            " error = 'abandoned: no progress for ' || CAST(:secs AS text) || ' s'"
            " WHERE state IN ('queued', 'running') AND updated_at < now() - make_interval(secs => :secs)",
            secs=older_than_seconds,
        )
        return self.conn.row_count

    def abandon_orphaned(self) -> int:
        """Fail running runs whose executor is gone: an executor holds the execute lock from before it marks a
        run running until after it records the outcome, and Postgres drops a session's locks when its process
        dies (a kill -9, an out-of-memory kill, a lost host), so a running run with no holder will never end."""
        self.conn.run(
            "UPDATE training_runs SET state = 'failed', finished_at = now(), updated_at = now(),"
            " error = 'abandoned: the process executing it stopped (it holds the execute lock no more)'"
            " WHERE state = 'running' AND NOT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'"
            " AND granted AND objsubid = 1 AND classid = CAST(:high AS oid) AND objid = CAST(:low AS oid)"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
            high=EXECUTE_LOCK >> 32,
            low=EXECUTE_LOCK & 0xFFFFFFFF,
        )
        return self.conn.row_count

    def failed(self, run_ids: list[str]) -> set[str]:
        """Those of ``run_ids`` that failed."""
        rows = self.conn.run(
            "SELECT CAST(run_id AS text) FROM training_runs WHERE state = 'failed'"
            " AND CAST(run_id AS text) = ANY(CAST(:ids AS text[]))",
            ids=run_ids,
        )
        return {row[0] for row in rows}

    def active(self) -> TrainingRun | None:
        rows = self.conn.run(
            f"SELECT {_COLUMNS} FROM training_runs WHERE state IN ('queued', 'running')"
            " ORDER BY created_at DESC LIMIT 1"
        )
        return _run(rows[0]) if rows else None

    def create_queued(self, trigger: str, params: dict[str, Any]) -> TrainingRun | None:
        """A new queued run, or None if a run is already queued or running (the partial unique index)."""
        rows = self.conn.run(
            f"INSERT INTO training_runs (run_id, state, trigger, params)"
            f" VALUES (:run_id, 'queued', :trigger, CAST(:params AS jsonb))"
            f" ON CONFLICT DO NOTHING RETURNING {_COLUMNS}",
            run_id=str(uuid.uuid4()),
            trigger=trigger,
            params=json.dumps(params),
        )
        return _run(rows[0]) if rows else None

    def mark_running(self, run_id: str) -> TrainingRun | None:
        """queued -> running; None if the run is not queued (already taken or finished)."""
        rows = self.conn.run(
            f"UPDATE training_runs SET state = 'running', started_at = now(), updated_at = now()"
            f" WHERE run_id = CAST(:run_id AS uuid) AND state = 'queued' RETURNING {_COLUMNS}",
            run_id=run_id,
        )
        return _run(rows[0]) if rows else None

    def record_plan(self, run_id: str, engine: str, plan: dict[str, Any]) -> None:
        """Where the run will execute, and why (the planner's record)."""
        self.conn.run(
            "UPDATE training_runs SET engine = :engine, plan = CAST(:plan AS jsonb), updated_at = now()"
            " WHERE run_id = CAST(:run_id AS uuid)",
            run_id=run_id,
            engine=engine,
            plan=json.dumps(plan),
        )

    def record_progress(
        self, run_id: str, timings: dict[str, float], counts: dict[str, int], stages: list[dict[str, Any]]
    ) -> None:
        self.conn.run(
            "UPDATE training_runs SET timings = CAST(:timings AS jsonb), counts = CAST(:counts AS jsonb),"
            " stages = CAST(:stages AS jsonb), updated_at = now() WHERE run_id = CAST(:run_id AS uuid)",
            run_id=run_id,
            timings=json.dumps(timings),
            counts=json.dumps(counts),
            stages=json.dumps(stages),
        )

    def finish(
        self,
        run_id: str,
        *,
        state: str,
        timings: dict[str, float],
        counts: dict[str, int],
        model_version: str | None = None,
        error: str | None = None,
        decision: dict[str, Any] | None = None,
        stages: list[dict[str, Any]] | None = None,
        engine: str | None = None,
    ) -> TrainingRun:
        rows = self.conn.run(
            f"UPDATE training_runs SET state = :state, finished_at = now(), updated_at = now(),"
            f" timings = CAST(:timings AS jsonb), counts = CAST(:counts AS jsonb), model_version = :version,"
            f" error = :error, decision = CAST(:decision AS jsonb), stages = CAST(:stages AS jsonb),"
            f" engine = COALESCE(:engine, engine)"
            f" WHERE run_id = CAST(:run_id AS uuid) RETURNING {_COLUMNS}",
            run_id=run_id,
            state=state,
            timings=json.dumps(timings),
            counts=json.dumps(counts),
            version=model_version,
            error=error,
            decision=json.dumps(decision) if decision is not None else None,
            stages=json.dumps(stages or []),
            engine=engine,
        )
        return _run(rows[0])

    def get(self, run_id: str) -> TrainingRun | None:
        rows = self.conn.run(
            f"SELECT {_COLUMNS} FROM training_runs WHERE run_id = CAST(:run_id AS uuid)", run_id=run_id
        )
        return _run(rows[0]) if rows else None

    def latest(self, limit: int) -> list[TrainingRun]:
        rows = self.conn.run(f"SELECT {_COLUMNS} FROM training_runs ORDER BY created_at DESC LIMIT :limit", limit=limit)
        return [_run(r) for r in rows]

    def record_model_version(
        self, version: str, run_id: str | None, artifacts_uri: str, manifest: dict[str, Any], metrics: dict[str, Any]
    ) -> None:
        """Record a published version (once: a version recorded already is left as it is)."""
        self.conn.run(
            "INSERT INTO model_versions (version, run_id, artifacts_uri, manifest, metrics)"
            " VALUES (:version, CAST(:run_id AS uuid), :uri, CAST(:manifest AS jsonb), CAST(:metrics AS jsonb))"
            " ON CONFLICT (version) DO NOTHING",
            version=version,
            run_id=run_id,
            uri=artifacts_uri,
            manifest=json.dumps(manifest),
            metrics=json.dumps(metrics),
        )

    def recorded_versions(self) -> set[str]:
        return {row[0] for row in self.conn.run("SELECT version FROM model_versions")}

    def input_counts(self) -> dict[str, int]:
        """What a run will read and do, as the planner sizes it: events, items, users, texts to embed and
        their characters. Large tables are counted from the planner statistics (exact enough to size a run,
        and instant where a count(*) would scan 100M rows)."""
        rows = self.conn.run(
            "SELECT"
            " (SELECT CASE WHEN reltuples > 1e6 THEN CAST(reltuples AS bigint)"
            "   ELSE (SELECT count(*) FROM interactions) END FROM pg_class WHERE oid = 'interactions'::regclass),"
            " (SELECT count(*) FROM content), (SELECT count(*) FROM users),"
            " (SELECT count(*) FROM content WHERE text_hash IS NULL),"
            " (SELECT COALESCE(sum(length(title) + length(category) + length(description)"
            "   + length(array_to_string(tags, ' '))), 0) FROM content WHERE text_hash IS NULL)"
        )
        events, items, users, texts, chars = (int(v) for v in rows[0])
        return {"events": events, "items": items, "users": users, "texts_to_embed": texts, "text_chars": chars}
