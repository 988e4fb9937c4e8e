"""Backup and restore on real servers: a deployment with users, items, events, keys, an experiment, a trained
model and take-downs after it is backed up, restored into an empty embedded data folder (file store) and into
an empty database on another real Postgres over TCP (S3 on moto's server); every row comes back identical and
the restored service gives the same answers. An archive of an older release is migrated; a corrupted one, one
of a newer release and a target that holds data are refused with the field at fault, and nothing changes."""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from pathlib import Path

import pytest

from dummi.artifacts.publish import publish, read_pointer
from dummi.artifacts.store import FileStore, S3Store
from dummi.db.connection import Database
from dummi.db.migrations import available_migrations, migrate
from dummi.errors import InvalidRequestError
from dummi.services import backup_service
from dummi.services.api_keys import create_key
from dummi.services.import_service import import_directory
from dummi.training.params import TrainingParams
from dummi.training.runs import run_now
from tests.conftest import _clear_caches, write_tastes

# serving's catalog bookkeeping: transaction ids of the server that wrote them, renumbered by a restore
SERVER_LOCAL = {"content": ["changed_xid"], "content_deletions": ["deleted_xid"]}
REQUESTS = [
    ("POST", "/recommendations/", {"user_id": "u0", "n_recommendations": 5, "preview": True}),
    ("POST", "/recommendations/", {"user_id": "u1", "n_recommendations": 5, "preview": True}),
    ("POST", "/recommendations/", {"user_id": "alice", "n_recommendations": 5, "preview": True}),
    ("POST", "/recommendations/", {"user_id": "u2", "n_recommendations": 5, "category": "violins", "preview": True}),
    ("GET", "/recommendations/popular?n=5&preview=true", None),
    ("GET", "/users/alice", None),
    ("GET", "/users/u3/suggested-interests?n=3", None),
    ("GET", "/content/category/soups?limit=100", None),
    ("GET", "/content/soups-3", None),
    ("GET", "/experiments", None),
    ("GET", "/training/status", None),
    ("GET", "/keys", None),
]


