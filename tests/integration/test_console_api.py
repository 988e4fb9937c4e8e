"""What the operator console stands on, without a browser: the page and its files (security headers, no
inline script, nothing outside its folder, the vendored chart library as recorded), and the aggregate routes
it reads (GET /overview, GET /experiments/{name}/timeline, GET /metrics/items/{content_id}), and previews
that log nothing."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import astuple
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path

import pytest

from dummi.db.experiments_repository import ExperimentsRepository
from dummi.services import api_keys
from dummi.services.sample_data import load_sample_data
from tests.browser.traffic import write_month
from tests.conftest import wait_for_run

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "shared" / "dummi" / "console"
SAMPLE = ROOT / "data" / "sample_data.json"


def test_the_page_is_served_with_strict_security_headers_and_no_inline_script(client):
    page = client.get("/console")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe" not in csp
    assert "default-src 'none'" in csp and "form-action 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    html = page.text
    assert "__DUMMI_BASE__" not in html
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S)
    assert scripts and all(body.strip() == "" for body in scripts)  # every script is a file
    assert not re.search(r"\son[a-z]+=", html) and " style=" not in html
    for src in re.findall(r'(?:src|href)="(/console/[^"]+)"', html):
        assert client.get(src).status_code == 200, src
    # the same page and files with /console/ and /console/index.html
    assert client.get("/console/").text == html == client.get("/console/index.html").text


def test_files_come_only_from_the_console_folder_with_their_types_and_etags(client):
    js = client.get("/console/js/main.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert client.get("/console/js/main.js", headers={"If-None-Match": js.headers["etag"]}).status_code == 304
    assert client.get("/console/console.css").headers["content-type"].startswith("text/css")
    for path in ("/console/../api/app.py", "/console/%2e%2e/api/app.py", "/console/__init__.py/x", "/console/nope.js",
                 "/console/.hidden"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 404 and "def create_app" not in response.text, path


def test_the_page_links_follow_the_root_path_it_is_served_under(db):
    from fastapi.testclient import TestClient

    from dummi.api.app import create_full_app

    with TestClient(create_full_app(), root_path="/prod") as prod:
        html = prod.get("/console").text
    assert 'src="/prod/console/js/main.js"' in html and 'data-base="/prod"' in html


def test_the_console_code_keeps_the_key_in_session_storage_and_builds_no_markup_from_text():
    uncommented = lambda text: re.sub(r"(^|\s)//.*$", "", text, flags=re.M)  # noqa: E731
    code = {p.name: uncommented(p.read_text()) for p in (CONSOLE / "js").rglob("*.js")}
    assert len(code) >= 9
    for name, text in code.items():
        assert "localStorage" not in text and "document.cookie" not in text, name
        assert "innerHTML" not in text and "eval(" not in text and "insertAdjacentHTML" not in text, name
    assert "sessionStorage.setItem" in code["api.js"] and '"X-API-Key"' in code["api.js"]


def test_the_vendored_chart_library_is_the_recorded_release():
    record = json.loads((CONSOLE / "vendor" / "chart.js.json").read_text())
    body = (CONSOLE / "vendor" / record["file"]).read_bytes()
    assert hashlib.sha256(body).hexdigest() == record["sha256"]
    makefile = (ROOT / "Makefile").read_text()
    assert f"CHARTJS_VERSION := {record['version']}\n" in makefile
    assert f"CHARTJS_INTEGRITY := {record['integrity']}\n" in makefile
    assert f"Chart.js v{record['version']}" in body[:200].decode()
    assert (CONSOLE / "vendor" / "chart.js-LICENSE.md").read_text().startswith("The MIT License")


def test_the_page_is_open_and_the_data_needs_a_read_key(client, db, monkeypatch):
    monkeypatch.setenv("DUMMI_AUTH", "on")
    from tests.conftest import _clear_caches

    _clear_caches()
    assert client.get("/console").status_code == 200
    assert client.get("/health").json()["auth"] is True
    assert client.get("/overview").status_code == 401
    read = api_keys.create_key(db, ["read"], "console").key
    for path in ("/overview", "/training/status", "/experiments", "/metrics/online"):
        assert client.get(path, headers={"X-API-Key": read}).status_code == 200, path
    assert client.post("/training/train", headers={"X-API-Key": read}).status_code == 403


def test_overview_counts_days_model_run_and_experiments(client, db):
    empty = client.get("/overview").json()
    assert empty["totals"] == {"users": 0, "items": 0, "recommendable_items": 0, "events": 0, "approximate": False}
    assert empty["model"] is None and empty["last_run"] is None and empty["ctr_vs_baseline"] is None
    assert len(empty["days"]) == 14 and empty["days"][-1]["day"] == datetime.now(UTC).date().isoformat()

    load_sample_data(db, SAMPLE)
    assert client.patch("/content/ml-101", json={"hidden": True}).status_code == 200
    for content_id in ("ml-102", "ml-103"):
        body = {"user_id": "maya", "content_id": content_id, "interaction_type": "click"}
        assert client.post("/recommendations/interact", json=body).status_code == 201
    assert client.post("/training/train", json={}).status_code == 202
    run = wait_for_run(client)
    body = {"name": "exp", "variants": [{"name": "a"}, {"name": "b", "overrides": {"cf_weight": 0.2}}]}
    assert client.post("/experiments", json=body).status_code == 201

    found = client.get("/overview").json()
    events = db.read(lambda conn: conn.run("SELECT count(*) FROM interactions")[0][0])
    assert found["totals"] == {
        "users": 9,
        "items": 38,
        "recommendable_items": 37,
        "events": events,
        "approximate": False,
    }
    assert found["events_today"] == found["days"][-1]["events"] == 2 and found["days"][-1]["users"] == 1
    assert found["model"]["version"] == run["model_version"] and 0 <= found["model"]["age_seconds"] < 120
    assert found["last_run"]["run_id"] == run["run_id"] and found["active_run"] is None
    assert found["experiments_running"] == 1


def test_item_metrics_are_the_jobs_daily_counts_and_go_with_the_item(client, db):
    load_sample_data(db, SAMPLE)
    written = write_month(db, days=10, answers_per_day=60)
    assert written.answers > 300 and written.clicks > 0
    shown = db.read(
        lambda conn: conn.run(
            "SELECT count(*) FROM impressions i, unnest(i.item_ids) AS u(item) WHERE u.item = 'ml-101'"
        )[0][0]
    )
    clicked = db.read(
        lambda conn: conn.run(
            "SELECT count(DISTINCT recommendation_id) FROM interactions WHERE content_id = 'ml-101'"
            " AND recommendation_id IS NOT NULL"
        )[0][0]
    )
    found = client.get("/metrics/items/ml-101").json()
    assert len(found["days"]) == 30 and found["to"] == datetime.now(UTC).date().isoformat()
    assert sum(d["impressions"] for d in found["days"]) == shown > 0
    assert sum(d["clicks"] for d in found["days"]) == clicked
    assert all(d["impressions"] == 0 for d in found["days"][:20])  # before the traffic began
    day = next(d for d in found["days"] if d["impressions"])
    assert day["ctr"] == round(day["clicks"] / day["impressions"], 6)

    assert client.get("/metrics/items/nope").status_code == 404
    too_long = client.get("/metrics/items/ml-101", params={"from": "2020-01-01", "to": "2026-01-01"}).json()
    assert (too_long["from"], len(too_long["days"])) == ("2025-01-01", 366)  # at most 366 days, ending at `to`
    assert client.delete("/content/ml-101").status_code == 204
    assert (
        db.read(lambda conn: conn.run("SELECT count(*) FROM item_daily_metrics WHERE content_id = 'ml-101'"))[0][0] == 0
    )


def test_the_timeline_ends_at_the_results_and_narrows(client, db):
    load_sample_data(db, SAMPLE)
    # an hour into the day six days back, whatever the time now: the first day's point has a day of answers
    # (started six days before a run at 23:30, its first point held half an hour, often nobody)
    day = datetime.combine(datetime.now(UTC).date() - timedelta(days=6), dt_time(1), UTC)
    body = {"name": "exp", "variants": [{"name": "a"}, {"name": "b"}], "starts_at": day.isoformat()}
    assert client.post("/experiments", json=body).status_code == 201
    write_month(db, days=8, answers_per_day=80, variant_lift={"b": 0.5})
    timeline = client.get("/experiments/exp/timeline").json()
    results = client.get("/experiments/exp/results").json()
    points = timeline["points"]
    assert 6 <= len(points) <= 8 and timeline["control"] == "a"
    assert [p["at"] for p in points] == sorted(p["at"] for p in points)
    last = {v["name"]: v for v in points[-1]["variants"]}
    for v in results["variants"]:
        assert (last[v["name"]]["users"], last[v["name"]]["clicks"]) == (v["users"], v["clicks"])
        assert last[v["name"]]["lift_interval"] == v["lift_interval"]
    first = {v["name"]: v for v in points[0]["variants"]}
    assert first["a"]["impressions"] < last["a"]["impressions"]
    widths = [p["variants"][1]["lift_interval"] for p in points if p["variants"][1]["lift_interval"]]
    assert widths[-1]["high"] - widths[-1]["low"] < widths[0]["high"] - widths[0]["low"]
    assert points[-1]["decision"] == results["decision"]
    # every point is what the results were at its time: the one-pass read against a read per point
    cuts = [datetime.fromisoformat(p["at"]) for p in points]
    one_pass = db.read(lambda conn: ExperimentsRepository(conn).user_sums_at("exp", cuts, ["click"]))
    for cut, got, point in zip(cuts, one_pass, points, strict=True):
        direct = db.read(lambda conn, cut=cut: ExperimentsRepository(conn).user_sums("exp", ["click"], until=cut))
        assert got.keys() == direct.keys() and got
        for variant, sums in direct.items():
            assert astuple(got[variant]) == pytest.approx(astuple(sums)), (cut, variant)
        # a point lists every variant; one nobody was assigned to by its time counts zero users
        counted = {name: (direct[name].users if name in direct else 0) for name in ("a", "b")}
        assert {v["name"]: v["users"] for v in point["variants"]} == counted
    assert client.get("/experiments/nope/timeline").status_code == 404


def test_previews_are_answered_and_logged_nowhere(client, db):
    load_sample_data(db, SAMPLE)
    assert client.post("/training/train", json={}).status_code == 202  # embeds the items: similar has answers
    wait_for_run(client)
    answer = client.post("/recommendations/", json={"user_id": "maya", "preview": True}).json()
    similar = client.get("/content/ml-101/similar", params={"preview": "true"}).json()
    popular = client.get("/recommendations/popular", params={"preview": "true"}).json()
    assert answer["recommendations"] and similar["recommendations"] and popular["recommendations"]
    assert answer["recommendation_id"] is similar["recommendation_id"] is popular["recommendation_id"] is None
    assert db.read(lambda conn: conn.run("SELECT count(*) FROM impressions"))[0][0] == 0
    logged = client.post("/recommendations/", json={"user_id": "maya"}).json()
    assert logged["recommendation_id"] and db.read(lambda conn: conn.run("SELECT count(*) FROM impressions"))[0][0] == 1


def test_the_meta_function_serves_the_console_behind_the_http_api(db, lambda_context):
    from tests.conftest import load_event, load_function_module

    handler = load_function_module("functions/meta").handler

    def get(route: str, path: str) -> dict:
        context = {**load_event("meta_health")["requestContext"]}
        context["http"] = {**context["http"], "method": "GET", "path": path}
        return handler(load_event("meta_health", routeKey=f"GET {route}", rawPath=path, requestContext=context),
                       lambda_context)  # fmt: skip

    page = get("/console", "/console")
    assert page["statusCode"] == 200 and not page.get("isBase64Encoded")
    assert '<main id="main"' in page["body"] and 'src="/console/js/main.js"' in page["body"]
    assert "frame-ancestors 'none'" in page["headers"]["content-security-policy"]
    library = get("/console/{proxy+}", "/console/vendor/chart.umd.min.js")
    assert library["statusCode"] == 200 and library["headers"]["content-type"].startswith("text/javascript")
    assert len(library["body"]) == (CONSOLE / "vendor" / "chart.umd.min.js").stat().st_size
    assert get("/console/{proxy+}", "/console/../../template.yaml")["statusCode"] == 404
