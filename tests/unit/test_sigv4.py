"""SigV4 verification (``dummi.api.sigv4``) against requests signed by botocore itself: boto3's own clients for
the three Personalize services (captured just before they would be sent), and ``botocore.auth.SigV4Auth`` on
hand-made requests for what those clients never send (query strings, odd paths, a payload hash header).
Tampering with any signed part is refused with the kind AWS answers; the clock may differ by 15 minutes."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.credentials import Credentials

from dummi.api.sigv4 import SignatureError, SignatureErrorKind, canonical_uri, verify_request

KEY_ID = "AKIADUMMITEST0000001"
SECRET = secrets.token_urlsafe(30)
REGION = "eu-west-1"
ENDPOINT = "http://127.0.0.1:8000/personalize"


@dataclass(frozen=True)
class Sent:
    """A request as the server receives it."""

    method: str
    path: str  # raw, as on the wire
    query: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    @property
    def signed_at(self) -> datetime:
        return datetime.strptime(self.header("x-amz-date"), "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)

    def header(self, name: str) -> str:
        return next(v for n, v in self.headers if n.lower() == name)

    def with_header(self, name: str, value: str | None) -> Sent:
        kept = tuple((n, v) for n, v in self.headers if n.lower() != name.lower())
        return replace(self, headers=kept + (((name, value),) if value is not None else ()))


def _host(url: str) -> str:
    """The Host header an HTTP client sends: the port only when it is not the scheme's default."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}[parts.scheme]
    return parts.hostname if parts.port in (None, default) else f"{parts.hostname}:{parts.port}"


def _received(method: str, url: str, headers, body) -> Sent:
    parts = urlsplit(url)
    pairs = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in headers.items()]
    if isinstance(body, str):
        body = body.encode()
    return Sent(method, parts.path, parts.query, (("Host", _host(url)), *pairs), body or b"")


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_):
        yield self.body


def _sent_by_boto3(service: str, operation: str, params: dict, endpoint: str = ENDPOINT) -> Sent:
    """What boto3's unmodified client sends for ``operation``: serialized and signed by botocore, caught just
    before the HTTP send (and answered with an empty 200)."""
    captured = []

    def before_send(request, **_):
        captured.append(_received(request.method, request.url, request.headers, request.body))
        response = AWSResponse(request.url, 200, {}, _Raw(b"{}"))
        response._content = b"{}"
        return response

    session = boto3.session.Session(aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET, region_name=REGION)
    client = session.client(service, endpoint_url=endpoint)
    client.meta.events.register("before-send", before_send)
    getattr(client, operation)(**params)
    return captured[-1]


def _signed_by_botocore(
    method: str, url: str, body: bytes = b"", headers: dict | None = None, service: str = "personalize"
) -> Sent:
    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(KEY_ID, SECRET), service, REGION).add_auth(request)
    return _received(method, url, request.headers, body)


def _verify(sent: Sent, *, now: datetime | None = None, secrets_by_key: dict | None = None, **options):
    known = {KEY_ID: SECRET} if secrets_by_key is None else secrets_by_key
    return verify_request(
        method=sent.method,
        path=sent.path,
        query=sent.query,
        headers=sent.headers,
        body=sent.body,
        secret_for=known.get,
        now=now or _sent_time(sent),
        **options,
    )


def _sent_time(sent: Sent) -> datetime:
    if any(n.lower() == "x-amz-date" for n, _ in sent.headers):
        return sent.signed_at
    return datetime.now(UTC)  # signed with a Date header a moment ago


def _refused(sent: Sent, **kwargs) -> SignatureError:
    with pytest.raises(SignatureError) as refused:
        _verify(sent, **kwargs)
    return refused.value


