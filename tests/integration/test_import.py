"""`dummi import`: bulk load with COPY, all or nothing."""

from __future__ import annotations

import json

import pytest

from dummi.cli import main
from dummi.errors import InvalidRequestError
from dummi.services.import_service import import_directory


def _write(folder, name, rows):
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture
def data_dir(tmp_path):
    _write(
        tmp_path,
        "users.jsonl",
        [
            {"user_id": "u1", "interests": ["drama", 'say "hi"', "a,b"], "skill_level": "intermediate"},
            {"user_id": "u2"},
        ],
    )
    _write(
        tmp_path,
        "content.jsonl",
        [
            {
                "content_id": "m1",
                "title": "Toy Story (1995)",
                "category": "animation",
                "tags": ["animation", "comedy"],
                "description": 'Line one\nline "two", with commas',
            },
            {"content_id": "m2", "title": "GoldenEye (1995)", "category": "action"},
        ],
    )
    _write(
        tmp_path,
        "train.jsonl",
        [
            {
                "user_id": "u1",
                "content_id": "m1",
                "interaction_type": "like",
                "duration_seconds": None,
                "timestamp": "1997-09-22T21:57:58+00:00",
            },
            {
                "user_id": "u2",
                "content_id": "m2",
                "interaction_type": "view_time",
                "duration_seconds": 30.5,
                "timestamp": "1997-09-23T10:00:00+00:00",
            },
            {"user_id": "u2", "content_id": "m1", "feedback_type": "negative"},
            {"user_id": "ghost", "content_id": "m1", "interaction_type": "click"},
        ],
    )
    return tmp_path


def test_import_loads_everything_with_copy(db, client, data_dir):
    result = import_directory(db, data_dir)
    assert (result.users, result.content, result.events, result.skipped_events) == (2, 2, 3, 1)
    assert client.get("/users/u1").json()["interests"] == ["drama", 'say "hi"', "a,b"]
    assert client.get("/content/m1").json()["description"] == 'Line one\nline "two", with commas'
    assert client.get("/users/u2").json()["history"] == ["m1", "m2"]  # feedback (now) is newer than 1997
    rows = db.read(lambda c: c.run("SELECT kind, event_type, duration_seconds FROM interactions ORDER BY 1, 2"))
    assert rows == [["feedback", "negative", None], ["interaction", "like", None], ["interaction", "view_time", 30.5]]
    again = import_directory(db, data_dir)
    assert (again.users, again.content) == (0, 0), "existing ids are kept, not duplicated"


def test_a_bad_line_names_file_line_and_field_and_writes_nothing(db, client, data_dir):
    _write(
        data_dir,
        "content.jsonl",
        [{"content_id": "ok", "title": "T", "category": "c"}, {"content_id": "bad", "title": "", "category": "c"}],
    )
    with pytest.raises(InvalidRequestError, match=r"content.jsonl:2: title"):
        import_directory(db, data_dir)
    assert client.get("/users/u1").status_code == 404


def test_cli_import_reports_and_exits_nonzero_on_bad_data(db, data_dir, capsys):
    assert main(["import", "--data", str(data_dir)]) == 0
    assert "imported 2 users, 2 content items, 3 interactions" in capsys.readouterr().out
    (data_dir / "users.jsonl").write_text("{not json\n")
    assert main(["import", "--data", str(data_dir)]) == 2
    assert "users.jsonl:1: not JSON" in capsys.readouterr().err


def test_on_conflict_update_changes_the_rows_that_differ_and_only_those(db, client, data_dir):
    import_directory(db, data_dir)
    before = {cid: client.get(f"/content/{cid}").json() for cid in ("m1", "m2")}
    _write(
        data_dir,
        "content.jsonl",
        [
            {**{k: before["m1"][k] for k in ("content_id", "title", "category", "tags", "description")}},
            {"content_id": "m2", "title": "GoldenEye (1995)", "category": "spy", "properties": {"lang": "en"}},
            {"content_id": "m3", "title": "Heat (1995)", "category": "crime", "hidden": True},
        ],
    )
    _write(data_dir, "users.jsonl", [{"user_id": "u2", "interests": ["spy"]}])
    (data_dir / "train.jsonl").unlink()
    skipped = import_directory(db, data_dir)
    assert (skipped.content, skipped.content_updated, skipped.users, skipped.users_updated) == (1, 0, 0, 0)
    assert client.get("/content/m2").json()["category"] == "action"
    result = import_directory(db, data_dir, on_conflict="update")
    assert (result.content, result.content_updated, result.users, result.users_updated) == (0, 1, 0, 1)
    m1, m2 = client.get("/content/m1").json(), client.get("/content/m2").json()
    assert m1 == before["m1"]  # the same fields: not written at all
    assert (m2["category"], m2["properties"]) == ("spy", {"lang": "en"}) and m2["updated_at"] > before["m2"][
        "updated_at"
    ]
    assert client.get("/content/m3").json()["hidden"] is True
    assert client.get("/users/u2").json()["interests"] == ["spy"]
    pending = db.read(lambda c: c.run("SELECT content_id FROM content WHERE text_hash IS NULL ORDER BY 1"))
    assert ["m2"] in pending  # a changed text is embedded again
    again = import_directory(db, data_dir, on_conflict="update")
    assert (again.content_updated, again.users_updated) == (0, 0)


