"""Secrets held so that they can be used again, encrypted at rest: the SigV4 secret of a Personalize-style
credential must be read back to check a signature (a hash, as API keys are stored, cannot do that).

AES-256-GCM under a key from the environment: ``DUMMI_SECRETS_KEY`` holds one or more keys separated by commas,
each ``<key id>:<base64 of 32 bytes>`` or a bare base64 key (its id is then derived from it). The first key
seals; every key listed opens, so keys rotate by putting the new one first, re-sealing (``rotate``), then
dropping the old one. In AWS the variable is filled from Secrets Manager or SSM (a dynamic reference in the
template) rather than written in it.

A sealed value is text: ``dsb1:<key id>:<base64url(nonce, ciphertext and tag)>``. The version, the key id and a
caller's ``context`` (e.g. the access key id the secret belongs to) are authenticated with it, so a value
copied into another row, altered, or opened with another key is refused rather than misread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV = "DUMMI_SECRETS_KEY"
VERSION = "dsb1"
KEY_BYTES = 32
NONCE_BYTES = 12
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class SecretBoxError(Exception):
    """A secret that cannot be sealed or opened (never carries key material or plaintext)."""


class MissingKeyError(SecretBoxError):
    """No key configured."""


class InvalidKeyError(SecretBoxError):
    """A configured key that is not base64 of 32 bytes, or a bad or repeated key id."""


class UnknownKeyError(SecretBoxError):
    """A sealed value names a key that is not configured (dropped before its values were re-sealed)."""

    def __init__(self, key_id: str) -> None:
        super().__init__(
            f"the secret was sealed with key {key_id!r}, which {ENV} does not hold: add it back (after the current "
            "key) until every secret is re-sealed"
        )
        self.key_id = key_id


class TamperedError(SecretBoxError):
    """A sealed value that does not authenticate: altered, truncated, copied to another context, or sealed
    under other key material with the same id."""


def new_key() -> str:
    """A fresh key for ``DUMMI_SECRETS_KEY`` (base64 of 32 random bytes)."""
    return base64.b64encode(os.urandom(KEY_BYTES)).decode()


@dataclass(frozen=True)
class SecretBox:
    keys: Mapping[str, bytes]  # key id -> 32 bytes
    current: str  # the id of the key that seals

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise InvalidKeyError(f"the sealing key {self.current!r} is not among the keys")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SecretBox:
        spec = (os.environ if environ is None else environ).get(ENV, "").strip()
        if not spec:
            raise MissingKeyError(
                f"{ENV} is not set: give it a key to encrypt stored secrets with, e.g. the output of "
                "python -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())'"
            )
        return cls.from_spec(spec)

    @classmethod
    def from_spec(cls, spec: str) -> SecretBox:
        """Keys as ``DUMMI_SECRETS_KEY`` lists them (the first seals)."""
        keys: dict[str, bytes] = {}
        for number, entry in enumerate((e.strip() for e in spec.split(",") if e.strip()), start=1):
            key_id, colon, encoded = entry.rpartition(":")
            key = _decode_key(encoded, number)
            if not colon:
                key_id = "k" + hashlib.sha256(key).hexdigest()[:8]
            elif not _KEY_ID.fullmatch(key_id):
                raise InvalidKeyError(f"{ENV}: key {number} has a bad id (letters, digits, '-', '_'; at most 32)")
            if key_id in keys:
                raise InvalidKeyError(f"{ENV}: key id {key_id!r} is given twice")
            keys[key_id] = key
        if not keys:
            raise MissingKeyError(f"{ENV} holds no key")
        return cls(keys, next(iter(keys)))

    def seal(self, plaintext: str, *, context: str = "") -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(self.keys[self.current]).encrypt(nonce, plaintext.encode(), _associated(self.current, context))
        return f"{VERSION}:{self.current}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def open(self, sealed: str, *, context: str = "") -> str:
        key_id, payload = _split(sealed)
        key = self.keys.get(key_id)
        if key is None:
            raise UnknownKeyError(key_id)
        if len(payload) < NONCE_BYTES + 16:
            raise TamperedError("the sealed secret is truncated")
        try:
            plaintext = AESGCM(key).decrypt(payload[:NONCE_BYTES], payload[NONCE_BYTES:], _associated(key_id, context))
        except InvalidTag:
            raise TamperedError(
                "the sealed secret does not authenticate: altered, sealed for another context, or under other "
                "key material with the same id"
            ) from None
        return plaintext.decode()

    def needs_rotation(self, sealed: str) -> bool:
        """Whether the value was sealed with a key other than the current one."""
        return _split(sealed)[0] != self.current

    def rotate(self, sealed: str, *, context: str = "") -> str:
        """The same secret sealed with the current key."""
        return self.seal(self.open(sealed, context=context), context=context)


def _decode_key(encoded: str, number: int) -> bytes:
    try:
        key = base64.b64decode(encoded.replace("-", "+").replace("_", "/") + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKeyError(f"{ENV}: key {number} is not base64") from None
    if len(key) != KEY_BYTES:
        raise InvalidKeyError(f"{ENV}: key {number} is {len(key)} bytes, not {KEY_BYTES}")
    return key


def _associated(key_id: str, context: str) -> bytes:
    return f"{VERSION}:{key_id}:{context}".encode()


def _split(sealed: str) -> tuple[str, bytes]:
    version, _, rest = sealed.partition(":")
    key_id, _, encoded = rest.partition(":")
    if version != VERSION or not _KEY_ID.fullmatch(key_id) or not encoded:
        raise TamperedError(f"not a sealed secret (expected {VERSION}:<key id>:<data>)")
    try:
        return key_id, base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise TamperedError("the sealed secret's data is not base64") from None
