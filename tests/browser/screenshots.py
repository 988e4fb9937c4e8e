"""Screenshots of every console view for the README (`make console-screenshots`): a real `dummi run` with the
sample data, a month of traffic, a running experiment and two training runs, seen by the headless Chromium the
browser tests use. Usage: python tests/browser/screenshots.py OUT_DIR"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.browser.console_server import CHROMIUM_ARGS, EXPERIMENT, ConsoleServer, chromium, seed  # noqa: E402

VIEWS = (
    ("overview", "overview"),
    ("training", "training"),
    (f"experiments/{EXPERIMENT}", "experiment"),
    ("users/maya", "user"),
    ("items/ml-101", "item"),
)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")
    out.mkdir(parents=True, exist_ok=True)
    path = chromium()
    if path is None:
        print("no Chromium: run `make browser-setup` (as root) or set DUMMI_CHROMIUM", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        server = ConsoleServer(Path(folder)).start()
        try:
            print(f"seeding: {seed(server)}", flush=True)
            for _ in range(2):  # the second run is held against the first on the holdout
                run = server.call("POST", "/training/train", json={}).json()
                while server.call("GET", "/training/status").json()["active"]:
                    time.sleep(0.5)
                print(f"trained: run {run['run_id']}", flush=True)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
                page.goto(f"{server.base}/console")
                page.fill("#key-input", server.keys["read"])
                page.press("#key-input", "Enter")
                page.wait_for_selector('main[data-ready="overview"]')
                for view, name in VIEWS:
                    page.evaluate("h => { window.location.hash = h }", f"#/{view}")
                    page.wait_for_selector(f'main[data-ready="{view.split("/")[0]}"][aria-busy="false"]')
                    if name == "user":  # the same list beside it at more diversity and less CF
                        page.fill("#cmp-diversity", "0.8")
                        page.fill("#cmp-cf-weight", "0.2")
                        page.click("#compare-form button")
                        page.wait_for_selector("#recs-compare")
                    page.mouse.move(0, 0)
                    target = out / f"console-{name}.png"
                    page.screenshot(path=str(target), full_page=True)
                    print(f"wrote {target}", flush=True)
                browser.close()
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