def test_on_conflict_update_changes_only_the_fields_a_line_gives_as_a_patch_does(db, client, data_dir):
    """A catalog feed without ``hidden``, ``properties`` or a window must not bring a taken-down item back or
    wipe what it does not carry (it reset every absent field to its default)."""
    import_directory(db, data_dir)
    assert (
        client.patch(
            "/content/m1",
            json={"hidden": True, "properties": {"lang": "en"}, "available_until": "2999-01-01T00:00:00Z"},
        ).status_code
        == 200
    )
    _write(data_dir, "content.jsonl", [{"content_id": "m1", "title": "Toy Story", "category": "animation"}])
    _write(data_dir, "users.jsonl", [{"user_id": "u1", "skill_level": "expert"}])
    (data_dir / "train.jsonl").unlink()
    result = import_directory(db, data_dir, on_conflict="update")
    assert (result.content_updated, result.users_updated) == (1, 1)
    m1 = client.get("/content/m1").json()
    assert m1["title"] == "Toy Story" and m1["hidden"] is True and m1["properties"] == {"lang": "en"}
    assert m1["tags"] == ["animation", "comedy"] and m1["description"].startswith("Line one")
    assert m1["available_until"].startswith("2999-01-01")
    u1 = client.get("/users/u1").json()
    assert (u1["skill_level"], u1["interests"]) == ("expert", ["drama", 'say "hi"', "a,b"])
    # given, a field changes, to its default too
    _write(data_dir, "content.jsonl", [{"content_id": "m1", "title": "Toy Story", "category": "animation",
                                        "hidden": False, "tags": []}])  # fmt: skip
    assert import_directory(db, data_dir, on_conflict="update").content_updated == 1
    m1 = client.get("/content/m1").json()
    assert (m1["hidden"], m1["tags"], m1["properties"]) == (False, [], {"lang": "en"})


def test_a_line_whose_window_would_end_before_the_stored_start_is_a_bad_line(db, client, data_dir):
    """Merged field by field, a line's available_until can fall before the start the item keeps: a bad line
    named by file and line, as PATCH refuses it (the check constraint failed the whole import, no line named)."""
    import_directory(db, data_dir)
    assert client.patch("/content/m1", json={"available_from": "2030-01-01T00:00:00Z"}).status_code == 200
    _write(
        data_dir,
        "content.jsonl",
        [
            {
                "content_id": "m1",
                "title": "Toy Story",
                "category": "animation",
                "available_until": "2029-01-01T00:00:00Z",
            },
            {"content_id": "m2", "title": "GoldenEye", "category": "spy"},
        ],
    )
    (data_dir / "train.jsonl").unlink()
    with pytest.raises(InvalidRequestError, match=r"content.jsonl:1: available_until: must be after available_from"):
        import_directory(db, data_dir, on_conflict="update")
    assert client.get("/content/m2").json()["category"] == "action", "nothing written"
    result = import_directory(db, data_dir, on_conflict="update", on_error="skip")
    assert [(r.file, r.line, r.field) for r in result.rejects] == [("content.jsonl", 1, "available_until")]
    assert result.content_updated == 1 and client.get("/content/m2").json()["category"] == "spy"
    assert client.get("/content/m1").json()["title"] == "Toy Story (1995)", "the refused line changed nothing"


def test_a_deletions_file_deletes_in_bulk_with_the_guarantees_of_delete(db, client, data_dir):
    import_directory(db, data_dir)
    for f in ("users.jsonl", "content.jsonl", "train.jsonl"):
        (data_dir / f).unlink()
    _write(data_dir, "deletions.jsonl", [{"content_id": "m2"}, {"user_id": "u1"}, {"content_id": "never-there"}])
    result = import_directory(db, data_dir)
    assert (result.content_deleted, result.users_deleted) == (1, 1)
    assert client.get("/content/m2").status_code == 404 and client.get("/users/u1").status_code == 404
    assert client.get("/users/u2").json()["history"] == ["m1"]  # its m2 event went with m2
    tombstones = db.read(lambda c: c.run("SELECT content_id FROM content_deletions"))
    assert tombstones == [["m2"]]
    _write(data_dir, "deletions.jsonl", [{"content_id": "m1", "user_id": "u2"}])
    with pytest.raises(InvalidRequestError, match=r"deletions.jsonl:1"):
        import_directory(db, data_dir)
    assert client.get("/content/m1").status_code == 200 and client.get("/users/u2").status_code == 200


