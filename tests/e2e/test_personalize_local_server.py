"""A team's Personalize code against a real `dummi run` (as `make run` serves it), changed by one endpoint_url:
boto3's own clients put items, users and events, make a filter, and get recommendations, related items and a
personalized ranking back over HTTP."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tests.e2e.test_local_server import _free_port, _popen, _stop, _wait_ready

CAMPAIGN = "arn:aws:personalize:us-east-1:123456789012:campaign/home"
GROUP = "arn:aws:personalize:us-east-1:123456789012:dataset-group/courses"
DATASET = "arn:aws:personalize:us-east-1:123456789012:dataset/courses/ITEMS"


def _start(data_dir: Path, port: int):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DUMMI_DB_POOL_SIZE")}
    env.update(DUMMI_DATA_DIR=str(data_dir), PORT=str(port), DUMMI_EMBEDDING_MODE="background")
    return _popen([sys.executable, "-m", "dummi.cli", "run"], env, data_dir.parent / f"server-{port}.log")


def _clients(base: str) -> dict:
    config = Config(retries={"total_max_attempts": 2, "mode": "standard"})
    return {
        name: boto3.client(
            name,
            endpoint_url=f"{base}/personalize",
            region_name="us-east-1",
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="any: auth is off on make run",
            config=config,
        )
        for name in ("personalize-runtime", "personalize-events", "personalize")
    }


def _wait_for(check, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_personalize_code_runs_against_dummi_run(tmp_path):
    data_dir, port = tmp_path / "data", _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(data_dir, port)
    try:
        _wait_ready(proc, base)
        aws = _clients(base)
        runtime, events, control = aws["personalize-runtime"], aws["personalize-events"], aws["personalize"]

        # the sample catalog answers at once; a stranger gets a newcomer's list
        assert len(runtime.get_recommendations(campaignArn=CAMPAIGN, userId="stranger")["itemList"]) == 25

        # new items, a user with an interest, and events, each put the Personalize way
        kitchen = [("soup-1", "Weeknight soups"), ("soup-2", "Soups for winter"), ("bread-1", "Sourdough at home")]
        events.put_items(
            datasetArn=DATASET,
            items=[
                {"itemId": i, "properties": json.dumps({"title": t, "category": "cooking", "level": "easy"})}
                for i, t in kitchen
            ],
        )
        events.put_users(datasetArn=DATASET, users=[{"userId": "bo", "properties": '{"interests": "cooking"}'}])

        def cooking_first():  # new items are served within the local server's refresh (3 s)
            listed = runtime.get_recommendations(campaignArn=CAMPAIGN, userId="bo", numResults=3)["itemList"]
            return {i["itemId"] for i in listed} == {i for i, _ in kitchen}

        assert _wait_for(cooking_first), "bo's interest leads her list once the new items are embedded"
        answer = runtime.get_recommendations(campaignArn=CAMPAIGN, userId="bo", numResults=3)
        events.put_events(
            trackingId="tracker",
            userId="bo",
            sessionId="s-1",
            eventList=[
                {
                    "eventType": "click",
                    "itemId": "soup-1",
                    "sentAt": time.time(),
                    "eventId": "bo-1",
                    "recommendationId": answer["recommendationId"],
                }
            ],
        )
        after = runtime.get_recommendations(campaignArn=CAMPAIGN, userId="bo", numResults=3)["itemList"]
        assert "soup-1" not in [i["itemId"] for i in after]  # the event counts on the next call

        related = runtime.get_recommendations(campaignArn=CAMPAIGN, itemId="soup-2", numResults=2)["itemList"]
        assert related[0]["itemId"] == "soup-1" and len(related) == 2  # the other soup first

        arn = control.create_filter(
            name="not-easy", datasetGroupArn=GROUP, filterExpression="EXCLUDE ItemID WHERE Items.LEVEL IN ($L)"
        )["filterArn"]
        assert [f["name"] for f in control.list_filters(datasetGroupArn=GROUP)["Filters"]] == ["not-easy"]
        filtered = runtime.get_recommendations(
            campaignArn=CAMPAIGN, userId="bo", numResults=10, filterArn=arn, filterValues={"L": '"easy"'}
        )["itemList"]
        assert len(filtered) == 10 and not {i["itemId"] for i in filtered} & {"soup-2", "bread-1"}

        ranking = runtime.get_personalized_ranking(
            campaignArn=CAMPAIGN, userId="bo", inputList=["ml-101", "bread-1", "nope", "soup-2"]
        )["personalizedRanking"]
        assert [i["itemId"] for i in ranking][:2] in (["bread-1", "soup-2"], ["soup-2", "bread-1"])
        assert ranking[-1] == {"itemId": "nope", "score": 0.0}

        with pytest.raises(control.exceptions.InvalidInputException, match="position"):
            control.create_filter(name="broken", datasetGroupArn=GROUP, filterExpression="INCLUDE ItemID WHERE")
        control.delete_filter(filterArn=arn)
        with pytest.raises(runtime.exceptions.ResourceNotFoundException):
            runtime.get_recommendations(campaignArn=CAMPAIGN, userId="bo", filterArn=arn)
    finally:
        out = _stop(proc)
    assert proc.returncode in (0, -signal.SIGINT, 130), out


def test_signed_personalize_calls_against_dummi_run_with_auth_on(tmp_path):
    """As deployed: DUMMI_AUTH=on, a credential from `dummi keys create --sigv4`, boto3 signing with it."""
    import subprocess

    from botocore import UNSIGNED
    from botocore.exceptions import ClientError

    from tests.e2e.test_local_server import ROOT

    data_dir, port = tmp_path / "data", _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DUMMI_DB_POOL_SIZE")}
    env.update(DUMMI_DATA_DIR=str(data_dir), PORT=str(port), DUMMI_AUTH="on", DUMMI_SECRETS_KEY="k1:" + "B" * 43 + "=")
    proc = _popen([sys.executable, "-m", "dummi.cli", "run"], env, data_dir.parent / f"server-{port}.log")
    try:
        _wait_ready(proc, base)
        made = subprocess.run(
            [sys.executable, "-m", "dummi.cli", "keys", "create", "--sigv4", "--scope", "read,write"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert made.returncode == 0, made.stderr
        creds = dict(line.split(" = ") for line in made.stdout.strip().splitlines())

        def clients(access, secret, **config):
            return boto3.client(
                "personalize-runtime",
                endpoint_url=f"{base}/personalize",
                region_name="eu-central-1",
                aws_access_key_id=access,
                aws_secret_access_key=secret,
                config=Config(retries={"total_max_attempts": 1}, **config),
            )

        signed = clients(creds["aws_access_key_id"], creds["aws_secret_access_key"])
        assert len(signed.get_recommendations(campaignArn=CAMPAIGN, userId="maya", numResults=3)["itemList"]) == 3
        for client, code in (
            (clients(creds["aws_access_key_id"], "not-the-secret"), "InvalidSignatureException"),
            (clients("AKIDUNKNOWN", "x"), "UnrecognizedClientException"),
            (clients("a", "b", signature_version=UNSIGNED), "MissingAuthenticationTokenException"),
        ):
            with pytest.raises(ClientError) as refused:
                client.get_recommendations(campaignArn=CAMPAIGN, userId="maya")
            assert refused.value.response["Error"]["Code"] == code
    finally:
        out = _stop(proc)
    assert "Traceback" not in out, out
