"""The artifact bucket is versioned in AWS (template.yaml): on moto's S3 server, a model version dropped by the
retention count stays recoverable as earlier object versions, and an earlier pointer can be brought back;
one pruned after a user's deletion is purged with every earlier version of its files (nothing of the user's
events is recoverable from the bucket)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from dummi.artifacts.publish import POINTER, collect_garbage, prune_trained_before, publish, read_pointer
from dummi.artifacts.store import S3Store


def _versions(client, bucket: str, prefix: str) -> list[dict]:
    found = client.list_object_versions(Bucket=bucket, Prefix=prefix)
    return found.get("Versions", []) + found.get("DeleteMarkers", [])


def test_retention_keeps_old_versions_recoverable_and_erasure_purges_them(s3_bucket):
    from dummi.aws import get_client

    client = get_client("s3")
    client.put_bucket_versioning(Bucket=s3_bucket, VersioningConfiguration={"Status": "Enabled"})
    store = S3Store(s3_bucket, "dummi")
    long_ago = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    for version in ("v1", "v2", "v3"):
        publish(store, version, {"a.bin": version.encode()}, {"events_as_of": long_ago}, retention=10)

    # Given v1 dropped by the retention count: its files are gone from a listing, but recoverable
    assert collect_garbage(store, retention=2) == ["v1"]
    assert store.list("models/v1/") == []
    kept = [v for v in _versions(client, s3_bucket, "dummi/models/v1/") if "Size" in v]
    assert {v["Key"] for v in kept} == {"dummi/models/v1/a.bin", "dummi/models/v1/manifest.json"}
    # and the pointer before the last publish can be brought back (what docs/reliability.md tells an operator)
    earlier = [v for v in _versions(client, s3_bucket, f"dummi/{POINTER}") if not v["IsLatest"]]
    old = client.get_object(Bucket=s3_bucket, Key=f"dummi/{POINTER}", VersionId=earlier[0]["VersionId"])
    assert json.loads(old["Body"].read())["version"] == "v2" and read_pointer(store)["version"] == "v3"

    # When a user's deletion prunes every version trained before it (but the serving one)
    assert prune_trained_before(store, datetime.now(UTC), keep={"v3"}) == ["v2"]
    # Then nothing of v2 is recoverable, while the serving version is untouched
    assert _versions(client, s3_bucket, "dummi/models/v2/") == []
    assert store.get("models/v3/a.bin") == b"v3"