ARN = f"arn:aws:personalize:{REGION}:123456789012"
OPERATIONS = [
    ("personalize-runtime", "get_recommendations",
     {"campaignArn": f"{ARN}:campaign/c", "userId": "u 1/é", "numResults": 10, "filterArn": f"{ARN}:filter/f",
      "filterValues": {"GENRE": '"comedy","drama"'}, "context": {"surface": "home"}}),
    ("personalize-runtime", "get_personalized_ranking",
     {"campaignArn": f"{ARN}:campaign/c", "userId": "u1", "inputList": ["i1", "i2", "i3"]}),
    ("personalize-events", "put_events",
     {"trackingId": "t", "userId": "u1", "sessionId": "s1",
      "eventList": [{"eventType": "click", "itemId": "i1", "sentAt": datetime(2026, 1, 2, tzinfo=UTC),
                     "properties": '{"numberOfRatings": "12"}'}]}),
    ("personalize-events", "put_items",
     {"datasetArn": f"{ARN}:dataset/g/ITEMS", "items": [{"itemId": "i1", "properties": '{"genre": "a|b"}'}]}),
    ("personalize-events", "put_users",
     {"datasetArn": f"{ARN}:dataset/g/USERS", "users": [{"userId": "u1", "properties": '{"interests": "x"}'}]}),
    ("personalize", "create_filter",
     {"name": "f", "datasetGroupArn": f"{ARN}:dataset-group/g",
      "filterExpression": 'EXCLUDE ItemID WHERE Items.CATEGORY IN ("shoe")'}),
    ("personalize", "describe_filter", {"filterArn": f"{ARN}:filter/f"}),
    ("personalize", "list_filters", {}),
    ("personalize", "delete_filter", {"filterArn": f"{ARN}:filter/f"}),
]  # fmt: skip


@pytest.mark.parametrize(("service", "operation", "params"), OPERATIONS, ids=[op for _, op, _ in OPERATIONS])
def test_requests_signed_by_boto3s_own_clients_are_verified(service, operation, params):
    sent = _sent_by_boto3(service, operation, params)
    assert sent.path.startswith("/personalize")  # the endpoint's path prefix is kept, and signed
    verified = _verify(sent)
    assert (verified.access_key_id, verified.region, verified.service) == (KEY_ID, REGION, "personalize")
    assert "host" in verified.signed_headers and verified.signed_at == sent.signed_at
    if service == "personalize":  # the json protocol: the operation travels in a signed header
        assert "x-amz-target" in verified.signed_headers


@pytest.mark.parametrize(
    "endpoint",
    [
        "http://127.0.0.1:8000/personalize/",  # the json protocol then posts to /personalize/, not /personalize
        "http://localhost",  # the default port is not in the Host header
        "https://abc123.execute-api.eu-west-1.amazonaws.com/prod/personalize",  # a stage prefix, over TLS
    ],
)
def test_endpoint_variants_are_verified(endpoint):
    for service, operation, params in (OPERATIONS[0], OPERATIONS[-2]):
        assert _verify(_sent_by_boto3(service, operation, params, endpoint=endpoint)).access_key_id == KEY_ID


def test_paths_and_query_strings_are_canonicalized_as_botocore_signs_them():
    url = "http://h:8000/personalize/a%20b/%C3%A9/./x/../y//z?b=2&a=1&a=0&c=x%2Fy&empty=&tilde=~&sp=a%20b"
    sent = _signed_by_botocore("POST", url, b'{"k": "v"}')
    assert sent.path == "/personalize/a%20b/%C3%A9/./x/../y//z"
    assert _verify(sent).access_key_id == KEY_ID
    assert canonical_uri(sent.path) == "/personalize/a%2520b/%25C3%25A9/y/z"
    assert _refused(replace(sent, query=sent.query.replace("a=0", "a=9"))).kind is SignatureErrorKind.MISMATCH


