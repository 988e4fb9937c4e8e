"""AWS Signature Version 4 verification, for the Personalize-compatible routes that boto3 calls unmodified.

``verify_request`` rebuilds the canonical request exactly as AWS defines it and botocore signs it
(``botocore.auth.SigV4Auth``): the method; the path as it came on the wire (still percent-encoded: botocore
keeps an ``endpoint_url`` prefix such as ``/personalize``), with dot segments and repeated slashes removed,
then URI-encoded once more (every byte but unreserved characters and ``/``); the query string's pairs
decoded, re-encoded and sorted; the signed headers, lower-cased, their values trimmed and inner runs of spaces
folded, repeated headers joined by ``,``; the list of signed headers; the payload's SHA-256 (from
``x-amz-content-sha256`` when sent, checked against the body). Then the string to sign
(``AWS4-HMAC-SHA256``, the time, the credential scope, the canonical request's hash), the signing key derived
from the secret by HMAC over date, region, service and ``aws4_request``, and a constant-time comparison.

Each refusal is a ``SignatureError`` of a ``SignatureErrorKind`` whose ``code`` is what AWS services answer
(botocore surfaces it as ``ClientError`` with that code):

=================  ======================================  ==========================================================
kind               code                                    when
=================  ======================================  ==========================================================
MISSING            MissingAuthenticationTokenException     no ``Authorization`` header
INCOMPLETE         IncompleteSignatureException            a malformed ``Authorization``, no ``X-Amz-Date``/``Date``
BAD_SCOPE          InvalidSignatureException               a credential scope for another service, date or terminator
EXPIRED            InvalidSignatureException               signed more than 15 minutes ago ("Signature expired")
NOT_YET_VALID      InvalidSignatureException               signed more than 15 minutes ahead ("not yet current")
UNKNOWN_KEY        UnrecognizedClientException             an access key id the lookup does not know
MISMATCH           InvalidSignatureException               any other difference: body, header, path, query, secret
=================  ======================================  ==========================================================

Only the ``Authorization`` header form is verified: Personalize's clients never presign (a presigned URL cannot
carry the JSON body these operations need). Pure: the caller passes the clock and a secret lookup.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from enum import StrEnum
from urllib.parse import quote, unquote

from dummi.errors import UnauthenticatedError

ALGORITHM = "AWS4-HMAC-SHA256"
TERMINATOR = "aws4_request"
MAX_SKEW = timedelta(minutes=15)
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"


class SignatureErrorKind(StrEnum):
    MISSING = "missing"
    INCOMPLETE = "incomplete"
    BAD_SCOPE = "bad_scope"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    UNKNOWN_KEY = "unknown_key"
    MISMATCH = "mismatch"

    @property
    def code(self) -> str:
        """The error code AWS answers (what botocore puts in ``response["Error"]["Code"]``)."""
        return _CODES[self]

    @property
    def status(self) -> int:
        """The HTTP status rest-json services answer with (JSON-protocol ones answer 400; botocore reads only
        the code)."""
        return 403


_CODES = {
    SignatureErrorKind.MISSING: "MissingAuthenticationTokenException",
    SignatureErrorKind.INCOMPLETE: "IncompleteSignatureException",
    SignatureErrorKind.BAD_SCOPE: "InvalidSignatureException",
    SignatureErrorKind.EXPIRED: "InvalidSignatureException",
    SignatureErrorKind.NOT_YET_VALID: "InvalidSignatureException",
    SignatureErrorKind.UNKNOWN_KEY: "UnrecognizedClientException",
    SignatureErrorKind.MISMATCH: "InvalidSignatureException",
}
_MISMATCH_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)


class SignatureError(UnauthenticatedError):
    """A request whose signature cannot be accepted; ``kind.code`` is the AWS error code to answer with."""

    def __init__(self, kind: SignatureErrorKind, message: str) -> None:
        super().__init__(message, field="Authorization")
        self.kind = kind

    @property
    def aws_code(self) -> str:
        return self.kind.code


@dataclass(frozen=True, slots=True)
class VerifiedRequest:
    access_key_id: str
    region: str
    service: str
    signed_at: datetime
    signed_headers: tuple[str, ...]


SecretLookup = Callable[[str], str | None]
Headers = Mapping[str, str] | Iterable[tuple[str, str]]


def verify_request(
    *,
    method: str,
    path: str,
    query: str,
    headers: Headers,
    body: bytes,
    secret_for: SecretLookup,
    service: str = "personalize",
    region: str | None = None,
    now: datetime | None = None,
    max_skew: timedelta = MAX_SKEW,
    allow_unsigned_payload: bool = False,
) -> VerifiedRequest:
    """Check a request's SigV4 ``Authorization`` header; the signer's identity, or ``SignatureError``.

    ``path`` is the raw path as sent (percent-encoded: ASGI's ``raw_path``), ``query`` the raw query string
    (without ``?``), ``headers`` every header received (a mapping or name/value pairs, names in any case),
    ``body`` the bytes received. ``secret_for`` maps an access key id to its secret (None: unknown); it is
    called only for a well-formed request signed within ``max_skew`` of ``now`` (default: the clock), for
    ``service`` (botocore signs all three Personalize clients for ``personalize``) and, if given, ``region``.
    A body signed as ``UNSIGNED-PAYLOAD`` is refused unless ``allow_unsigned_payload``."""
    now = now or datetime.now(UTC)
    by_name = _headers(headers)
    authorization = by_name.get("authorization")
    if not authorization:
        raise SignatureError(SignatureErrorKind.MISSING, "Missing Authentication Token")
    auth = _parse_authorization(authorization[-1])
    signed_at, amz_date = _timestamp(by_name, authorization[-1])
    _check_scope(auth, amz_date, service, region)
    _check_skew(signed_at, amz_date, now, max_skew)
    if "host" not in auth.signed_headers:
        raise SignatureError(
            SignatureErrorKind.INCOMPLETE, f"'Host' must be a 'SignedHeader' in the AWS Authorization. {auth.text}"
        )
    secret = secret_for(auth.key_id)
    if secret is None:
        raise SignatureError(SignatureErrorKind.UNKNOWN_KEY, "The security token included in the request is invalid.")
    canonical = canonical_request(
        method, path, query, by_name, auth.signed_headers, _payload_hash(by_name, body, allow_unsigned_payload)
    )
    to_sign = string_to_sign(amz_date, auth.scope, canonical)
    expected = hmac.new(signing_key(secret, auth.date, auth.region, auth.service), to_sign.encode(), "sha256")
    if not hmac.compare_digest(expected.hexdigest(), auth.signature):
        raise SignatureError(SignatureErrorKind.MISMATCH, _MISMATCH_MESSAGE)
    return VerifiedRequest(auth.key_id, auth.region, auth.service, signed_at, auth.signed_headers)


# -- the pieces AWS defines ------------------------------------------------------------------------------
def canonical_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, list[str]],
    signed_headers: tuple[str, ...],
    payload_hash: str,
) -> str:
    """The canonical request; ``headers`` lower-case name -> values in the order received."""
    lines = [method.upper(), canonical_uri(path), canonical_query(query)]
    for name in signed_headers:
        values = headers.get(name)
        if values is None:  # signed but not sent: no signature can match
            raise SignatureError(SignatureErrorKind.MISMATCH, _MISMATCH_MESSAGE)
        lines.append(f"{name}:{','.join(' '.join(v.split()) for v in values)}")
    lines += ["", ";".join(signed_headers), payload_hash]
    return "\n".join(lines)


def canonical_uri(path: str) -> str:
    """The raw (percent-encoded) path, dot segments and empty segments removed, URI-encoded once more:
    what botocore signs for every service but S3."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment and segment != ".":
            segments.append(segment)
    normalized = "/" + "/".join(segments)
    if path.endswith("/") and segments:
        normalized += "/"
    return quote(normalized, safe="/~")


def canonical_query(query: str) -> str:
    """Each ``name=value`` pair decoded and URI-encoded again (unreserved characters kept), sorted by name then
    value; a pair without ``=`` has an empty value."""
    pairs = []
    for pair in query.split("&"):
        if not pair:
            continue
        name, _, value = pair.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{n}={v}" for n, v in sorted(pairs))


def string_to_sign(amz_date: str, scope: str, canonical: str) -> str:
    return "\n".join([ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, TERMINATOR):
        key = hmac.new(key, part.encode(), "sha256").digest()
    return key


# -- reading the request ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Authorization:
    text: str
    key_id: str  # the credential: key id / date / region / service / terminator
    date: str
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


def _headers(headers: Headers) -> dict[str, list[str]]:
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, list[str]] = {}
    for name, value in pairs:
        out.setdefault(name.lower(), []).append(value)
    return out


def _parse_authorization(text: str) -> _Authorization:
    algorithm, _, rest = text.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise SignatureError(SignatureErrorKind.INCOMPLETE, f"Unsupported AWS 'algorithm': {algorithm!r}")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, eq, value = item.strip().partition("=")
        if eq:
            parts[name] = value.strip()
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not parts.get(name)
    ]
    if missing:
        raise SignatureError(SignatureErrorKind.INCOMPLETE, " ".join(missing) + f" Authorization={text}")
    credential = parts["Credential"].split("/")
    if len(credential) != 5 or not all(credential):
        raise SignatureError(
            SignatureErrorKind.INCOMPLETE,
            "Credential should have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, "
            f"got '{parts['Credential']}'",
        )
    signed_headers = tuple(parts["SignedHeaders"].split(";"))
    if any(not h or h != h.lower().strip() for h in signed_headers) or list(signed_headers) != sorted(signed_headers):
        raise SignatureError(
            SignatureErrorKind.INCOMPLETE,
            f"SignedHeaders must be lower-case names, sorted, separated by ';': {parts['SignedHeaders']!r}",
        )
    return _Authorization(text, *credential, signed_headers, parts["Signature"].lower())