def test_on_error_skip_imports_every_good_line_and_returns_each_bad_one(db, client, data_dir):
    """A real catalog with one over-long tag, a repeated id, a bad date and a broken line: the good lines land,
    each bad one comes back with its file, line and field."""
    _write(
        data_dir,
        "content.jsonl",
        [
            {"content_id": "m1", "title": "Toy Story (1995)", "category": "animation"},
            {"content_id": "m2", "title": "GoldenEye (1995)", "category": "action", "tags": ["x" * 500]},
            {"content_id": "m3", "title": "Heat (1995)", "category": "crime"},
            {"content_id": "m1", "title": "Toy Story again", "category": "animation"},
        ],
    )
    with (data_dir / "train.jsonl").open("a") as out:
        out.write('{"user_id": "u1", "content_id": "m3", "interaction_type": "like", "timestamp": "yesterday"}\n')
        out.write("[1, 2]\n{broken\n")
        out.write('{"user_id": "u1", "content_id": "m3", "interaction_type": "click"}\n')
        # milliseconds read as seconds would land in the year 50000; a year ahead is a mistake too
        out.write(
            '{"user_id": "u1", "content_id": "m3", "interaction_type": "like", "timestamp": "2999-01-01T00:00:00"}\n'
        )
    result = import_directory(db, data_dir, on_error="skip")
    assert (result.users, result.content) == (2, 2)
    # m2 was rejected, so u2's view of it names unknown content (skipped, as ever); m3's click lands
    assert (result.events, result.skipped_events) == (3, 2)
    got = [(r.file, r.line, r.field) for r in result.rejects]
    assert got == [
        ("content.jsonl", 2, "tags.0"),
        ("content.jsonl", 4, "content_id"),
        ("train.jsonl", 5, "timestamp"),
        ("train.jsonl", 6, ""),
        ("train.jsonl", 7, ""),
        ("train.jsonl", 9, "timestamp"),
    ]
    assert "is on line 1 already" in result.rejects[1].message
    assert [(r.line, r.field) for r in result.skipped] == [(2, "content_id"), (4, "user_id")]  # m2's view, the ghost
    assert "in the future" in result.rejects[-1].message
    assert client.get("/content/m2").status_code == 404
    assert client.get("/content/m1").json()["title"] == "Toy Story (1995)", "the first line of an id wins"
    assert "m3" in client.get("/users/u1").json()["history"]


def test_the_default_stays_all_or_nothing_and_names_a_repeated_id(db, client, data_dir):
    _write(
        data_dir,
        "users.jsonl",
        [{"user_id": "u1"}, {"user_id": "u9"}, {"user_id": "u1", "interests": ["x"]}],
    )
    with pytest.raises(InvalidRequestError, match=r"users.jsonl:3: user_id: 'u1' is on line 1 already"):
        import_directory(db, data_dir, on_conflict="update")
    assert client.get("/users/u9").status_code == 404


def test_cli_on_error_skip_writes_the_rejects_file_and_prints_the_counts(db, data_dir, tmp_path, capsys):
    with (data_dir / "users.jsonl").open("a") as out:
        out.write('{"user_id": "has space"}\n')
    rejects = tmp_path / "out" / "rejects.jsonl"
    rejects.parent.mkdir()
    assert main(["import", "--data", str(data_dir), "--on-error", "skip", "--rejects", str(rejects)]) == 0
    printed = capsys.readouterr()
    assert "rejected 1 lines (1 in users.jsonl)" in printed.out and "imported 2 users" in printed.out
    # the ghost's event (line 4 of train.jsonl) is skipped, named on stderr and in the rejects file
    assert "skipped train.jsonl:4: user_id: no user 'ghost': skipped" in printed.err
    bad, ghost = (json.loads(line) for line in rejects.read_text().splitlines())
    assert bad == {
        "file": "users.jsonl",
        "line": 3,
        "field": "user_id",
        "message": "String should match pattern '^[A-Za-z0-9][A-Za-z0-9._:@-]*$'",
    }
    assert ghost == {"file": "train.jsonl", "line": 4, "field": "user_id", "message": "no user 'ghost': skipped"}
    assert main(["import", "--data", str(data_dir), "--rejects", str(rejects)]) == 2, "--rejects needs skip"
