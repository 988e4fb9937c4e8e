"""Artifact stores chosen by URI: ``s3://bucket/prefix`` (boto3: AWS, moto, LocalStack) or ``file:///path``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from dummi import aws
from dummi.config import get_settings


class ArtifactNotFoundError(Exception):
    pass


class ArtifactStore(Protocol):
    uri: str

    def put(self, key: str, data: bytes) -> None: ...

    def get(self, key: str) -> bytes: ...

    def get_if_changed(self, key: str, etag: str | None) -> tuple[bytes, str] | None:
        """(data, etag), or None when the object still has ``etag`` (a conditional GET)."""
        ...

    def list(self, prefix: str) -> list[str]: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, keys: list[str]) -> None: ...

    def remove_partial_writes(self, prefix: str) -> list[str]:
        """Remove what a writer killed in the middle of a ``put`` left under ``prefix`` (never visible to
        readers); only while nobody writes there."""
        ...

    def purge(self, prefix: str) -> None:
        """Delete everything under ``prefix`` beyond recovery: also the earlier versions a versioned bucket
        keeps of it (an erasure; ``delete`` leaves them recoverable)."""
        ...


class FileStore:
    """A folder. Writes go to a temporary file that is renamed into place, so readers never see half a file."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.uri = self.root.resolve().as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"key {key!r} escapes the store")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ArtifactNotFoundError(f"{self.uri}/{key}") from None

    def get_if_changed(self, key: str, etag: str | None) -> tuple[bytes, str] | None:
        path = self._path(key)
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise ArtifactNotFoundError(f"{self.uri}/{key}") from None
        current = f"{stat.st_mtime_ns}-{stat.st_size}-{stat.st_ino}"
        if current == etag:
            return None
        return self.get(key), current

    def list(self, prefix: str) -> list[str]:
        base = self._path(prefix) if prefix else self.root
        if not base.exists():
            return []
        root = self.root.resolve()
        return sorted(str(p.relative_to(root)) for p in base.rglob("*") if p.is_file() and not p.name.startswith("."))

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, keys: list[str]) -> None:
        for key in keys:
            path = self._path(key)
            path.unlink(missing_ok=True)
            self._remove_empty_parents(path)

    def _remove_empty_parents(self, path: Path) -> None:
        parent = path.parent
        while parent != self.root.resolve() and parent.exists() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent

    def purge(self, prefix: str) -> None:
        self.delete(self.list(prefix))
        self.remove_partial_writes(prefix)

    def remove_partial_writes(self, prefix: str) -> list[str]:
        """The temporary files of puts killed before their rename (``.<name>.<random>``; ``list`` never shows
        them), and the folders they leave empty."""
        base = self._path(prefix) if prefix else self.root
        removed = []
        for path in sorted(base.rglob(".*")) if base.exists() else []:
            if path.is_file():
                path.unlink(missing_ok=True)
                removed.append(str(path.relative_to(self.root.resolve())))
                self._remove_empty_parents(path)
        return removed


class S3Store:
    def __init__(self, bucket: str, prefix: str = "", *, client=None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.uri = f"s3://{bucket}/{self.prefix}" if self.prefix else f"s3://{bucket}"
        self._client = client

    @property
    def client(self):
        """The given client, else the process's cached one (looked up each time: cheap, and it follows
        ``dummi.aws.reset_clients``)."""
        if self._client is not None:
            return self._client

        return aws.get_client("s3")

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get(self, key: str) -> bytes:
        result = self._get(key, None)
        assert result is not None
        return result[0]

    def get_if_changed(self, key: str, etag: str | None) -> tuple[bytes, str] | None:
        return self._get(key, etag)

    def _get(self, key: str, etag: str | None) -> tuple[bytes, str] | None:
        # botocore: only an s3:// store needs it; the CLI's parser and file:// stores run without it
        from botocore.exceptions import ClientError

        kwargs = {"Bucket": self.bucket, "Key": self._key(key)}
        if etag:
            kwargs["IfNoneMatch"] = etag
        try:
            response = self.client.get_object(**kwargs)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            code = exc.response.get("Error", {}).get("Code")
            if status == 304 or code in ("304", "NotModified"):
                return None
            if code in ("NoSuchKey", "404"):
                raise ArtifactNotFoundError(f"{self.uri}/{key}") from None
            raise
        return response["Body"].read(), response["ETag"]

    def list(self, prefix: str) -> list[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        full = self._key(prefix)
        strip = len(self.prefix) + 1 if self.prefix else 0
        keys = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=full):
            keys.extend(obj["Key"][strip:] for obj in page.get("Contents", []))
        return sorted(keys)

    def exists(self, key: str) -> bool:
        # botocore: only an s3:// store needs it; the CLI's parser and file:// stores run without it
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def remove_partial_writes(self, prefix: str) -> list[str]:
        """Nothing to do: a PUT is atomic (an object is whole or absent), and this store makes no multipart
        uploads (the template's lifecycle rule aborts any that others leave)."""
        return []

    def delete(self, keys: list[str]) -> None:
        self._delete_objects([{"Key": self._key(k)} for k in keys])

    def purge(self, prefix: str) -> None:
        """Every version and delete marker under the prefix (on an unversioned bucket: the objects)."""
        paginator = self.client.get_paginator("list_object_versions")
        doomed = []
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
                doomed.append({"Key": entry["Key"], "VersionId": entry["VersionId"]})
        self._delete_objects(doomed)

    def _delete_objects(self, objects: list[dict[str, str]]) -> None:
        for start in range(0, len(objects), 1000):
            chunk = objects[start : start + 1000]
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": chunk, "Quiet": True})


def store_from_uri(uri: str) -> ArtifactStore:
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ValueError(f"no bucket in {uri!r}")
        return S3Store(parts.netloc, parts.path)
    if parts.scheme == "file":
        return FileStore(Path(unquote(parts.path)))
    raise ValueError(f"unsupported artifact store {uri!r}: use s3://bucket/prefix or file:///path")


def get_artifact_store() -> ArtifactStore:
    settings = get_settings()
    return store_from_uri(settings.artifacts_uri)
