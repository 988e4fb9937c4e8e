"""SigV4 with ``DUMMI_AUTH=on``: boto3's clients signing with a Dummi credential are served; an unknown key, a
wrong secret, a revoked key, a stale clock, an unsigned request and a key without the scope are refused with the
codes AWS answers, over HTTP and through the Lambda handler. The secret is stored sealed, never in plain text."""

from __future__ import annotations

import json
from datetime import timedelta

import botocore.auth
import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from dummi.services.personalize import credentials
from dummi.services.secret_box import new_key
from tests.integration.personalize_clients import http_server, lambda_clients, make_clients

DATASET = "arn:aws:personalize:us-east-1:123456789012:dataset/shop/ITEMS"
CAMPAIGN = "arn:aws:personalize:us-east-1:123456789012:campaign/home"
GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/shop"


@pytest.fixture(params=["http", "lambda"])
def road(request, db, monkeypatch):
    """(make clients for a credential, the base URL or None for the Lambda road)."""
    monkeypatch.setenv("DUMMI_AUTH", "on")
    monkeypatch.setenv("DUMMI_SECRETS_KEY", f"k1:{new_key()}")
    from tests.conftest import _clear_caches

    _clear_caches()
    if request.param == "lambda":
        yield lambda access, secret, **kw: lambda_clients(access, secret, **kw)
        return
    with http_server() as base:
        yield lambda access, secret, **kw: make_clients(base, access, secret, **kw)


def _code(error: pytest.ExceptionInfo) -> str:
    return error.value.response["Error"]["Code"]


def test_signed_requests_are_served_and_bad_ones_refused_as_aws_refuses_them(road, db):
    writer = credentials.create_sigv4_key(db, ["read", "write"], "shop backend")
    reader = credentials.create_sigv4_key(db, ["read"], "dashboard")
    clients = road(writer.access_key_id, writer.secret_access_key)

    # every client, signed with the credential: served
    clients["personalize-events"].put_items(
        datasetArn=DATASET, items=[{"itemId": "m1", "properties": json.dumps({"category": "a"})}]
    )
    assert "itemList" in clients["personalize-runtime"].get_recommendations(campaignArn=CAMPAIGN, userId="u")
    arn = clients["personalize"].create_filter(
        name="f", datasetGroupArn=GROUP, filterExpression='EXCLUDE ItemID WHERE Items.CATEGORY IN ("b")'
    )["filterArn"]
    assert clients["personalize"].describe_filter(filterArn=arn)["filter"]["name"] == "f"

    # a key without the write scope
    read_only = road(reader.access_key_id, reader.secret_access_key)
    with pytest.raises(ClientError) as refused:
        read_only["personalize-events"].put_users(datasetArn=DATASET, users=[{"userId": "u"}])
    assert _code(refused) == "AccessDeniedException"
    with pytest.raises(ClientError) as refused:
        read_only["personalize"].delete_filter(filterArn=arn)
    assert _code(refused) == "AccessDeniedException"
    assert read_only["personalize"].list_filters()["Filters"][0]["name"] == "f"  # reading is in its scope

    # credentials Dummi never made, and a wrong secret
    with pytest.raises(ClientError) as refused:
        road("AKIDNOTDUMMIS000000", "x" * 40)["personalize-runtime"].get_recommendations(
            campaignArn=CAMPAIGN, userId="u"
        )
    assert _code(refused) == "UnrecognizedClientException"
    with pytest.raises(ClientError) as refused:
        road(writer.access_key_id, "y" * 40)["personalize-runtime"].get_recommendations(
            campaignArn=CAMPAIGN, userId="u"
        )
    assert _code(refused) == "InvalidSignatureException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    # no signature at all
    with pytest.raises(ClientError) as refused:
        road("a", "b", signature=UNSIGNED)["personalize-runtime"].get_recommendations(campaignArn=CAMPAIGN, userId="u")
    assert _code(refused) == "MissingAuthenticationTokenException"

    # a revoked key
    credentials.revoke_sigv4_key(db, writer.access_key_id)
    with pytest.raises(ClientError) as refused:
        clients["personalize-runtime"].get_recommendations(campaignArn=CAMPAIGN, userId="u")
    assert _code(refused) == "UnrecognizedClientException"


def test_a_clock_more_than_fifteen_minutes_off_is_refused(road, db, monkeypatch):
    key = credentials.create_sigv4_key(db, ["read"])
    clients = road(key.access_key_id, key.secret_access_key)
    now = botocore.auth.get_current_datetime
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now() - timedelta(minutes=14))
    clients["personalize-runtime"].get_recommendations(campaignArn=CAMPAIGN, userId="u")  # within the bound
    for skew, words in ((timedelta(minutes=-16), "Signature expired"), (timedelta(minutes=16), "not yet current")):
        monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda skew=skew: now() + skew)
        with pytest.raises(ClientError, match=words) as refused:
            clients["personalize-runtime"].get_recommendations(campaignArn=CAMPAIGN, userId="u")
        assert _code(refused) == "InvalidSignatureException"