def _snapshot(db: Database) -> dict[str, list[str]]:
    """Every row of every table, as sorted JSON text (server-local transaction ids left out), and every
    sequence's position."""

    def read(conn):
        tables = [r[0] for r in conn.run("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        found = {}
        for table in tables:
            drop = "".join(f" - '{c}'" for c in SERVER_LOCAL.get(table, []))
            rows = conn.run(f'SELECT CAST(to_jsonb(t){drop} AS text) FROM public."{table}" t')
            found[table] = sorted(r[0] for r in rows)
        found["sequences"] = sorted(
            f"{r[0]}={r[1]}" for r in conn.run("SELECT sequencename, last_value FROM pg_sequences")
        )
        return found

    return db.read(read)


def _app(monkeypatch, url: str, data_dir: Path, artifacts_uri: str, auth: str = "off"):
    from fastapi.testclient import TestClient

    from dummi.api.app import create_full_app

    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("DUMMI_DATA_DIR", str(data_dir))
    monkeypatch.setenv("ARTIFACTS_URI", artifacts_uri)
    monkeypatch.setenv("DUMMI_AUTH", auth)
    _clear_caches()
    return TestClient(create_full_app(), raise_server_exceptions=False)


def _answers(client) -> list:
    answers = []
    for method, path, body in REQUESTS:
        response = client.request(method, path, json=body)
        assert response.status_code == 200, (path, response.text)
        answer = response.json()
        if isinstance(answer, dict):
            answer.pop("timestamp", None)
        answers.append(answer)
    return answers


def _listed(client, user: str) -> list[str]:
    body = {"user_id": user, "n_recommendations": 5, "preview": True}
    return [r["content_id"] for r in client.post("/recommendations/", json=body).json()["recommendations"]]


def _wait_until(condition, what: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


@pytest.fixture
def deployment(db, tmp_path, monkeypatch):
    """The source: the session's database with a trained model in a file store, and changes after training."""
    import_directory(db, write_tastes(tmp_path / "tastes", users=30))
    store = FileStore(tmp_path / "source-artifacts")
    with _app(monkeypatch, db.url(), tmp_path, store.uri) as client:
        assert client.post("/users/", json={"user_id": "alice", "interests": ["soups"]}).status_code == 201
        for i in range(4):
            body = {"user_id": "alice", "content_id": f"soups-{i}", "interaction_type": "like", "event_id": f"e{i}"}
            assert client.post("/recommendations/interact", json=body).status_code == 201
        feedback = {"user_id": "alice", "content_id": "rockets-1", "feedback_type": "negative"}
        assert client.post("/recommendations/feedback", json=feedback).status_code == 201
        experiment = {"name": "blend", "variants": [{"name": "a"}, {"name": "b", "overrides": {"cf_weight": 0.2}}]}
        assert client.post("/experiments", json=experiment).status_code == 201
        key = create_key(db, ["read"], "reader").key
        assert run_now(db, store, "test", TrainingParams.configured(force=True)).state == "succeeded"
        assert client.post("/recommendations/", json={"user_id": "u4"}).status_code == 200  # impressions logged
        # take-downs after training: the model still holds these items; serving must not list them
        hidden = _listed(client, "u0")[0]
        assert client.patch(f"/content/{hidden}", json={"hidden": True}).status_code == 200
        deleted = _listed(client, "u1")[0]
        assert client.delete(f"/content/{deleted}").status_code == 204
        _wait_until(lambda: hidden not in _listed(client, "u0") and deleted not in _listed(client, "u1"), "take-down")
        answers = _answers(client)
    return {"store": store, "key": key, "answers": answers, "taken_down": {hidden, deleted}, "db": db}


@pytest.fixture
def tcp_database(tcp_postgres: str):
    """An empty database on a second real Postgres (over TCP)."""
    name = f"restored_{uuid.uuid4().hex[:8]}"
    Database(tcp_postgres).read(lambda conn: conn.run(f'CREATE DATABASE "{name}"'))
    return tcp_postgres.rsplit("/", 1)[0] + f"/{name}"


@pytest.mark.parametrize("target", ["embedded data folder", "DATABASE_URL and S3"])
def test_a_backup_restored_elsewhere_holds_the_same_rows_and_answers_the_same(
    deployment, target, tmp_path, monkeypatch, request
):
    # Given a backup of the deployment
    archive = tmp_path / "backup.tar"
    made = backup_service.backup(deployment["db"], deployment["store"], archive)
    assert made.serving == read_pointer(deployment["store"])["version"] and made.versions == [made.serving]
    before = _snapshot(deployment["db"])
    assert made.rows == {table: len(rows) for table, rows in before.items() if table != "sequences"}
    # When it is restored into an empty target
    if target == "embedded data folder":
        from dummi.db.embedded import start_embedded_postgres, stop_embedded_postgres

        data_dir = tmp_path / "restored"
        data_dir.mkdir()
        url = start_embedded_postgres(data_dir)
        request.addfinalizer(lambda: stop_embedded_postgres(data_dir))
        store = FileStore(data_dir / "artifacts")
    else:
        url, data_dir = request.getfixturevalue("tcp_database"), tmp_path
        store = S3Store(request.getfixturevalue("s3_bucket"), "dummi")
    restored_db = Database(url)
    done = backup_service.restore(restored_db, store, archive)
    # Then every row is there as it was, the model serves, and the same requests get the same answers
    assert done.migrations_applied == [] and done.serving == made.serving
    assert _snapshot(restored_db) == before
    assert read_pointer(store)["version"] == made.serving
    with _app(monkeypatch, url, data_dir, store.uri) as client:
        _wait_until(lambda: _answers(client) == deployment["answers"], "the restored service answers differently", 10)
        for user in ("u0", "u1"):
            assert not deployment["taken_down"] & set(_listed(client, user)), "a taken-down item is listed"
    with _app(monkeypatch, url, data_dir, store.uri, auth="on") as client:  # the keys came along
        assert client.get("/users/alice", headers={"X-API-Key": deployment["key"]}).status_code == 200
        assert client.get("/users/alice", headers={"X-API-Key": "dk_nope_nope"}).status_code == 401
    _clear_caches()


def _old_release_archive(tcp_postgres: str, tmp_path: Path) -> Path:
    """A backup of a database that a release before migration 0010 made (and that release's empty store)."""
    name = f"old_{uuid.uuid4().hex[:8]}"
    Database(tcp_postgres).read(lambda conn: conn.run(f'CREATE DATABASE "{name}"'))
    old = Database(tcp_postgres.rsplit("/", 1)[0] + f"/{name}")
    migrate(old, up_to=9)
    with old.transaction() as conn:
        conn.run("INSERT INTO users (user_id, interests, skill_level) VALUES ('old', '{}', 'beginner')")
    archive = tmp_path / f"{name}.tar"
    backup_service.backup(old, FileStore(tmp_path / f"{name}-artifacts"), archive)
    return archive


def test_an_older_archive_is_migrated_and_bad_ones_or_full_targets_are_refused(tcp_postgres, tcp_database, tmp_path):
    archive = _old_release_archive(tcp_postgres, tmp_path)
    target, store = Database(tcp_database), FileStore(tmp_path / "target-artifacts")

    # a corrupted archive: refused before anything is touched
    corrupted = tmp_path / "corrupted.tar"
    with tarfile.open(archive) as src, tarfile.open(corrupted, "w") as out:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "database.dump":
                data = data[:-10] + bytes(10)
            out.addfile(member, io.BytesIO(data))
    with pytest.raises(InvalidRequestError) as refused:
        backup_service.restore(target, store, corrupted)
    assert refused.value.field == "from" and "database.dump is corrupted" in refused.value.message
    assert backup_service.pg.count_rows(target) == {}
    target.close()

    # an archive of a newer release (a migration this code does not know): refused
    newer = tmp_path / "newer.tar"
    with tarfile.open(archive) as src, tarfile.open(newer, "w") as out:
        for member in src.getmembers():
            data = src.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
                manifest["database"]["migrations"].append("9999_from_the_future.sql")
                data = json.dumps(manifest).encode()
                member.size = len(data)
            out.addfile(member, io.BytesIO(data))
    with pytest.raises(InvalidRequestError) as refused:
        backup_service.restore(target, store, newer)
    assert refused.value.field == "from" and "9999_from_the_future.sql" in refused.value.message

    # the older archive: restored, then migrated to this release
    done = backup_service.restore(target, store, archive)
    later = [m.name for m in available_migrations() if m.version > 9]  # 0010_item_daily_metrics.sql and on
    assert done.migrations_applied == later and later[0] == "0010_item_daily_metrics.sql" and done.serving is None
    assert target.read(lambda conn: conn.run("SELECT user_id FROM users")) == [["old"]]

    # again into what is now a full target: refused without --force, nothing changed
    with target.transaction() as conn:
        conn.run("INSERT INTO users (user_id, interests, skill_level) VALUES ('new', '{}', 'beginner')")
    target.close()  # an open pool is a service using the database: that is refused too
    with pytest.raises(InvalidRequestError) as refused:
        backup_service.restore(target, store, archive)
    assert refused.value.field == "database" and "not empty" in refused.value.message
    assert {r[0] for r in target.read(lambda conn: conn.run("SELECT user_id FROM users"))} == {"old", "new"}
    with pytest.raises(InvalidRequestError) as refused:
        backup_service.restore(target, store, archive, force=True)
    assert refused.value.field == "database" and "1 sessions of other dummi processes" in refused.value.message
    target.close()

    # with force: a safety backup of what was there first, then the archive's data alone
    forced = backup_service.restore(target, store, archive, force=True, safety_dir=tmp_path)
    assert target.read(lambda conn: conn.run("SELECT user_id FROM users")) == [["old"]]
    assert forced.safety_backup is not None and forced.replaced["rows"]["users"] == 2
    saved = backup_service.read_archive(forced.safety_backup)
    assert saved["database"]["rows"]["users"] == 2


def test_the_cli_says_which_argument_is_at_fault(db, tmp_path, monkeypatch, capsys):
    from dummi.cli import main

    monkeypatch.setenv("DATABASE_URL", db.url())
    monkeypatch.setenv("DUMMI_DATA_DIR", str(tmp_path))
    _clear_caches()
    out = tmp_path / "b.tar"
    assert main(["backup", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out and out.is_file()
    assert main(["backup", "--out", str(out)]) == 2
    assert "dummi backup: out:" in capsys.readouterr().err
    assert main(["restore", "--from", str(tmp_path / "missing.tar")]) == 2
    assert "dummi restore: from: no file" in capsys.readouterr().err
    assert main(["restore", "--from", str(out)]) == 2  # the session's database: in use, and holding its tables
    assert "dummi restore: database: " in capsys.readouterr().err
    # --all-versions: every complete version in the store, not only the serving one
    store = FileStore(tmp_path / "artifacts")
    for version in ("v1", "v2"):
        publish(store, version, {"a.bin": version.encode()}, {})
    assert main(["backup", "--out", str(tmp_path / "all.tar"), "--all-versions"]) == 0
    assert "model v1, v2 (serving v2)" in capsys.readouterr().out
    manifest = backup_service.read_archive(tmp_path / "all.tar")
    assert manifest["artifacts"]["versions"] == ["v1", "v2"] and manifest["artifacts"]["pointer"]["version"] == "v2"
    _clear_caches()
