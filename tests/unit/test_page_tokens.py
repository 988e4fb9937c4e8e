"""Page tokens: what one carries comes back only under the right key, before its expiry, to its subject."""

from __future__ import annotations

import base64
import json
import uuid

import pytest

from dummi.errors import InvalidRequestError
from dummi.services import page_tokens
from dummi.services.page_tokens import PAGE_TOKEN_TTL_SECONDS, PageToken

KEY = b"k" * 32
LINEAGE = str(uuid.uuid4())
NOW = 1_800_000_000.0


def _refused(text: str, subjects=frozenset({"user:ann"}), key=KEY, now=NOW) -> str:
    with pytest.raises(InvalidRequestError) as raised:
        page_tokens.read(key, text, set(subjects), now=now)
    assert raised.value.field == "page_token"
    return raised.value.message


def test_a_token_reads_back_for_its_subject_until_it_expires():
    text = page_tokens.next_token(KEY, "user:ann", LINEAGE, 2, now=NOW)
    token = page_tokens.read(KEY, text, {"user:ann", "session:s1"}, now=NOW + 60)
    assert token == PageToken("user:ann", LINEAGE, 2, int(NOW + PAGE_TOKEN_TTL_SECONDS))
    assert "ann" not in text.split(".")[1]  # the signature part says nothing
    assert "expired" in _refused(text, now=NOW + PAGE_TOKEN_TTL_SECONDS + 1)
    assert PAGE_TOKEN_TTL_SECONDS == 30 * 60


def test_a_token_of_another_subject_or_key_is_refused():
    text = page_tokens.next_token(KEY, "session:s1", LINEAGE, 3, now=NOW)
    assert page_tokens.read(KEY, text, {"session:s1"}, now=NOW).page == 3
    assert "another user or session" in _refused(text, {"user:ann"})
    assert "another user or session" in _refused(text, {"session:s2", "user:s1"})
    assert "not a token" in _refused(text, {"session:s1"}, key=b"x" * 32)


def test_a_changed_payload_breaks_the_signature():
    text = page_tokens.next_token(KEY, "user:bob", LINEAGE, 2, now=NOW)
    payload, signature = text.split(".")
    fields = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    fields["s"] = "user:ann"  # moved to another user
    forged = base64.urlsafe_b64encode(json.dumps(fields).encode()).rstrip(b"=").decode()
    assert "not a token" in _refused(f"{forged}.{signature}")


@pytest.mark.parametrize("text", ["", "x", "a.b.c", "!!!.???", "e30.e30", "bm90IGpzb24.AAAA"])
def test_garbage_is_refused_as_a_bad_token(text):
    assert "not a token" in _refused(text)


def test_a_signed_token_with_a_bad_lineage_or_page_is_refused():
    for fields in ({"s": "user:ann", "l": "nope", "p": 2, "e": NOW + 10}, {"s": "user:ann", "l": LINEAGE, "p": 1}):
        payload = json.dumps({"e": NOW + 10, **fields}).encode()
        text = f"{page_tokens._b64(payload)}.{page_tokens._b64(page_tokens._signature(KEY, payload))}"
        assert "not a token" in _refused(text)