def test_the_secret_is_shown_once_and_stored_sealed(road, db, client):
    from dummi.services.api_keys import create_key

    admin = create_key(db, ["admin"]).key
    made = client.post("/sigv4-keys", json={"scopes": ["read"], "name": "ci"}, headers={"X-API-Key": admin})
    assert made.status_code == 201, made.text
    access, secret = made.json()["access_key_id"], made.json()["secret_access_key"]
    assert client.post("/sigv4-keys", json={"scopes": ["read"]}).status_code == 401  # an admin's key only
    listed = client.get("/sigv4-keys", headers={"X-API-Key": admin}).json()
    assert [k["access_key_id"] for k in listed] == [access] and "secret_access_key" not in listed[0]
    stored = db.read(lambda conn: conn.run("SELECT secret_sealed FROM sigv4_keys"))[0][0]
    assert secret not in stored and stored.startswith("dsb1:k1:")

    road(access, secret)["personalize-runtime"].get_recommendations(campaignArn=CAMPAIGN, userId="u")
    revoked = client.delete(f"/sigv4-keys/{access}", headers={"X-API-Key": admin})
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None


def test_the_cli_makes_a_credential_boto3_signs_with(road, db, capsys, monkeypatch):
    from dummi.cli import main

    assert main(["keys", "create", "--sigv4", "--scope", "read,write", "--name", "etl"]) == 0
    out = capsys.readouterr()
    lines = dict(line.split(" = ") for line in out.out.strip().splitlines())
    assert "shown only now" in out.err and set(lines) == {"aws_access_key_id", "aws_secret_access_key"}
    clients = road(lines["aws_access_key_id"], lines["aws_secret_access_key"])
    clients["personalize-events"].put_users(datasetArn=DATASET, users=[{"userId": "etl-user"}])

    assert main(["keys", "list", "--sigv4"]) == 0
    listing = capsys.readouterr().out
    assert lines["aws_access_key_id"] in listing and "etl" in listing and lines["aws_secret_access_key"] not in listing
    assert main(["keys", "revoke", "--sigv4", lines["aws_access_key_id"]]) == 0
    capsys.readouterr()
    with pytest.raises(ClientError) as refused:
        clients["personalize-events"].put_users(datasetArn=DATASET, users=[{"userId": "etl-user"}])
    assert _code(refused) == "UnrecognizedClientException"

    monkeypatch.delenv("DUMMI_SECRETS_KEY")
    assert main(["keys", "create", "--sigv4", "--scope", "read"]) == 2
    assert "DUMMI_SECRETS_KEY" in capsys.readouterr().err  # refused before anything is stored


def test_a_rotated_sealing_key_reseals_every_secret_and_clients_keep_theirs(road, db, capsys, monkeypatch):
    from dummi.cli import main
    from tests.conftest import _clear_caches

    old, new = f"k1:{new_key()}", f"k2:{new_key()}"
    monkeypatch.setenv("DUMMI_SECRETS_KEY", old)
    kept = credentials.create_sigv4_key(db, ["read", "write"], "shop")
    revoked = credentials.create_sigv4_key(db, ["read"], "old dashboard")
    credentials.revoke_sigv4_key(db, revoked.access_key_id)

    def sealed() -> dict[str, str]:
        return dict(db.read(lambda conn: conn.run("SELECT access_key_id, secret_sealed FROM sigv4_keys")))

    # the old key already dropped: a secret that does not open stops the command before anything changes
    monkeypatch.setenv("DUMMI_SECRETS_KEY", new)
    before = sealed()
    assert main(["keys", "reseal"]) == 2
    err = capsys.readouterr().err
    assert "cannot be opened" in err and "'k1'" in err and "nothing was re-sealed" in err
    assert sealed() == before

    monkeypatch.setenv("DUMMI_SECRETS_KEY", f"{new},{old}")
    assert main(["keys", "reseal"]) == 0
    assert "re-sealed 2 SigV4 secret(s) with key 'k2' (0 were sealed" in capsys.readouterr().out
    after = sealed()
    assert set(after) == set(before) and all(v.startswith("dsb1:k2:") for v in after.values())
    assert main(["keys", "reseal"]) == 0  # again: nothing left to do
    assert "re-sealed 0 SigV4 secret(s) with key 'k2' (2 were sealed" in capsys.readouterr().out

    # a stored secret that is not a sealed value at all: named, nothing changed
    with db.transaction() as conn:
        conn.run("UPDATE sigv4_keys SET secret_sealed = 'garbage' WHERE access_key_id = :id", id=revoked.access_key_id)
    assert main(["keys", "reseal"]) == 2
    assert revoked.access_key_id in capsys.readouterr().err
    with db.transaction() as conn:
        conn.run("DELETE FROM sigv4_keys WHERE access_key_id = :id", id=revoked.access_key_id)

    # the old key dropped: the client's own secret still signs, opened anew by a process holding k2 alone
    monkeypatch.setenv("DUMMI_SECRETS_KEY", new)
    _clear_caches()
    clients = road(kept.access_key_id, kept.secret_access_key)
    clients["personalize-events"].put_users(datasetArn=DATASET, users=[{"userId": "after-rotation"}])
    assert "itemList" in clients["personalize-runtime"].get_recommendations(campaignArn=CAMPAIGN, userId="u")
