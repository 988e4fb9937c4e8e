"""One training run (the path of `dummi train`) that kills its own process with SIGKILL at a chosen point, as an
out-of-memory kill or a lost host would; run as a subprocess by test_training_kills.py:

    python -m tests.integration.train_and_die POINT

POINT: ``before:<stage>`` (a stage boundary: the earlier stages ran and were checkpointed), ``put:<n>`` (the
version's n-th file is stored), ``inside-put:<n>`` (the n-th file's bytes are on disk under a temporary name,
not yet renamed into place: a file store's put cut in the middle), ``manifest`` (the version is complete, the
pointer not yet moved), ``pointer`` (the pointer is moved, the run not yet recorded), ``finish`` (everything
but the run's own ending). Settings come from the environment (DATABASE_URL, ARTIFACTS_URI); the run is forced,
so that it would publish. Nothing is cleaned up on the way out: SIGKILL allows nothing."""

from __future__ import annotations

import os
import signal
import sys


def die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def arm(point: str) -> None:
    from dummi.artifacts import store as stores
    from dummi.db.training_repository import TrainingRepository
    from dummi.training import pipeline

    kind, _, arg = point.partition(":")
    if kind == "before":
        stages = pipeline.local_stages

        def local_stages():
            found = stages()
            for stage in found:
                if stage.name == arg:
                    stage.run = lambda ctx: die()
            assert any(stage.name == arg for stage in found), f"no stage {arg}"
            return found

        pipeline.local_stages = local_stages
    elif kind == "inside-put":
        replace, seen = os.replace, []

        def renaming(src, dst, *args, **kwargs):
            if "/models/" in str(dst) and not str(dst).endswith("latest.json"):
                seen.append(dst)
                if len(seen) == int(arg):
                    die()  # the temporary file is written and synced; the rename never happens
            return replace(src, dst, *args, **kwargs)

        stores.os.replace = renaming
    elif kind in ("put", "manifest", "pointer"):
        for cls in (stores.FileStore, stores.S3Store):
            put, seen = cls.put, []

            def putting(self, key, data, _put=put, _seen=seen):
                _put(self, key, data)
                if key.startswith("models/") and key != "models/latest.json":
                    _seen.append(key)
                hit = {
                    "put": len(_seen) == int(arg or 0) and not key.endswith("manifest.json"),
                    "manifest": key.endswith("/manifest.json"),
                    "pointer": key == "models/latest.json",
                }[kind]
                if hit:
                    die()

            cls.put = putting
    elif kind == "finish":
        TrainingRepository.finish = lambda *args, **kwargs: die()
    else:
        raise SystemExit(f"unknown point {point!r}")


def main() -> None:
    arm(sys.argv[1])
    from dummi.artifacts.store import get_artifact_store
    from dummi.db.connection import get_database
    from dummi.training.params import TrainingParams
    from dummi.training.runs import run_now

    run = run_now(get_database(), get_artifact_store(), "cli", TrainingParams.configured(force=True))
    print(f"the run was not killed: {run.state if run else 'not run'}")
    sys.exit(3)


if __name__ == "__main__":
    main()
