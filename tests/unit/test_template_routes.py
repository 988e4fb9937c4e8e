"""template.yaml and the functions agree: every declared route is served by the handler the template names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from dummi.config import get_settings
from dummi.db.connection import get_database
from tests.conftest import FakeLambdaContext, load_event, load_function_module, read_template

ROOT = Path(__file__).resolve().parents[2]


def _functions() -> dict[str, dict]:
    resources = read_template()["Resources"]
    return {name: r["Properties"] for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}


def _declared_routes(props: dict) -> set[tuple[str, str]]:
    return {
        (e["Properties"]["Method"].upper(), e["Properties"]["Path"])
        for e in (props.get("Events") or {}).values()
        if e["Type"] == "HttpApi"
    }


def _documented_routes(app) -> set[tuple[str, str]]:
    """Routes in the app's OpenAPI spec (what it serves, less the hidden trailing-slash twins)."""
    spec = app.openapi()
    return {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}


def _event_for(method: str, path: str) -> dict:
    """An HTTP API v2 event for a declared route, path parameters filled in."""
    concrete = re.sub(r"\{[a-z_]+\}", "probe", path).replace("{proxy+}", "console.css")
    return load_event(
        "users_get",
        routeKey=f"{method} {path}",
        rawPath=concrete,
        requestContext={
            **load_event("users_get")["requestContext"],
            "http": {
                "method": method,
                "path": concrete,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "t",
            },
        },
        body="{}" if method in ("POST", "PUT") else None,
    )


def _routing_miss(response: dict) -> bool:
    """True when the app's router found no route (Starlette's own 404/405), not a route's answer."""
    if response["statusCode"] not in (404, 405):
        return False
    return json.loads(response["body"]).get("code") in ("route_not_found", "method_not_allowed")


FUNCTIONS = _functions()


@pytest.fixture(autouse=True)
def _unreachable_database(monkeypatch):
    """Point the functions at a closed loopback port: routing is tested without a database."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:x@127.0.0.1:1/none")
    monkeypatch.setenv("DUMMI_DB_CONNECT_TIMEOUT", "1")
    get_settings.cache_clear()
    get_database.cache_clear()
    yield
    get_settings.cache_clear()
    get_database.cache_clear()


def test_template_has_one_function_per_route_group_and_no_catch_all():
    assert {"UsersFunction", "ContentFunction", "InteractionsFunction"} <= set(FUNCTIONS)
    for name, props in FUNCTIONS.items():
        for method, path in _declared_routes(props):
            # the console's static files are the one greedy path (its folder, nothing of the API)
            catch_all = "{proxy+}" in path and path != "/console/{proxy+}"
            assert not catch_all and method != "ANY", f"{name} has a catch-all route {method} {path}"
            assert path == "/" or not path.endswith("/"), f"{name}: HTTP API routes cannot end in '/': {path}"


def _code_and_handler(props: dict) -> tuple[str, str]:
    """(folder of app.py, handler attribute) for a zip function, or for an image function the app.py its
    Dockerfile copies and the command it runs."""
    if props.get("PackageType") != "Image":
        handler_file, attr = props.get("Handler", "app.handler").split(".")
        assert handler_file == "app"
        return props["CodeUri"], attr
    dockerfile = (ROOT / "functions" / "training" / "Dockerfile").read_text()
    copied = re.search(r"COPY (functions/\S+)/app\.py", dockerfile)
    assert copied, "the Dockerfile copies no functions/<name>/app.py"
    default_cmd = json.loads(re.search(r"^CMD (\[.*\])", dockerfile, re.M).group(1))
    command = props.get("ImageConfig", {}).get("Command", default_cmd)
    handler_file, attr = command[0].split(".")
    assert handler_file == "app"
    return copied.group(1), attr


def _state_machines_text() -> str:
    """The text of every state machine in template.yaml (what their DefinitionSubstitutions name)."""
    text = (ROOT / "template.yaml").read_text()
    blocks = re.split(r"^  (?=[A-Za-z]+:\n    Type: )", text, flags=re.M)
    return "".join(b for b in blocks if "Type: AWS::Serverless::StateMachine" in b)


@pytest.mark.parametrize("function_name", sorted(FUNCTIONS))
def test_every_declared_route_is_served_by_the_named_handler(function_name):
    props = FUNCTIONS[function_name]
    code_dir, handler_attr = _code_and_handler(props)
    module = load_function_module(code_dir)
    handler = getattr(module, handler_attr)
    assert callable(handler)
    declared = _declared_routes(props)
    if not declared:
        invoked = f"!GetAtt {function_name}.Arn" in _state_machines_text()
        assert props.get("Events") or invoked, f"{function_name} has no events and no state machine invokes it"
        return
    for method, path in sorted(declared):
        # Postgres is unreachable here, so a served route answers 422 (bad body) or 503, never a routing miss.
        response = handler(_event_for(method, path), FakeLambdaContext())
        assert not _routing_miss(response), f"{function_name} does not serve {method} {path}"
        # Personalize's routes answer a bad body as AWS does: 400 with the error's type in x-amzn-ErrorType
        aws_shaped = "x-amzn-errortype" in {name.lower() for name in response.get("headers") or {}}
        assert response["statusCode"] in ((200, 400, 503) if aws_shaped else (200, 422, 503)), (method, path, response)


@pytest.mark.parametrize(
    "function_name",
    ["UsersFunction", "ContentFunction", "InteractionsFunction", "TrainingFunction", "RecommendationsFunction"],
)
def test_route_group_functions_serve_nothing_undeclared(function_name):
    props = FUNCTIONS[function_name]
    module = load_function_module(_code_and_handler(props)[0])
    declared = _declared_routes(props)
    # The collection routes are also served with the seed's trailing slash (POST /users/).
    allowed = declared | {(m, p + "/") for m, p in declared}
    assert _documented_routes(module.app) <= allowed


def test_every_api_route_is_declared_in_the_template():
    from dummi.api.app import create_full_app

    declared = set().union(*(_declared_routes(p) for p in FUNCTIONS.values()))
    hidden = {("GET", "/docs"), ("GET", "/openapi.json"), ("GET", "/console"), ("GET", "/console/{proxy+}")}
    for method, path in _documented_routes(create_full_app()) | hidden:
        assert (method, path.rstrip("/") or "/") in declared, f"{method} {path} is served but not routed"