def test_a_date_header_stands_in_for_x_amz_date():
    sent = _signed_by_botocore("POST", f"{ENDPOINT}/recommendations", b"{}", {"Date": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert not any(n.lower() == "x-amz-date" for n, _ in sent.headers)
    assert _verify(sent).access_key_id == KEY_ID


def test_header_values_are_trimmed_and_folded_as_signed():
    sent = _signed_by_botocore("POST", f"{ENDPOINT}/events", b"{}", {"X-Custom": "  a   b  "})
    assert "x-custom" in _verify(sent).signed_headers
    assert _verify(sent.with_header("X-Custom", "a b")).access_key_id == KEY_ID  # the same canonical value
    assert _refused(sent.with_header("X-Custom", "a  c")).kind is SignatureErrorKind.MISMATCH


# -- tampering ------------------------------------------------------------------------------------------
def _a_second_apart(at: datetime) -> str:
    """Another time of the same day (the credential scope names the day)."""
    other = at + timedelta(seconds=1) if at.date() == (at + timedelta(seconds=1)).date() else at - timedelta(seconds=1)
    return other.strftime("%Y%m%dT%H%M%SZ")


def _recommendations() -> Sent:
    return _sent_by_boto3(*OPERATIONS[0])


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda s: replace(s, body=s.body.replace(b'"u 1', b'"u 2')), id="body"),
        pytest.param(lambda s: replace(s, body=s.body + b" "), id="body-whitespace"),
        pytest.param(lambda s: s.with_header("Content-Type", "application/x-amz-json-1.1"), id="signed-header"),
        pytest.param(lambda s: s.with_header("Host", "evil.example:8000"), id="host"),
        pytest.param(lambda s: replace(s, path="/personalize/personalize-ranking"), id="path"),
        pytest.param(lambda s: replace(s, path="/recommendations"), id="path-prefix-dropped"),
        pytest.param(lambda s: replace(s, method="PUT"), id="method"),
        pytest.param(lambda s: replace(s, query="userId=u2"), id="query-added"),
        pytest.param(lambda s: s.with_header("X-Amz-Date", _a_second_apart(s.signed_at)), id="date-by-a-second"),
    ],
)
def test_tampering_with_a_signed_part_is_refused_as_a_signature_mismatch(tamper):
    sent = _recommendations()
    refused = _refused(tamper(sent), now=sent.signed_at)
    assert refused.kind is SignatureErrorKind.MISMATCH and refused.aws_code == "InvalidSignatureException"
    assert refused.message.startswith("The request signature we calculated does not match")


def test_unsigned_headers_may_change():
    sent = _recommendations().with_header("User-Agent", "something else").with_header("X-Forwarded-For", "10.0.0.1")
    assert _verify(sent).access_key_id == KEY_ID


def test_a_wrong_secret_is_a_mismatch_and_an_unknown_key_is_unrecognized():
    sent = _recommendations()
    assert _refused(sent, secrets_by_key={KEY_ID: SECRET + "x"}).kind is SignatureErrorKind.MISMATCH
    unknown = _refused(sent, secrets_by_key={})
    assert unknown.kind is SignatureErrorKind.UNKNOWN_KEY and unknown.aws_code == "UnrecognizedClientException"
    assert unknown.message == "The security token included in the request is invalid."


def test_a_date_on_another_day_breaks_the_credential_scope():
    sent = _recommendations()
    next_day = sent.signed_at + timedelta(days=1)
    refused = _refused(sent.with_header("X-Amz-Date", next_day.strftime("%Y%m%dT%H%M%SZ")), now=next_day)
    assert refused.kind is SignatureErrorKind.BAD_SCOPE and refused.aws_code == "InvalidSignatureException"
    assert "Date in Credential scope does not match" in refused.message


def test_a_credential_scoped_to_another_service_or_region_is_refused():
    other_service = _signed_by_botocore("POST", f"{ENDPOINT}/recommendations", b"{}", service="dynamodb")
    refused = _refused(other_service)
    assert refused.kind is SignatureErrorKind.BAD_SCOPE
    assert refused.message == "Credential should be scoped to correct service: 'personalize'."
    sent = _recommendations()
    assert _verify(sent, region=REGION).region == REGION
    assert _refused(sent, region="us-east-1").kind is SignatureErrorKind.BAD_SCOPE


