"""The operator console in a real browser (headless Debian Chromium, Playwright) against a real `dummi run`
with auth on, the sample data, a month of traffic and a running experiment: every view renders without a
console error and shows the API's numbers; a user lookup; a training run started and followed to its end; an
experiment stop refused with a read key and done with an admin key; the key never in a URL, a cookie,
localStorage or the server's log; accessibility basics (axe-core: labels, contrast; the keyboard)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.browser.console_server import EXPERIMENT

pytestmark = pytest.mark.timeout(300)


def _sign_in(page, console, key: str = "read", view: str = "overview") -> None:
    page.goto(f"{console.base}/console#/{view}")
    page.wait_for_selector("#key-panel:not([hidden])")
    assert page.evaluate("document.activeElement.id") == "key-input"  # the key field has the focus
    page.fill("#key-input", console.keys[key])
    page.press("#key-input", "Enter")
    _ready(page, view.split("/")[0])


def _ready(page, view: str) -> None:
    page.wait_for_selector(f'main[data-ready="{view}"][aria-busy="false"]')


def _go(page, hash_: str) -> None:
    page.evaluate("h => { window.location.hash = h }", hash_)
    _ready(page, hash_.strip("#/").split("/")[0])


def _cells(page, table: str, column: str) -> list[str]:
    return page.eval_on_selector_all(f"#{table} td[data-col='{column}']", "cells => cells.map(c => c.textContent)")


def _num(value: int) -> str:
    return f"{value:,}"


def test_every_view_renders_the_apis_numbers_without_a_console_error(page, console):
    _sign_in(page, console)
    overview = console.call("GET", "/overview", key="read").json()
    card = lambda name: page.text_content(f"#card-{name} .value")  # noqa: E731
    assert card("users") == _num(overview["totals"]["users"])
    assert card("items") == _num(overview["totals"]["items"])
    assert card("events") == _num(overview["totals"]["events"])
    assert card("events-today") == _num(overview["events_today"])
    assert card("experiments") == _num(overview["experiments_running"]) == "1"
    assert card("model") == (overview["model"]["version"] if overview["model"] else "none yet")
    for chart in ("activity", "ctr", "coverage", "intra_list_diversity"):
        assert page.is_visible(f"#chart-{chart} canvas"), chart
    # the per-surface table adds up the rows of GET /metrics/online over the page's 30 days
    today = datetime.now(UTC).date()
    query = {"from": (today - timedelta(days=29)).isoformat(), "to": today.isoformat(), "group_by": "day,surface"}
    rows = console.call("GET", "/metrics/online", key="read", params=query).json()["rows"]
    surfaces = sorted({r["surface"] for r in rows})
    assert surfaces == ["email", "home"]
    shown = page.eval_on_selector_all(
        "#surface-totals tbody tr", "rs => rs.map(r => [...r.cells].map(c => c.textContent))"
    )
    for surface, line in zip(surfaces, shown, strict=True):
        mine = [r for r in rows if r["surface"] == surface]
        assert line[:4] == [surface, _num(sum(r["lists"] for r in mine)), _num(sum(r["impressions"] for r in mine)),
                            _num(sum(r["clicks"] for r in mine))]  # fmt: skip

    _go(page, "#/training")
    runs = console.call("GET", "/training/status", key="read", params={"limit": 20}).json()["runs"]
    assert _cells(page, "runs", "state") == [r["state"] for r in runs] or (not runs and page.is_visible("#runs"))

    _go(page, "#/experiments")
    listed = console.call("GET", "/experiments", key="read").json()
    assert [c.strip() for c in _cells(page, "experiments", "name")] == [e["name"] for e in listed]
    assert _cells(page, "experiments", "status") == [e["status"] for e in listed]

    _go(page, f"#/experiments/{EXPERIMENT}")
    results = console.call("GET", f"/experiments/{EXPERIMENT}/results", key="read").json()
    assert page.text_content("#decision") == f"Decision: {results['decision']}"
    for column in ("users", "impressions", "clicks"):
        assert _cells(page, "variants", column) == [_num(v[column]) for v in results["variants"]], column
    assert _cells(page, "variants", "ctr") == [f"{v['ctr'] * 100:.2f}%" for v in results["variants"]]
    assert page.is_visible("#chart-ctr canvas") and page.is_visible("#chart-lift canvas")

    _go(page, "#/users/maya")
    user = console.call("GET", "/users/maya", key="read", params={"history_limit": 20}).json()
    assert page.eval_on_selector_all("#history li", "ls => ls.map(l => l.textContent)") == user["history"]
    answer = console.call("POST", "/recommendations/", key="read", json={"user_id": "maya", "preview": True}).json()
    ranked = [r["title"] for r in answer["recommendations"] if r["method"] != "explore"]
    methods, titles = _cells(page, "recs", "method"), _cells(page, "recs", "title")
    on_page = [t for t, m in zip(titles, methods, strict=True) if not m.startswith("explore")]
    assert len(titles) == 10
    common = min(len(ranked), len(on_page))  # exploration is random: it may take a slot in one list only
    assert common >= 8 and on_page[:common] == ranked[:common]
    assert _cells(page, "recs", "score")[0] == f"{answer['recommendations'][0]['score']:.3f}"
    # a variant that sets cf_weight says so beside the comparison (its value replaces the one asked for)
    overridden = page.query_selector("#overridden")
    if answer["variant"] == "fresh":
        assert overridden and "sets cf_weight = 0.3" in overridden.text_content()
    else:
        assert overridden is None, answer["variant"]

    _go(page, "#/items/ml-101")
    days = console.call("GET", "/metrics/items/ml-101", key="read").json()["days"]
    shown, clicks = sum(d["impressions"] for d in days), sum(d["clicks"] for d in days)
    assert shown > 0
    assert page.text_content("#item-totals").startswith(f"{_num(shown)} times shown, {_num(clicks)} clicks")
    similar = console.call("GET", "/content/ml-101/similar", key="read", params={"preview": "true"}).json()
    assert _cells(page, "similar", "title") == [r["title"] for r in similar["recommendations"]]
    assert page.is_visible("#chart-item canvas")

    assert page.problems == []


def test_a_user_is_found_by_the_lookup_and_compared_at_other_settings(page, console):
    _sign_in(page, console, view="users")
    page.fill("#user-id", "noah")
    page.press("#user-id", "Enter")
    page.wait_for_selector("h1:text('User noah')")
    _ready(page, "users")
    assert len(_cells(page, "recs", "title")) == 10
    page.fill("#cmp-diversity", "1")
    page.fill("#cmp-cf-weight", "0")
    page.click("#compare-form button")
    page.wait_for_selector("#recs-compare")
    assert len(_cells(page, "recs-compare", "title")) == 10
    # a user in the variant that sets cf_weight: the page says the comparison's cf_weight is replaced
    fresh = next(
        f"reader-{k:03d}"
        for k in range(80)
        if console.call("POST", "/recommendations/", key="read", json={"user_id": f"reader-{k:03d}", "preview": True})
        .json()["variant"] == "fresh"
    )  # fmt: skip
    _go(page, f"#/users/{fresh}")
    assert "sets cf_weight = 0.3" in page.text_content("#overridden")
    assert page.problems == []
    # an unknown user is said so, with the field at fault, in the page
    page.fill("#user-id", "nobody-at-all")
    page.press("#user-id", "Enter")
    page.wait_for_selector("#user-error")
    assert "user 'nobody-at-all' not found" in page.text_content("#user-error")


def test_a_training_run_is_started_and_followed_to_its_end(page, console):
    _sign_in(page, console, key="admin", view="training")
    before = {r["run_id"] for r in console.call("GET", "/training/status").json()["runs"]}
    page.click("#start-run")
    page.wait_for_selector("#active-run", timeout=30_000)
    assert "Stages done" in page.text_content("#active-run")
    page.wait_for_selector("#last-run", timeout=240_000)  # shown once no run is active
    runs = console.call("GET", "/training/status").json()["runs"]
    new = [r for r in runs if r["run_id"] not in before]
    assert len(new) == 1 and new[0]["state"] == "succeeded", new
    assert page.text_content("#last-run").startswith("Last run succeeded")
    assert new[0]["decision"]["reason"] in page.text_content("#last-run")
    assert _cells(page, "runs", "state")[0] == "succeeded"
    assert page.is_visible("#chart-stages canvas")
    assert page.problems == []


def test_an_experiment_stop_is_refused_with_a_read_key_and_done_with_an_admin_key(page, console):
    page.on("dialog", lambda d: d.accept())
    _sign_in(page, console, key="read", view=f"experiments/{EXPERIMENT}")
    page.click("#stop")
    page.wait_for_selector("#experiment-message.error")
    message = page.text_content("#experiment-message")
    assert message.startswith("Refused:") and "admin" in message
    assert console.call("GET", f"/experiments/{EXPERIMENT}").json()["status"] == "running"
    page.problems.clear()  # the refused POST is a 403 in the browser's log, as it should be

    page.click("#forget-key")
    page.wait_for_selector("#key-panel:not([hidden])")
    page.fill("#key-input", console.keys["admin"])
    page.press("#key-input", "Enter")
    page.wait_for_selector("#stop")
    page.click("#stop")
    page.wait_for_selector("#stop[disabled]")
    assert console.call("GET", f"/experiments/{EXPERIMENT}").json()["status"] == "stopped"
    assert "stopped" in page.text_content("main p.muted")
    assert page.problems == []


def test_the_key_stays_in_the_tab_and_out_of_urls_cookies_storage_and_logs(page, console):
    _sign_in(page, console, key="read")
    for view in ("#/training", "#/users/maya", "#/items/ml-101"):
        _go(page, view)
    key = console.keys["read"]
    secret = key.split("_", 2)[2]  # dk_<id>_<secret>: the secret may hold "_" itself (URL-safe base64)
    assert page.evaluate("Object.keys(localStorage).length") == 0
    assert page.evaluate("Object.values(sessionStorage)") == [key]
    assert page.context.cookies() == []
    assert not [u for u in page.requested if key in u or secret in u]
    assert key not in page.url and secret not in console.log.read_text()
    # a wrong key is refused in the key panel, and nothing of it stays behind
    page.click("#forget-key")
    page.fill("#key-input", "dk_nope_nope")
    page.press("#key-input", "Enter")
    page.wait_for_selector("#key-error:not(:empty)")
    assert page.evaluate("sessionStorage.length") == 0


VIEWS = ("overview", "training", "experiments", f"experiments/{EXPERIMENT}", "users/maya", "items/ml-101")


def test_accessibility_basics_labels_contrast_and_keyboard(page, console):
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    _sign_in(page, console)
    for view in VIEWS:
        _go(page, f"#/{view}")
        found = axe.run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}})
        problems = [(v["id"], [n["target"] for n in v["nodes"]][:3]) for v in found.response["violations"]]
        assert problems == [], f"{view}: {problems}"
        checked = {rule["id"] for rule in found.response["passes"]}
        assert {"color-contrast", "document-title", "html-has-lang"} <= checked, view  # the rules did apply
        if page.query_selector("main input"):
            assert "label" in checked, view

    # the keyboard alone: skip link, then the views' links; Enter opens one and puts the focus on the view
    page.goto(f"{console.base}/console#/overview")
    _ready(page, "overview")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to the view"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Overview"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    _ready(page, "training")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")  # the first control of the view: the training form
    assert page.evaluate("document.activeElement.id") == "opt-retrain-cf"
    # a lookup by keyboard: the field has a label and Enter submits it
    _go(page, "#/users")
    assert page.evaluate("document.activeElement.id") == "user-id"
    assert page.evaluate("document.activeElement.labels[0].textContent") == "User id"
    page.keyboard.type("sofia")
    page.keyboard.press("Enter")
    page.wait_for_selector("h1:text('User sofia')")
    assert page.problems == []
