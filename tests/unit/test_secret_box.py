"""Secrets encrypted at rest (``dummi.services.secret_box``): what is sealed opens again only with a key that
sealed it and in the same context; keys rotate; a missing or malformed key is named without being shown."""

from __future__ import annotations

import base64

import pytest

from dummi.services.secret_box import (
    ENV,
    InvalidKeyError,
    MissingKeyError,
    SecretBox,
    TamperedError,
    UnknownKeyError,
    new_key,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY-é"


def _box(*entries: str) -> SecretBox:
    return SecretBox.from_env({ENV: ",".join(entries)})


def test_a_sealed_secret_opens_again_and_does_not_show():
    box = _box(f"main:{new_key()}")
    sealed = box.seal(SECRET, context="AKIA1")
    assert sealed.startswith("dsb1:main:") and SECRET not in sealed and "wJalr" not in sealed
    assert box.open(sealed, context="AKIA1") == SECRET
    again = box.seal(SECRET, context="AKIA1")
    assert again != sealed and box.open(again, context="AKIA1") == SECRET  # a fresh nonce each time


def test_a_wrong_key_is_refused():
    sealed = _box(f"main:{new_key()}").seal(SECRET)
    with pytest.raises(TamperedError):
        _box(f"main:{new_key()}").open(sealed)  # same id, other key material
    with pytest.raises(UnknownKeyError) as unknown:
        _box(f"other:{new_key()}").open(sealed)
    assert unknown.value.key_id == "main" and ENV in str(unknown.value)


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda s: s[:-2] + ("A" if s[-2] != "A" else "B") + s[-1], id="ciphertext"),
        pytest.param(lambda s: s[:12] + ("A" if s[12] != "A" else "B") + s[13:], id="nonce"),
        pytest.param(lambda s: s[:-10], id="truncated"),
        pytest.param(lambda s: s.replace("dsb1:", "dsb2:"), id="version"),
        pytest.param(lambda s: s.replace(":main:", ":"), id="no-key-id"),
        pytest.param(lambda s: "plain text", id="not-sealed"),
    ],
)
def test_tampering_is_detected(tamper):
    box = _box(f"main:{new_key()}")
    sealed = box.seal(SECRET, context="AKIA1")
    with pytest.raises(TamperedError):
        box.open(tamper(sealed), context="AKIA1")


def test_a_secret_sealed_for_one_context_does_not_open_in_another():
    box = _box(f"main:{new_key()}")
    sealed = box.seal(SECRET, context="AKIA1")
    with pytest.raises(TamperedError):
        box.open(sealed, context="AKIA2")  # copied to another credential's row
    with pytest.raises(TamperedError):
        box.open(sealed)


def test_keys_rotate_the_first_seals_every_one_opens():
    old, new = f"old:{new_key()}", f"new:{new_key()}"
    sealed_old = _box(old).seal(SECRET, context="AKIA1")
    both = _box(new, old)
    assert both.current == "new" and both.open(sealed_old, context="AKIA1") == SECRET
    assert both.needs_rotation(sealed_old)
    sealed_new = both.rotate(sealed_old, context="AKIA1")
    assert not both.needs_rotation(sealed_new) and sealed_new.startswith("dsb1:new:")
    only_new = _box(new)
    assert only_new.open(sealed_new, context="AKIA1") == SECRET
    with pytest.raises(UnknownKeyError):
        only_new.open(sealed_old, context="AKIA1")


def test_a_bare_key_gets_an_id_derived_from_it():
    key = new_key()
    first, second = _box(key), _box(key)
    assert first.current == second.current and first.current.startswith("k")
    assert second.open(first.seal(SECRET)) == SECRET
    assert _box(new_key()).current != first.current


def test_url_safe_base64_and_missing_padding_are_read():
    raw = bytes(range(250, 256)) + bytes(26)  # bytes whose base64 has '+' and '/'
    urlsafe = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert _box(f"a:{urlsafe}").keys["a"] == raw


def test_a_missing_key_is_a_clear_error():
    for environ in ({}, {ENV: ""}, {ENV: " , "}):
        with pytest.raises(MissingKeyError, match=ENV):
            SecretBox.from_env(environ)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("main:@@@@%%%%", "key 1 is not base64"),
        (f"main:{base64.b64encode(bytes(16)).decode()}", "key 1 is 16 bytes, not 32"),
        (f"a:{new_key()},bad id:{new_key()}", "key 2 has a bad id"),
        (f"a:{new_key()},a:{new_key()}", "key id 'a' is given twice"),
    ],
)
def test_a_malformed_key_is_named_by_its_place_not_shown(spec, message):
    with pytest.raises(InvalidKeyError, match=message) as refused:
        _box(spec)
    assert spec.split(":")[-1] not in str(refused.value)
