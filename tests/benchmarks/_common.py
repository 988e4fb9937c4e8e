"""Helpers shared by the benchmark scripts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATASETS = Path(os.environ.get("DUMMI_DATASETS", ROOT.parent / "shared" / "datasets"))
ML100K = DATASETS / "ml-100k-split"


class LambdaContext:
    """What the function handlers read of a Lambda context, for calling them in process."""

    function_name, function_version, memory_limit_in_mb = "bench", "$LATEST", 1769
    invoked_function_arn, aws_request_id = "arn:aws:lambda:us-east-1:0:function:bench", "bench"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29_000


def content_texts() -> list[str]:
    """Real catalog text: the ml-100k split's content when present, else the sample catalog."""
    from dummi.ml.text import content_text

    path = ML100K / "content.jsonl"
    if path.exists():
        rows = [json.loads(line) for line in path.open()]
    else:
        rows = json.loads((ROOT / "data" / "sample_data.json").read_text())["content"]
    return [content_text(r["title"], r["category"], r.get("tags", []), r.get("description", "")) for r in rows]


def model_dir() -> Path:
    from dummi.config import get_settings
    from dummi.ml.embeddings import ensure_onnx_model

    return ensure_onnx_model(get_settings().model_dir)


def in_fresh_process(code: str, *, echo_stderr: bool = False) -> dict:
    """Run ``code`` in a new interpreter (cold imports); it must print one JSON object last."""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    if echo_stderr:
        print(out.stderr, file=sys.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


PEAK_RSS_SNIPPET = "int(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1]) / 1024"
"""Peak resident memory of the current process in MB (VmHWM; unlike ru_maxrss it is not inherited from the
parent across fork + exec)."""


def save_figure(fig, out: Path) -> None:
    """Lay out, write and name a matplotlib figure (a docs/*.png the README shows)."""
    fig.tight_layout()
    out.parent.mkdir(exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out.relative_to(ROOT)}")


@contextmanager
def bench_database(data: Path) -> Iterator:
    """An embedded Postgres in ``data``, migrated, in the environment the handler benchmarks run in (file store
    under ``data``, Powertools quiet, the model re-checked once a minute); closed and stopped afterwards."""
    from dummi.db.connection import Database
    from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres
    from dummi.db.migrations import migrate

    url = start_embedded_postgres(data)
    os.environ.update(
        DATABASE_URL=url,
        ARTIFACTS_URI=(data / "artifacts").as_uri(),
        POWERTOOLS_TRACE_DISABLED="1",
        POWERTOOLS_METRICS_NAMESPACE="Bench",
        POWERTOOLS_LOG_LEVEL="WARNING",
        POWERTOOLS_METRICS_DISABLED="true",
        DUMMI_MODEL_CHECK_SECONDS="60",
    )
    db = Database(url, pool_size=2, statement_timeout_ms=3_600_000)
    try:
        migrate(db)
        yield db
    finally:
        db.close()
        stop_embedded_postgres(data)
