"""API keys with scopes (DUMMI_AUTH=on): who gets in, what they may do, what is stored and logged."""

from __future__ import annotations

import hashlib
import json

import pytest

from dummi.services import api_keys
from tests.conftest import _clear_caches, load_event, load_function_module

ALICE = {"user_id": "alice", "interests": ["python"], "skill_level": "beginner"}
TUT1 = {"content_id": "tut1", "title": "Python basics", "category": "python"}


@pytest.fixture
def auth_on(db, monkeypatch):
    monkeypatch.setenv("DUMMI_AUTH", "on")
    _clear_caches()
    api_keys.get_key_cache.cache_clear()
    yield db
    api_keys.get_key_cache.cache_clear()


@pytest.fixture
def keys(auth_on) -> dict[str, str]:
    return {scope: api_keys.create_key(auth_on, [scope], f"{scope} key").key for scope in ("read", "write", "admin")}


def _as(key: str) -> dict[str, str]:
    return {"X-API-Key": key}


def test_health_and_docs_stay_open(auth_on, client):
    assert client.get("/health").status_code == 200
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-API-Key": ""}, {"X-API-Key": "not-a-key"}, {"X-API-Key": "dk_0123456789abcdef_" + "A" * 43}],
    ids=["missing", "empty", "malformed", "unknown"],
)
def test_no_valid_key_is_a_401_with_a_json_error(auth_on, client, headers):
    response = client.get("/users/alice", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated" and response.json()["field"] == "X-API-Key"
    assert response.headers["WWW-Authenticate"].startswith("ApiKey")


def test_scopes_decide_what_a_key_may_do(keys, client):
    read, write, admin = keys["read"], keys["write"], keys["admin"]
    # write: users, content, interactions; not reads, not training
    assert client.post("/users/", json=ALICE, headers=_as(write)).status_code == 201
    assert client.post("/content/", json=TUT1, headers=_as(write)).status_code == 201
    event = {"user_id": "alice", "content_id": "tut1", "interaction_type": "click"}
    assert client.post("/recommendations/interact", json=event, headers=_as(write)).status_code == 201
    denied = client.get("/users/alice", headers=_as(write))
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"
    assert client.post("/training/train", headers=_as(write)).status_code == 403
    # read: GET routes and POST /recommendations/; no writes
    assert client.get("/users/alice", headers=_as(read)).status_code == 200
    assert client.get("/content/tut1", headers=_as(read)).status_code == 200
    assert client.post("/recommendations/", json={"user_id": "alice"}, headers=_as(read)).status_code == 200
    assert client.get("/recommendations/popular", headers=_as(read)).status_code == 200
    assert client.post("/users/", json={**ALICE, "user_id": "bob"}, headers=_as(read)).status_code == 403
    assert client.get("/training/status", headers=_as(read)).status_code == 200  # watching training is reading
    assert client.post("/training/train", headers=_as(read)).status_code == 403
    assert client.get("/keys", headers=_as(write)).status_code == 403
    # admin: everything
    assert client.get("/training/status", headers=_as(admin)).status_code == 200
    assert client.get("/users/alice", headers=_as(admin)).status_code == 200


def test_experiments_need_admin_to_change_and_read_to_look(keys, client):
    read, write, admin = keys["read"], keys["write"], keys["admin"]
    body = {"name": "exp", "variants": [{"name": "a"}, {"name": "b", "overrides": {"cf_weight": 0.2}}]}
    for key in (read, write):
        assert client.post("/experiments", json=body, headers=_as(key)).status_code == 403
    assert client.post("/experiments", json=body).status_code == 401
    assert client.post("/experiments", json=body, headers=_as(admin)).status_code == 201
    for path in ("/experiments", "/experiments/exp", "/experiments/exp/results", "/metrics/online"):
        assert client.get(path, headers=_as(read)).status_code == 200, path
        assert client.get(path, headers=_as(write)).status_code == 403, path
        assert client.get(path).status_code == 401, path
    for path, payload in (("/experiments/exp/traffic", {"traffic_percent": 50}), ("/experiments/exp/stop", None)):
        assert client.post(path, json=payload, headers=_as(read)).status_code == 403, path
        assert client.post(path, json=payload, headers=_as(admin)).status_code == 200, path


def test_event_types_are_read_with_a_read_key_and_changed_with_an_admin_key(keys, client):
    read, write, admin = keys["read"], keys["write"], keys["admin"]
    listed = client.get("/event-types", headers=_as(read))
    assert listed.status_code == 200 and {"like", "click", "view_time", "skip"} <= {t["name"] for t in listed.json()}
    assert client.get("/event-types", headers=_as(write)).status_code == 403
    assert client.get("/event-types").status_code == 401
    for key in (read, write):
        assert client.put("/event-types/share", json={"weight": 3}, headers=_as(key)).status_code == 403
        assert client.delete("/event-types/share", headers=_as(key)).status_code == 403
    assert client.put("/event-types/share", json={"weight": 3}, headers=_as(admin)).status_code == 201
    assert client.delete("/event-types/share", headers=_as(admin)).status_code == 200


def test_auth_is_checked_before_the_body(keys, client):
    response = client.post("/users/", json={"user_id": ""}, headers=_as(keys["read"]))
    assert response.status_code == 403


def test_keys_are_stored_only_as_a_hash(auth_on):
    new = api_keys.create_key(auth_on, ["read,write"], "ingest")
    rows = auth_on.read(lambda conn: conn.run("SELECT key_id, name, scopes, key_hash FROM api_keys"))
    assert len(rows) == 1
    key_id, name, scopes, key_hash = rows[0]
    assert new.key.startswith(f"dk_{key_id}_") and (name, scopes) == ("ingest", ["read", "write"])
    assert bytes(key_hash) == hashlib.sha256(new.key.encode()).digest()
    secret = new.key.split("_", 2)[2]
    assert all(secret not in str(column) for column in rows[0])


def test_a_key_from_the_api_works_at_once_and_a_revoked_one_is_refused(keys, client):
    created = client.post("/keys", json={"scopes": ["read"], "name": "dashboard"}, headers=_as(keys["admin"]))
    assert created.status_code == 201
    new_key, key_id = created.json()["key"], created.json()["key_id"]
    assert client.get("/users/nobody", headers=_as(new_key)).status_code == 404  # past auth
    listed = client.get("/keys", headers=_as(keys["admin"])).json()
    assert "dashboard" in {k["name"] for k in listed} and all("key" not in k for k in listed)

    assert client.delete(f"/keys/{key_id}", headers=_as(keys["admin"])).status_code == 200
    assert client.get("/users/nobody", headers=_as(new_key)).status_code == 401
    assert "dashboard" not in {k["name"] for k in client.get("/keys", headers=_as(keys["admin"])).json()}
    assert client.delete("/keys/0000000000000000", headers=_as(keys["admin"])).status_code == 404
    bad = client.post("/keys", json={"scopes": ["root"]}, headers=_as(keys["admin"]))
    assert bad.status_code == 422
    # found by the fuzzer: a NUL in the name reached Postgres as a 500
    nul = client.post("/keys", json={"scopes": ["read"], "name": "a\u0000b"}, headers=_as(keys["admin"]))
    assert nul.status_code == 422 and nul.json()["detail"][0]["loc"] == ["body", "name"]


def test_a_revoke_elsewhere_is_seen_once_the_cache_time_is_over(keys, client, db, monkeypatch):
    """Another process revoked the key (a row update this process did not make)."""
    key = keys["read"]
    assert client.get("/users/nobody", headers=_as(key)).status_code == 404
    key_id = key.split("_")[1]
    db.read(lambda conn: conn.run("UPDATE api_keys SET revoked_at = now() WHERE key_id = :k", k=key_id))
    assert client.get("/users/nobody", headers=_as(key)).status_code == 404  # trusted from the cache
    monkeypatch.setenv("DUMMI_AUTH_CACHE_SECONDS", "0")
    _clear_caches()
    api_keys.get_key_cache.cache_clear()
    assert client.get("/users/nobody", headers=_as(key)).status_code == 401


def test_the_cli_creates_lists_and_revokes_keys(auth_on, capsys):
    from dummi.cli import main

    assert main(["keys", "create", "--scope", "read", "--scope", "write", "--name", "etl"]) == 0
    out = capsys.readouterr()
    key = out.out.strip()
    assert key.startswith("dk_") and "shown only now" in out.err
    principal = api_keys.authenticate(auth_on, key)
    assert principal.scopes == {"read", "write"}

    assert main(["keys", "list"]) == 0
    listing = capsys.readouterr().out
    assert principal.key_id in listing and "etl" in listing and key not in listing

    assert main(["keys", "revoke", principal.key_id]) == 0
    capsys.readouterr()
    with pytest.raises(Exception, match="revoked"):
        api_keys.authenticate(auth_on, key)
    assert main(["keys", "list"]) == 0  # none left in use: said, not an empty screen
    listing = capsys.readouterr()
    assert listing.out == "" and "no API keys in use" in listing.err
    assert main(["keys", "create", "--scope", "superuser"]) == 2
    assert "unknown scope 'superuser'" in capsys.readouterr().err
    assert main(["keys", "create", "--scope", "read", "--name", "tab\there"]) == 2
    assert "control character" in capsys.readouterr().err


@pytest.fixture
def users_handler():
    return load_function_module("functions/users").handler


def test_the_handlers_check_keys_and_never_log_them(keys, lambda_context, users_handler, service_log, capsys, caplog):
    handler = users_handler
    event = load_event("users_create")
    denied = handler(event, lambda_context)
    assert denied["statusCode"] == 401 and json.loads(denied["body"])["code"] == "unauthenticated"
    wrong = load_event("users_create", headers={**event["headers"], "x-api-key": keys["admin"] + "x"})
    assert handler(wrong, lambda_context)["statusCode"] == 401
    allowed = load_event("users_create", headers={**event["headers"], "x-api-key": keys["write"]})
    assert handler(allowed, lambda_context)["statusCode"] == 201

    logged = service_log.getvalue() + capsys.readouterr().out + capsys.readouterr().err + caplog.text
    assert service_log.getvalue().count("request served") == 3
    for key in keys.values():
        assert key not in logged and key.split("_", 2)[2] not in logged