def _timestamp(headers: Mapping[str, list[str]], authorization: str) -> tuple[datetime, str]:
    """The signing time and its ``YYYYMMDDTHHMMSSZ`` form, from ``X-Amz-Date`` or else ``Date``."""
    if amz := headers.get("x-amz-date"):
        try:
            return datetime.strptime(amz[-1], AMZ_DATE_FORMAT).replace(tzinfo=UTC), amz[-1]
        except ValueError:
            raise SignatureError(
                SignatureErrorKind.INCOMPLETE, f"Date must be in ISO-8601 'basic format'. Got '{amz[-1]}'."
            ) from None
    if date := headers.get("date"):
        try:
            signed_at = parsedate_to_datetime(date[-1]).astimezone(UTC)
        except (TypeError, ValueError):
            raise SignatureError(SignatureErrorKind.INCOMPLETE, f"Invalid date header: '{date[-1]}'.") from None
        return signed_at, signed_at.strftime(AMZ_DATE_FORMAT)
    raise SignatureError(
        SignatureErrorKind.INCOMPLETE,
        f"Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        f"Authorization={authorization}",
    )


def _check_scope(auth: _Authorization, amz_date: str, service: str, region: str | None) -> None:
    if auth.date != amz_date[:8]:
        message = (
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{auth.date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    elif auth.terminator != TERMINATOR:
        message = f"Credential should be scoped with a valid terminator: '{TERMINATOR}', not '{auth.terminator}'."
    elif auth.service != service:
        message = f"Credential should be scoped to correct service: '{service}'."
    elif region is not None and auth.region != region:
        message = f"Credential should be scoped to a valid region, not '{auth.region}'."
    else:
        return
    raise SignatureError(SignatureErrorKind.BAD_SCOPE, message)


def _check_skew(signed_at: datetime, amz_date: str, now: datetime, max_skew: timedelta) -> None:
    if signed_at < now - max_skew:
        earliest = (now - max_skew).strftime(AMZ_DATE_FORMAT)
        raise SignatureError(
            SignatureErrorKind.EXPIRED,
            f"Signature expired: {amz_date} is now earlier than {earliest} "
            f"({now.strftime(AMZ_DATE_FORMAT)} - {_minutes(max_skew)} min.)",
        )
    if signed_at > now + max_skew:
        latest = (now + max_skew).strftime(AMZ_DATE_FORMAT)
        raise SignatureError(
            SignatureErrorKind.NOT_YET_VALID,
            f"Signature not yet current: {amz_date} is still later than {latest} "
            f"({now.strftime(AMZ_DATE_FORMAT)} + {_minutes(max_skew)} min.)",
        )


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _payload_hash(headers: Mapping[str, list[str]], body: bytes, allow_unsigned: bool) -> str:
    """The payload hash the client signed: the body's SHA-256, or ``x-amz-content-sha256`` when sent (which
    must then be the body's hash: a signature must not vouch for a body it did not cover)."""
    actual = hashlib.sha256(body).hexdigest()
    sent = headers.get("x-amz-content-sha256")
    if not sent:
        return actual
    claimed = sent[-1].strip()
    if claimed == UNSIGNED_PAYLOAD and allow_unsigned:
        return claimed
    if claimed.lower() != actual:
        raise SignatureError(
            SignatureErrorKind.MISMATCH,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    return claimed
