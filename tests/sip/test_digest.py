"""Digest authentication: vectors, nonces, credential parsing, challenge and verify."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tlstrunk.sip import digest
from tlstrunk.sip.address import Challenge, CSeq
from tlstrunk.sip.digest import (
    AuthOutcome,
    Credentials,
    DigestClient,
    DigestServer,
    NonceSigner,
    NonceState,
    compute_ha1,
    compute_response,
)
from tlstrunk.sip.errors import SipParseError, SipUsageError
from tlstrunk.sip.message import Request, Response, make_response, parse_message

# RFC 7616 section 3.9.1: one GET request, authorized with MD5 and with SHA-256.
RFC7616_USER = "Mufasa"
RFC7616_PASSWORD = "Circle of Life"
RFC7616_REALM = "http-auth@example.org"
RFC7616_URI = "/dir/index.html"
RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_RESPONSES = {
    "MD5": "8ca523f5e9506fed4657c9700eebdbec",
    "SHA-256": "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
}

REALM = "cucma.example"
SECRET = b"0123456789abcdef0123456789abcdef"
VALIDITY = 600.0
NOW = 1_700_000_000.0
PASSWORDS = {"1018": "s3cret", "9898": "other pass"}


def make_request(method: str = "REGISTER", uri: str = "sip:1018@127.0.0.203",
                 cseq: int = 1) -> Request:
    """Return a parsed request, as a transport would deliver it."""
    data = (
        f"{method} {uri} SIP/2.0\r\n"
        "Via: SIP/2.0/TLS 127.0.0.200:5061;branch=z9hG4bKdigest1\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:1018@127.0.0.203>;tag=abc123\r\n"
        "To: <sip:1018@127.0.0.203>\r\n"
        "Call-ID: digest-test@127.0.0.200\r\n"
        f"CSeq: {cseq} {method}\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def lookup(username: str, realm: str, algorithm: str) -> str | None:
    password = PASSWORDS.get(username)
    if password is None:
        return None
    return compute_ha1(username, realm, password, algorithm)


def client_for(username: str, password: str,
               algorithms: tuple[str, ...] = ("SHA-256", "MD5")) -> DigestClient:
    def ha1_for_realm(realm: str, algorithm: str) -> str | None:
        if algorithm not in algorithms:
            return None
        return compute_ha1(username, realm, password, algorithm)
    return DigestClient(username, ha1_for_realm)


def make_server(algorithms: tuple[str, ...] = ("SHA-256", "MD5"), realm: str = REALM,
                **kwargs: str) -> DigestServer:
    return DigestServer(realm, NonceSigner(SECRET), VALIDITY, algorithms, **kwargs)


def on_the_wire(request: Request) -> Request:
    """Serialise and parse again, so the server gets the request as a peer would send it."""
    message = parse_message(request.to_bytes())
    assert isinstance(message, Request)
    return message


def authorized(server: DigestServer, client: DigestClient, request: Request,
               *, proxy: bool = False, now: float = NOW) -> Request:
    challenge = server.challenge(request, now, proxy=proxy)
    answer = client.authorize(request, challenge)
    assert answer is not None
    return on_the_wire(answer)


def with_credentials(request: Request, credentials: Credentials,
                     header: str = "Authorization") -> Request:
    headers = request.headers.copy()
    headers.set(header, str(credentials))
    return Request(request.method, request.uri, headers, request.body)


def signed(credentials: Credentials, method: str, password: str) -> Credentials:
    """Return the credentials with a correct response for ``password``."""
    ha1 = compute_ha1(credentials.username, credentials.realm, password, credentials.algorithm)
    response = compute_response(
        ha1, method, credentials.uri, credentials.nonce, algorithm=credentials.algorithm,
        qop=credentials.qop, nc=credentials.nc, cnonce=credentials.cnonce)
    return Credentials(credentials.username, credentials.realm, credentials.nonce,
                       credentials.uri, response, credentials.algorithm, credentials.cnonce,
                       credentials.nc, credentials.qop, credentials.opaque)


# --- vectors ---------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
def test_rfc7616_example_response(algorithm: str) -> None:
    ha1 = compute_ha1(RFC7616_USER, RFC7616_REALM, RFC7616_PASSWORD, algorithm)
    response = compute_response(ha1, "GET", RFC7616_URI, RFC7616_NONCE, algorithm=algorithm,
                                qop="auth", nc="00000001", cnonce=RFC7616_CNONCE)
    assert response == RFC7616_RESPONSES[algorithm]


def test_rfc2617_example_response() -> None:
    # RFC 2617 section 3.5, MD5 with qop=auth.
    ha1 = compute_ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    response = compute_response(ha1, "GET", "/dir/index.html",
                                "dcd98b7102dd2f0e8b11d0f600bfb0c093", qop="auth",
                                nc="00000001", cnonce="0a4f113b")
    assert response == "6629fae49393a05397450978507c4ef1"


def test_response_without_qop_is_rfc2069_form() -> None:
    ha1 = compute_ha1("u", "r", "p")
    ha2 = digest._hash("MD5", "INVITE:sip:a@b")
    expected = digest._hash("MD5", f"{ha1}:n:{ha2}")
    assert compute_response(ha1, "INVITE", "sip:a@b", "n") == expected


def test_sess_algorithm_rehashes_ha1() -> None:
    ha1 = compute_ha1("u", "r", "p", "SHA-256")
    session_ha1 = digest._hash("SHA-256", f"{ha1}:n:c")
    plain = compute_response(session_ha1, "INVITE", "sip:a@b", "n", algorithm="SHA-256",
                             qop="auth", nc="00000001", cnonce="c")
    sess = compute_response(ha1, "INVITE", "sip:a@b", "n", algorithm="SHA-256-sess",
                            qop="auth", nc="00000001", cnonce="c")
    assert sess == plain


def test_compute_rejects_unknown_algorithm() -> None:
    with pytest.raises(ValueError, match="SHA-512"):
        compute_ha1("u", "r", "p", "SHA-512")


# --- nonces ----------------------------------------------------------------


@pytest.mark.parametrize(("age", "state"), [
    (0.0, NonceState.VALID),
    (VALIDITY - 1, NonceState.VALID),
    (VALIDITY, NonceState.VALID),
    (VALIDITY + 1, NonceState.STALE),
    (-30.0, NonceState.VALID),
])
def test_nonce_age_boundaries(age: float, state: NonceState) -> None:
    signer = NonceSigner(SECRET)
    assert signer.check(signer.make(NOW), NOW + age, VALIDITY) is state


def test_nonces_differ_within_one_millisecond() -> None:
    signer = NonceSigner(SECRET)
    assert signer.make(NOW) != signer.make(NOW)


def test_nonce_from_another_secret_is_invalid() -> None:
    nonce = NonceSigner(b"another secret of 32 bytes......").make(NOW)
    assert NonceSigner(SECRET).check(nonce, NOW, VALIDITY) is NonceState.INVALID


def test_nonce_with_changed_time_is_invalid() -> None:
    signer = NonceSigner(SECRET)
    raw = bytearray(digest._b64decode(signer.make(NOW)) or b"")
    raw[7] ^= 0x01
    assert signer.check(digest._b64encode(bytes(raw)), NOW, VALIDITY) is NonceState.INVALID


@pytest.mark.parametrize("nonce", ["", "!!!!", "abc", "é" * 70, "A" * 70, "A" * 71])
def test_malformed_nonce_is_invalid(nonce: str) -> None:
    assert NonceSigner(SECRET).check(nonce, NOW, VALIDITY) is NonceState.INVALID


def test_short_secret_rejected() -> None:
    with pytest.raises(SipUsageError, match="at least 16 random bytes"):
        NonceSigner(b"short")


@settings(max_examples=300)
@given(st.text())
def test_nonce_check_never_raises(nonce: str) -> None:
    assert NonceSigner(SECRET).check(nonce, NOW, VALIDITY) is NonceState.INVALID


# --- credentials parsing ---------------------------------------------------

RFC7616_HEADER = (
    f'Digest username="{RFC7616_USER}", realm="{RFC7616_REALM}", uri="{RFC7616_URI}", '
    f'algorithm=SHA-256, nonce="{RFC7616_NONCE}", nc=00000001, cnonce="{RFC7616_CNONCE}", '
    f'qop=auth, response="{RFC7616_RESPONSES["SHA-256"]}", opaque="{RFC7616_OPAQUE}"'
)


def test_parse_rfc7616_header() -> None:
    credentials = Credentials.parse(RFC7616_HEADER)
    assert credentials == Credentials(
        RFC7616_USER, RFC7616_REALM, RFC7616_NONCE, RFC7616_URI, RFC7616_RESPONSES["SHA-256"],
        "SHA-256", RFC7616_CNONCE, "00000001", "auth", RFC7616_OPAQUE)
    assert credentials.nonce_count == 1


def test_parse_format_round_trip() -> None:
    credentials = Credentials.parse(RFC7616_HEADER)
    assert Credentials.parse(str(credentials)) == credentials


def test_parse_defaults_and_case() -> None:
    credentials = Credentials.parse(
        'digest USERNAME="1018", Realm="r", NONCE="n", Uri="sip:a@b", Response="ff"')
    assert credentials.username == "1018"
    assert credentials.algorithm == "MD5"
    assert credentials.qop is None
    assert credentials.nonce_count is None


def test_parse_escapes_and_tokens() -> None:
    credentials = Credentials.parse(
        r'Digest username="a\"b\\c", realm="x, y", nonce=tok, uri="sip:a@b", response=ff')
    assert credentials.username == 'a"b\\c'
    assert credentials.realm == "x, y"
    assert credentials.nonce == "tok"
    assert Credentials.parse(str(credentials)) == credentials


@pytest.mark.parametrize(("value", "message"), [
    ('Basic realm="r"', "the scheme 'Basic' is not Digest"),
    ('Digest realm="r", nonce="n", uri="u", response="ff"',
     "the parameter 'username' is missing"),
    ('Digest username="u", realm="r", nonce="n", uri="u"', "the parameter 'response' is missing"),
    ('Digest username="u", username="v", realm="r", nonce="n", uri="u", response="ff"',
     "the parameter 'username' appears more than once"),
    ('Digest username="u", realm="r", nonce="n", uri="u", response="ff", qop=auth, nc=00000001',
     "the parameter 'cnonce' is missing, and qop requires it"),
    ('Digest username="u", realm="r", nonce="n", uri="u", response="ff", qop=auth, cnonce="c", '
     "nc=1", "the nonce count nc='1' is not 8 hexadecimal digits"),
    ('Digest username="u", realm="r", nonce="n", uri="u", response="ff", qop=auth, cnonce="c", '
     "nc=0000000g", "the nonce count nc='0000000g' is not 8 hexadecimal digits"),
    ('Digest username="u, realm="r"', "malformed"),
    ("", "is not a token"),
])
def test_parse_errors_name_parameter(value: str, message: str) -> None:
    with pytest.raises(SipParseError, match="Invalid Authorization header") as info:
        Credentials.parse(value)
    assert message in str(info.value)
    assert info.value.status_code == 400


def test_parse_error_names_proxy_header() -> None:
    with pytest.raises(SipParseError, match="Invalid Proxy-Authorization header"):
        Credentials.parse('Digest realm="r"', "Proxy-Authorization")


@settings(max_examples=500)
@given(st.text())
def test_parse_arbitrary_text_raises_only_parse_error(value: str) -> None:
    with contextlib.suppress(SipParseError):
        Credentials.parse(value)


_PARAM = st.tuples(
    st.sampled_from(["username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce",
                     "algorithm", "opaque", "x"]),
    st.text(max_size=12),
    st.booleans(),
)


@settings(max_examples=500)
@given(st.lists(_PARAM, max_size=12))
def test_parse_digest_like_text_raises_only_parse_error(
    params: list[tuple[str, str, bool]],
) -> None:
    parts = [f'{name}="{value}"' if quoted else f"{name}={value}" for name, value, quoted in params]
    try:
        credentials = Credentials.parse("Digest " + ", ".join(parts))
    except SipParseError:
        return
    assert Credentials.parse(str(credentials)) == credentials


# --- challenge -------------------------------------------------------------


def test_challenge_401_lists_sha256_then_md5() -> None:
    request = make_request()
    response = make_server().challenge(request, NOW, proxy=False)
    assert response.status_code == 401
    assert response.reason == "Unauthorized"
    assert response.to.tag
    assert "Proxy-Authenticate" not in response.headers
    challenges = [Challenge.parse(v) for v in response.headers.get_all("WWW-Authenticate")]
    assert [c.param("algorithm") for c in challenges] == ["SHA-256", "MD5"]
    for challenge in challenges:
        assert challenge.scheme == "Digest"
        assert challenge.param("realm") == REALM
        assert challenge.param("qop") == "auth"
        assert challenge.param("stale") is None
        assert challenge.param("opaque") is None
        nonce = challenge.param("nonce") or ""
        assert NonceSigner(SECRET).check(nonce, NOW, VALIDITY) is NonceState.VALID
    assert 'qop="auth"' in response.headers.get_all("WWW-Authenticate")[0]


def test_challenge_407_stale_with_opaque() -> None:
    response = make_server(opaque="op1").challenge(make_request(), NOW, proxy=True, stale=True)
    assert response.status_code == 407
    assert "WWW-Authenticate" not in response.headers
    challenge = Challenge.parse(response.headers.get_all("Proxy-Authenticate")[0])
    assert challenge.param("stale") == "true"
    assert challenge.param("opaque") == "op1"


def test_challenge_keeps_existing_to_tag() -> None:
    request = make_request()
    request.headers.set("To", "<sip:1018@127.0.0.203>;tag=dialog1")
    response = make_server().challenge(request, NOW, proxy=False)
    assert response.to.tag == "dialog1"


@pytest.mark.parametrize(("algorithms", "validity"), [((), 60.0), (("SHA-1",), 60.0),
                                                      (("MD5",), 0.0)])
def test_server_rejects_bad_settings(algorithms: tuple[str, ...], validity: float) -> None:
    with pytest.raises(SipUsageError):
        DigestServer(REALM, NonceSigner(SECRET), validity, algorithms)


# --- round trips -----------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
def test_round_trip_each_algorithm(algorithm: str) -> None:
    server = make_server()
    request = make_request(cseq=7)
    answer = authorized(server, client_for("1018", "s3cret", (algorithm,)), request)
    credentials = Credentials.parse(answer.headers.get("Authorization") or "")
    assert credentials.algorithm == algorithm
    assert credentials.qop == "auth"
    assert credentials.nc == "00000001"
    assert credentials.uri == "sip:1018@127.0.0.203"
    assert answer.cseq == CSeq(8, "REGISTER")
    result = server.verify(answer, lookup, NOW + 1, proxy=False)
    assert result.outcome is AuthOutcome.OK, result.reason
    assert result.ok
    assert result.username == "1018"


def test_client_prefers_sha256() -> None:
    answer = authorized(make_server(), client_for("1018", "s3cret"), make_request())
    assert Credentials.parse(answer.headers.get("Authorization") or "").algorithm == "SHA-256"


def test_client_leaves_original_request_alone() -> None:
    request = make_request()
    before = request.to_bytes()
    authorized(make_server(), client_for("1018", "s3cret"), request)
    assert request.to_bytes() == before


def test_round_trip_proxy_headers() -> None:
    server = make_server()
    answer = authorized(server, client_for("1018", "s3cret"), make_request("INVITE"), proxy=True)
    assert "Authorization" not in answer.headers
    assert "Proxy-Authorization" in answer.headers
    assert server.verify(answer, lookup, NOW, proxy=False).outcome is AuthOutcome.MISSING
    assert server.verify(answer, lookup, NOW, proxy=True).outcome is AuthOutcome.OK


def test_round_trip_with_opaque() -> None:
    server = make_server(opaque="op1")
    answer = authorized(server, client_for("1018", "s3cret"), make_request())
    assert Credentials.parse(answer.headers.get("Authorization") or "").opaque == "op1"
    assert server.verify(answer, lookup, NOW, proxy=False).outcome is AuthOutcome.OK


def test_round_trip_sess_algorithm() -> None:
    server = make_server(("SHA-256-sess",))
    answer = authorized(server, client_for("1018", "s3cret"), make_request())
    credentials = Credentials.parse(answer.headers.get("Authorization") or "")
    assert credentials.algorithm == "SHA-256-sess"
    assert server.verify(answer, lookup, NOW, proxy=False).outcome is AuthOutcome.OK


def test_round_trip_without_qop() -> None:
    server = make_server()
    server.require_qop = False
    request = make_request()
    nonce = NonceSigner(SECRET).make(NOW)
    challenge = make_response(request, 401, to_tag="t1")
    challenge.headers.add("WWW-Authenticate", f'Digest realm="{REALM}", nonce="{nonce}"')
    answer = client_for("1018", "s3cret").authorize(request, challenge)
    assert answer is not None
    credentials = Credentials.parse(answer.headers.get("Authorization") or "")
    assert credentials.qop is None
    assert credentials.cnonce is None
    assert credentials.algorithm == "MD5"
    assert server.verify(on_the_wire(answer), lookup, NOW, proxy=False).outcome is AuthOutcome.OK


# --- verify failures -------------------------------------------------------


def test_stale_nonce_with_right_password() -> None:
    server = make_server()
    answer = authorized(server, client_for("1018", "s3cret"), make_request())
    result = server.verify(answer, lookup, NOW + VALIDITY + 1, proxy=False)
    assert result.outcome is AuthOutcome.STALE
    assert "older than 600 seconds" in result.reason


def test_stale_nonce_with_wrong_password_is_bad_response() -> None:
    server = make_server()
    answer = authorized(server, client_for("1018", "wrong"), make_request())
    result = server.verify(answer, lookup, NOW + VALIDITY + 1, proxy=False)
    assert result.outcome is AuthOutcome.BAD_RESPONSE


def test_forged_nonce() -> None:
    server = make_server()
    answer = authorized(server, client_for("1018", "s3cret"), make_request())
    credentials = Credentials.parse(answer.headers.get("Authorization") or "")
    forged = NonceSigner(b"an attacker's secret, 32 bytes..").make(NOW)
    fake = Credentials(credentials.username, credentials.realm, forged, credentials.uri, "",
                       credentials.algorithm, credentials.cnonce, credentials.nc,
                       credentials.qop)
    request = with_credentials(answer, signed(fake, "REGISTER", "s3cret"))
    result = server.verify(request, lookup, NOW, proxy=False)
    assert result.outcome is AuthOutcome.BAD_RESPONSE
    assert "was not issued by this realm" in result.reason


def test_wrong_password() -> None:
    server = make_server()
    answer = authorized(server, client_for("1018", "wrong"), make_request())
    result = server.verify(answer, lookup, NOW, proxy=False)
    assert result.outcome is AuthOutcome.BAD_RESPONSE
    assert result.username == "1018"
    assert result.reason == ("Digest response for user 1018 does not match: wrong password, "
                             "or a stored HA1 made for another realm.")


def test_unknown_user() -> None:
    server = make_server()
    answer = authorized(server, client_for("7777", "s3cret"), make_request())
    result = server.verify(answer, lookup, NOW, proxy=False)
    assert result.outcome is AuthOutcome.UNKNOWN_USER
    assert result.username == "7777"
    assert "7777" in result.reason


def test_wrong_realm() -> None:
    other = make_server(realm="cucm10.example")
    answer = authorized(other, client_for("1018", "s3cret"), make_request())
    result = make_server().verify(answer, lookup, NOW, proxy=False)
    assert result.outcome is AuthOutcome.WRONG_REALM
    assert "'cucm10.example'" in result.reason
    assert REALM in result.reason


def test_credentials_of_other_realms_skipped() -> None:
    server = make_server()
    answer = authorized(server, client_for("1018", "s3cret"), make_request())
    headers = answer.headers.copy()
    headers.insert_first("Authorization", 'Digest username="x", realm="elsewhere", nonce="n", '
                                          'uri="sip:x@y", response="00"')
    request = Request(answer.method, answer.uri, headers)
    assert server.verify(request, lookup, NOW, proxy=False).outcome is AuthOutcome.OK


def test_replayed_nonce_count() -> None:
    server = make_server()
    answer = authorized(server, client_for("1018", "s3cret"), make_request())
    assert server.verify(answer, lookup, NOW, proxy=False).outcome is AuthOutcome.OK
    result = server.verify(answer, lookup, NOW, proxy=False)
    assert result.outcome is AuthOutcome.BAD_RESPONSE
    assert "nc=00000001" in result.reason
    assert "replayed" in result.reason


def test_higher_nonce_count_accepted_after_first() -> None:
    server = make_server()
    answer = authorized(server, client_for("1018", "s3cret"), make_request())
    assert server.verify(answer, lookup, NOW, proxy=False).ok
    first = Credentials.parse(answer.headers.get("Authorization") or "")
    second = Credentials(first.username, first.realm, first.nonce, first.uri, "",
                         first.algorithm, first.cnonce, "00000002", "auth")
    request = with_credentials(answer, signed(second, "REGISTER", "s3cret"))
    assert server.verify(request, lookup, NOW, proxy=False).outcome is AuthOutcome.OK
    assert server.verify(answer, lookup, NOW, proxy=False).outcome is AuthOutcome.BAD_RESPONSE


def test_nonce_count_map_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digest, "MAX_TRACKED_NONCES", 2)
    server = make_server()
    client = client_for("1018", "s3cret")
    answers = [authorized(server, client, make_request()) for _ in range(3)]
    for answer in answers:
        assert server.verify(answer, lookup, NOW, proxy=False).ok
    assert len(server._highest_nc) == 2
    # The oldest nonce was evicted, so its replay is no longer detected.
    # That is the price of the bound; the nonce still expires after VALIDITY.
    assert server.verify(answers[0], lookup, NOW, proxy=False).ok
    assert not server.verify(answers[2], lookup, NOW, proxy=False).ok


@pytest.mark.parametrize("uri", ["sip:1018@127.0.0.204", "sip:9898@127.0.0.203",
                                 "sip:1018@127.0.0.203;transport=tls"])
def test_digest_uri_mismatch(uri: str) -> None:
    server = make_server()
    answer = authorized(server, client_for("1018", "s3cret"), make_request())
    first = Credentials.parse(answer.headers.get("Authorization") or "")
    moved = Credentials(first.username, first.realm, first.nonce, uri, "", first.algorithm,
                        first.cnonce, first.nc, first.qop)
    request = with_credentials(answer, signed(moved, "REGISTER", "s3cret"))
    result = server.verify(request, lookup, NOW, proxy=False)
    assert result.outcome is AuthOutcome.BAD_REQUEST
    assert uri in result.reason
    assert "Request-URI" in result.reason


def test_digest_uri_scheme_case_matches() -> None:
    server = make_server()
    answer = authorized(server, client_for("1018", "s3cret"), make_request())
    first = Credentials.parse(answer.headers.get("Authorization") or "")
    upper = Credentials(first.username, first.realm, first.nonce, " SIP:1018@127.0.0.203 ", "",
                        first.algorithm, first.cnonce, first.nc, first.qop)
    request = with_credentials(answer, signed(upper, "REGISTER", "s3cret"))
    assert server.verify(request, lookup, NOW, proxy=False).outcome is AuthOutcome.OK


def test_method_bound_into_response() -> None:
    server = make_server()
    answer = authorized(server, client_for("1018", "s3cret"), make_request("OPTIONS"))
    headers = answer.headers.copy()
    headers.set("CSeq", "2 INVITE")
    request = Request("INVITE", answer.uri, headers)
    assert server.verify(request, lookup, NOW, proxy=False).outcome is AuthOutcome.BAD_RESPONSE


def test_missing_header() -> None:
    result = make_server().verify(make_request(), lookup, NOW, proxy=False)
    assert result.outcome is AuthOutcome.MISSING
    assert result.username is None
    assert result.reason == "The REGISTER request carries no Digest Authorization header."


def test_basic_credentials_count_as_missing() -> None:
    request = make_request()
    request.headers.add("Authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")
    assert make_server().verify(request, lookup, NOW, proxy=False).outcome is AuthOutcome.MISSING


@pytest.mark.parametrize(("value", "fragment"), [
    ('Digest realm="cucma.example", nonce="n", uri="sip:1018@127.0.0.203", response="00"',
     "'username' is missing"),
    ('Digest username="1018", realm="cucma.example", nonce="n", uri="sip:1018@127.0.0.203", '
     'response="00", qop=auth, cnonce="c", nc=xyz', "nc='xyz'"),
    ('Digest username="1018", realm="cucma.example', "malformed"),
])
def test_malformed_header_is_bad_request(value: str, fragment: str) -> None:
    request = make_request()
    request.headers.add("Authorization", value)
    result = make_server().verify(request, lookup, NOW, proxy=False)
    assert result.outcome is AuthOutcome.BAD_REQUEST
    assert fragment in result.reason


@pytest.mark.parametrize(("field", "value", "fragment"), [
    ("algorithm", "SHA-512-256", "'SHA-512-256' is not accepted"),
    ("qop", "auth-int", "qop 'auth-int' is not supported"),
])
def test_unsupported_parameters_are_bad_request(field: str, value: str, fragment: str) -> None:
    server = make_server()
    answer = authorized(server, client_for("1018", "s3cret"), make_request())
    text = answer.headers.get("Authorization") or ""
    current = "SHA-256" if field == "algorithm" else "auth"
    answer.headers.set("Authorization", text.replace(f"{field}={current}", f"{field}={value}"))
    result = server.verify(answer, lookup, NOW, proxy=False)
    assert result.outcome is AuthOutcome.BAD_REQUEST
    assert fragment in result.reason


def test_md5_rejected_by_sha256_server() -> None:
    answer = authorized(make_server(("MD5",)), client_for("1018", "s3cret"), make_request())
    result = make_server(("SHA-256",)).verify(answer, lookup, NOW, proxy=False)
    assert result.outcome is AuthOutcome.BAD_REQUEST
    assert "use one of SHA-256" in result.reason


def test_wrong_opaque_is_bad_request() -> None:
    answer = authorized(make_server(opaque="a"), client_for("1018", "s3cret"), make_request())
    result = make_server(opaque="b").verify(answer, lookup, NOW, proxy=False)
    assert result.outcome is AuthOutcome.BAD_REQUEST
    assert "opaque" in result.reason


# --- client ----------------------------------------------------------------


def test_client_without_credentials_returns_none() -> None:
    client = DigestClient("1018", lambda realm, algorithm: None)
    response = make_server().challenge(make_request(), NOW, proxy=False)
    assert client.authorize(make_request(), response) is None


def test_client_ignores_unusable_challenges() -> None:
    request = make_request()
    response = make_response(request, 401, to_tag="t1")
    for value in ['Basic realm="r"', 'Digest realm="r", nonce="n", algorithm=SHA-512',
                  'Digest realm="r", nonce="n", qop="auth-int"', 'Digest realm="r',
                  'Digest nonce="n"']:
        response.headers.add("WWW-Authenticate", value)
    assert client_for("1018", "s3cret").authorize(request, response) is None


def test_client_rejects_non_challenge() -> None:
    with pytest.raises(SipUsageError, match="Response 200 is not a 401 or 407"):
        client_for("1018", "s3cret").authorize(make_request(), Response(200, "OK"))


def test_client_gives_up_after_rejection() -> None:
    server = make_server()
    client = client_for("1018", "wrong")
    answer = authorized(server, client, make_request())
    again = server.challenge(answer, NOW, proxy=False)
    assert client.authorize(answer, again) is None


def test_client_retries_stale_challenge() -> None:
    server = make_server()
    client = client_for("1018", "s3cret")
    answer = authorized(server, client, make_request(cseq=1))
    stale = server.challenge(answer, NOW + VALIDITY + 1, proxy=False, stale=True)
    retry = client.authorize(answer, stale)
    assert retry is not None
    assert retry.cseq == CSeq(3, "REGISTER")
    assert len(retry.headers.get_all("Authorization")) == 1
    verdict = server.verify(on_the_wire(retry), lookup, NOW + VALIDITY + 1, proxy=False)
    assert verdict.outcome is AuthOutcome.OK


def test_client_covers_each_proxy_realm() -> None:
    request = make_request("INVITE")
    first = make_server(realm="proxy-a").challenge(request, NOW, proxy=True)
    second = make_server(realm="proxy-b").challenge(request, NOW, proxy=True)
    for value in second.headers.get_all("Proxy-Authenticate"):
        first.headers.add("Proxy-Authenticate", value)
    answer = client_for("1018", "s3cret").authorize(request, first)
    assert answer is not None
    realms = [Credentials.parse(v, "Proxy-Authorization").realm
              for v in answer.headers.get_all("Proxy-Authorization")]
    assert realms == ["proxy-a", "proxy-b"]
    for realm in realms:
        result = make_server(realm=realm).verify(on_the_wire(answer), lookup, NOW, proxy=True)
        assert result.outcome is AuthOutcome.OK


def test_client_rejects_cseq_overflow() -> None:
    request = make_request(cseq=2**31 - 1)
    challenge = make_server().challenge(request, NOW, proxy=False)
    with pytest.raises(SipUsageError, match="2147483647"):
        client_for("1018", "s3cret").authorize(request, challenge)


def test_response_without_qop_refused_by_default() -> None:
    server = make_server()
    request = make_request()
    nonce = NonceSigner(SECRET).make(NOW)
    challenge = make_response(request, 401, to_tag="t1")
    challenge.headers.add("WWW-Authenticate", f'Digest realm="{REALM}", nonce="{nonce}"')
    answer = client_for("1018", "s3cret").authorize(request, challenge)
    assert answer is not None
    result = server.verify(on_the_wire(answer), lookup, NOW, proxy=False)
    assert result.outcome is AuthOutcome.BAD_REQUEST
    assert "qop=auth" in result.reason
