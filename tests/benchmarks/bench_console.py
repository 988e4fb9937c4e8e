"""The console's overview, first render: ml-100k loaded and trained, a month of traffic on two surfaces (answers,
clicks, a running experiment) with the online metrics job over every day, a real `dummi run` on loopback, and
Debian's Chromium. A run is a fresh browser context (empty cache), the key already in its sessionStorage,
navigated to /console#/overview; the time is the view's `dummi:ready:overview` mark (from navigation start to
the cards, the four charts and the tables drawn). Also the JSON each view reads, in bytes and server time.

Usage: .venv/bin/python tests/benchmarks/bench_console.py [--runs 9] [--answers-per-day 3000]
Goal (issue 22): first render <= 1 s on loopback. Run it alone on a quiet machine."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import ML100K, ROOT

sys.path.insert(0, str(ROOT))

from tests.browser.console_server import CHROMIUM_ARGS, ConsoleServer, chromium  # noqa: E402
from tests.browser.traffic import write_month  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--answers-per-day", type=int, default=3000)
    args = parser.parse_args()
    path = chromium()
    if path is None or not ML100K.exists():
        print("needs Chromium (make browser-setup) and the ml-100k split", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        server = ConsoleServer(Path(folder), sample=False)
        db = server.start_database()
        started = time.perf_counter()
        env = {**os.environ, "DATABASE_URL": server.postgres.url, "DUMMI_DATA_DIR": str(Path(folder) / "data")}
        subprocess.run([sys.executable, "-m", "dummi.cli", "import", "--data", str(ML100K)], env=env, check=True)
        print(f"imported ml-100k in {time.perf_counter() - started:.1f} s", flush=True)
        server.start()
        try:
            run = server.call("POST", "/training/train", json={}).json()
            while server.call("GET", "/training/status").json()["active"]:
                time.sleep(1)
            print(f"trained (run {run['run_id']})", flush=True)
            body = {
                "name": "blend",
                "variants": [{"name": "control"}, {"name": "cf-heavy", "overrides": {"cf_weight": 0.8}}],
                "starts_at": (datetime.now(UTC) - timedelta(days=20)).isoformat(),
            }
            assert server.call("POST", "/experiments", json=body).status_code == 201
            started = time.perf_counter()
            written = write_month(db, days=30, answers_per_day=args.answers_per_day, variant_lift={"cf-heavy": 0.1})
            print(f"a month of traffic: {written} in {time.perf_counter() - started:.1f} s", flush=True)
            rows = db.read(lambda conn: conn.run("SELECT count(*) FROM online_metrics")[0][0])
            print(f"online_metrics rows: {rows}; events: {server.call('GET', '/overview').json()['totals']['events']}")

            today = datetime.now(UTC).date()
            reads = {
                "GET /overview": ("/overview", {}),
                "GET /metrics/online (30 days x surface)": (
                    "/metrics/online",
                    {
                        "from": (today - timedelta(days=29)).isoformat(),
                        "to": today.isoformat(),
                        "group_by": "day,surface",
                    },
                ),
                "GET /training/status?limit=20": ("/training/status", {"limit": 20}),
                "GET /experiments/blend/results": ("/experiments/blend/results", {}),
                "GET /experiments/blend/timeline": ("/experiments/blend/timeline", {}),
                "GET /metrics/items/m50": ("/metrics/items/m50", {}),
            }
            print("\nJSON read by the views (median of 5 calls over loopback, bytes):")
            for name, (route, params) in reads.items():
                times, size = [], 0
                for _ in range(5):
                    t0 = time.perf_counter()
                    response = server.call("GET", route, key="read", params=params)
                    times.append((time.perf_counter() - t0) * 1000)
                    size = len(response.content)
                    assert response.status_code == 200, (route, response.text)
                print(f"  {name:45s} {statistics.median(times):7.1f} ms {size:9,d} B")

            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
                firsts = []
                for _ in range(args.runs):
                    context = browser.new_context(viewport={"width": 1280, "height": 900})
                    context.add_init_script(f"sessionStorage.setItem('dummi.apiKey', '{server.keys['read']}')")
                    page = context.new_page()
                    page.goto(f"{server.base}/console#/overview")
                    page.wait_for_selector('main[data-ready="overview"]', timeout=30_000)
                    mark = page.evaluate("performance.getEntriesByName('dummi:ready:overview')[0].startTime")
                    transferred = page.evaluate(
                        "performance.getEntriesByType('resource').reduce((s, r) => s + r.transferSize, 0)"
                    )
                    firsts.append(mark)
                    context.close()
                browser.close()
            print(f"\noverview first render, {args.runs} fresh contexts (navigation start -> drawn):")
            print(f"  median {statistics.median(firsts):.0f} ms, min {min(firsts):.0f} ms, max {max(firsts):.0f} ms")
            print(f"  transferred on the last run (files + JSON): {transferred / 1024:.0f} KiB")
            print(f"  goal <= 1000 ms: {'met' if statistics.median(firsts) <= 1000 else 'NOT met'} (median)")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