def test_a_missing_or_malformed_authorization_is_refused_before_any_key_lookup():
    sent = _recommendations()
    missing = _refused(sent.with_header("Authorization", None))
    assert missing.kind is SignatureErrorKind.MISSING and missing.aws_code == "MissingAuthenticationTokenException"
    authorization = sent.header("authorization")
    malformed = [
        authorization.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
        authorization.split(", Signature=")[0],
        authorization.replace("Credential=", "Credentials="),
        authorization.replace(f"{KEY_ID}/", f"{KEY_ID}/x/"),
        authorization.replace("SignedHeaders=content-type;host;x-amz-date", "SignedHeaders=host;Content-Type"),
        authorization.replace("SignedHeaders=content-type;host;x-amz-date", "SignedHeaders=x-amz-date;host"),
        authorization.replace("SignedHeaders=content-type;host;x-amz-date", "SignedHeaders=content-type;x-amz-date"),
        "Bearer abc",
    ]
    looked_up = []
    for text in malformed:
        refused = _refused(sent.with_header("Authorization", text), secrets_by_key=_Recorder(looked_up))
        assert refused.kind is SignatureErrorKind.INCOMPLETE, text
        assert refused.aws_code == "IncompleteSignatureException"
    assert looked_up == []
    no_date = _refused(sent.with_header("X-Amz-Date", None), now=sent.signed_at)
    assert no_date.kind is SignatureErrorKind.INCOMPLETE and "'X-Amz-Date' or a 'Date' header" in no_date.message
    bad_date = _refused(sent.with_header("X-Amz-Date", "2026-01-01T00:00:00Z"), now=sent.signed_at)
    assert bad_date.kind is SignatureErrorKind.INCOMPLETE


class _Recorder(dict):
    """A secret lookup that records the keys it was asked for."""

    def __init__(self, log: list) -> None:
        super().__init__({KEY_ID: SECRET})
        self.log = log

    def get(self, key, default=None):
        self.log.append(key)
        return super().get(key, default)


def test_a_signed_header_the_request_lacks_is_a_mismatch():
    sent = _recommendations()
    assert _refused(sent.with_header("Content-Type", None)).kind is SignatureErrorKind.MISMATCH


# -- the clock ------------------------------------------------------------------------------------------
def test_the_clock_may_differ_by_15_minutes_either_way():
    sent = _recommendations()
    at = sent.signed_at
    for now in (at + timedelta(minutes=15), at - timedelta(minutes=15), at + timedelta(minutes=14, seconds=59)):
        assert _verify(sent, now=now).access_key_id == KEY_ID
    looked_up: list = []
    expired = _refused(sent, now=at + timedelta(minutes=15, seconds=1), secrets_by_key=_Recorder(looked_up))
    assert expired.kind is SignatureErrorKind.EXPIRED and expired.aws_code == "InvalidSignatureException"
    earliest = (at + timedelta(seconds=1)).strftime("%Y%m%dT%H%M%SZ")
    assert expired.message.startswith(f"Signature expired: {sent.header('x-amz-date')} is now earlier than {earliest}")
    assert expired.message.endswith(" - 15 min.)")
    early = _refused(sent, now=at - timedelta(minutes=15, seconds=1), secrets_by_key=_Recorder(looked_up))
    assert early.kind is SignatureErrorKind.NOT_YET_VALID and early.aws_code == "InvalidSignatureException"
    assert early.message.startswith(f"Signature not yet current: {sent.header('x-amz-date')} is still later than")
    assert looked_up == []  # a stale request costs no key lookup


def test_the_default_clock_is_now():
    sent = _recommendations()  # signed a moment ago
    headers = dict(sent.headers)  # a mapping works as well as pairs
    verified = verify_request(
        method=sent.method,
        path=sent.path,
        query=sent.query,
        headers=headers,
        body=sent.body,
        secret_for={KEY_ID: SECRET}.get,
    )
    assert verified.access_key_id == KEY_ID


# -- the payload hash header ----------------------------------------------------------------------------
def test_a_payload_hash_header_must_be_the_bodys():
    body = b'{"userId": "u1"}'
    digest = hashlib.sha256(body).hexdigest()
    sent = _signed_by_botocore("POST", f"{ENDPOINT}/recommendations", body, {"X-Amz-Content-SHA256": digest})
    assert "x-amz-content-sha256" in _verify(sent).signed_headers
    forged = replace(sent, body=b'{"userId": "u2"}')  # the header still claims the old body
    refused = _refused(forged)
    assert refused.kind is SignatureErrorKind.MISMATCH and "x-amz-content-sha256" in refused.message


def test_an_unsigned_payload_is_refused_unless_allowed():
    sent = _signed_by_botocore(
        "POST", f"{ENDPOINT}/recommendations", b"{}", {"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"}
    )
    assert _refused(sent).kind is SignatureErrorKind.MISMATCH
    assert _verify(replace(sent, body=b"anything"), allow_unsigned_payload=True).access_key_id == KEY_ID
