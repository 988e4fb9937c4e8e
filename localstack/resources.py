"""Create what the stack needs before anything runs: the artifact bucket and the database secret.

The LocalStack ready-hook (init/ready.d/01-resources.sh) and `make test-localstack` both run this, against
whatever AWS endpoint AWS_ENDPOINT_URL names (LocalStack on 127.0.0.1:4566, or moto's server in tests).
Idempotent: existing resources are left as they are.

    AWS_ENDPOINT_URL=http://127.0.0.1:4566 python localstack/resources.py [--database-url URL]
"""

from __future__ import annotations

import argparse
import json
import os
from urllib.parse import parse_qs, urlsplit

import boto3
from botocore.exceptions import ClientError

BUCKET = os.environ.get("DUMMI_ARTIFACT_BUCKET", "dummi-artifacts")
SECRET = os.environ.get("DUMMI_DATABASE_SECRET", "dummi/database-local")


def secret_from_url(url: str) -> dict:
    parts = urlsplit(url)
    socket_dir = parse_qs(parts.query).get("host", [None])[0]  # postgresql://u@/db?host=/socket/dir
    return {
        "username": parts.username or "postgres",
        "password": parts.password or "",
        "host": socket_dir or parts.hostname or "127.0.0.1",
        "port": parts.port or 5432,
        "dbname": parts.path.lstrip("/") or "postgres",
        "sslmode": "disable",
    }


def create(endpoint: str | None, database_url: str, region: str = "us-east-1") -> dict[str, str]:
    session = boto3.session.Session(region_name=region)
    s3 = session.client("s3", endpoint_url=endpoint)
    try:
        s3.create_bucket(Bucket=BUCKET)
    except ClientError as exc:
        if exc.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    secrets = session.client("secretsmanager", endpoint_url=endpoint)
    value = json.dumps(secret_from_url(database_url))
    try:
        arn = secrets.create_secret(Name=SECRET, SecretString=value)["ARN"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ResourceExistsException":
            raise
        arn = (
            secrets.put_secret_value(SecretId=SECRET, SecretString=value)
            and secrets.describe_secret(SecretId=SECRET)["ARN"]
        )
    return {"bucket": BUCKET, "secret_arn": arn}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", "postgresql://postgres:postgres@127.0.0.1:5432/dummi")
    )
    args = parser.parse_args()
    print(json.dumps(create(os.environ.get("AWS_ENDPOINT_URL"), args.database_url)))


if __name__ == "__main__":
    main()
