"""X-Twilio-Signature verification: the §3 vectors, URL rebuilding, and the FastAPI helper."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.testclient import TestClient

from telephony.signatures import SignatureInvalid, TwilioSignatureVerifier, raw_path_and_query, verified_form
from tests.fakes.twilio_signing import (
    apost_signed_form,
    post_signed_form,
    sign_form,
    sign_json,
    sign_ws,
    signature,
)

# §3 test vectors (checked there against twilio-python's RequestValidator).
TOKEN = "12345"
FORM_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
FORM_SIG = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
JSON_BODY = b'{"CallSid":"CA1234567890ABCDE","Caller":"+12349013030"}'
JSON_HASH = "5ccde7145dfb8f56479710896586cb9d5911809d83afbe34627818790db0aec9"
JSON_SIG = "hPXmLwIy3Fgqv1i9KPmH/HhQ6zo="
WS_SIG = "7PR3qMkpDyEJtMrVOY/LDyNq8J8="


def test_signing_helper_reproduces_the_vectors() -> None:
    assert signature(TOKEN, "https://mycompany.com/myapp.php?foo=1&bar=2", FORM_PARAMS) == FORM_SIG
    url, headers = sign_json(TOKEN, "https://example.com/myapp", JSON_BODY)
    assert url == f"https://example.com/myapp?bodySHA256={JSON_HASH}"
    assert headers["X-Twilio-Signature"] == JSON_SIG
    assert sign_ws(TOKEN, "wss://example.com/media") == {"x-twilio-signature": WS_SIG}


def test_form_vector_valid() -> None:
    verifier = TwilioSignatureVerifier(TOKEN, "https://mycompany.com")
    assert verifier.verify_form("/myapp.php?foo=1&bar=2", FORM_PARAMS, FORM_SIG)


def test_form_vector_valid_with_explicit_443() -> None:
    verifier = TwilioSignatureVerifier(TOKEN, "https://mycompany.com:443")
    assert verifier.verify_form("/myapp.php?foo=1&bar=2", FORM_PARAMS, FORM_SIG)


def test_form_vector_signed_with_443_is_valid_without_it() -> None:
    sig = signature(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", FORM_PARAMS)
    verifier = TwilioSignatureVerifier(TOKEN, "https://mycompany.com")
    assert verifier.verify_form("/myapp.php?foo=1&bar=2", FORM_PARAMS, sig)


def test_form_vector_http_scheme_invalid() -> None:
    verifier = TwilioSignatureVerifier(TOKEN, "http://mycompany.com")
    assert not verifier.verify_form("/myapp.php?foo=1&bar=2", FORM_PARAMS, FORM_SIG)


def test_form_vector_reordered_query_invalid() -> None:
    verifier = TwilioSignatureVerifier(TOKEN, "https://mycompany.com")
    assert not verifier.verify_form("/myapp.php?bar=2&foo=1", FORM_PARAMS, FORM_SIG)


def test_form_vector_missing_param_invalid() -> None:
    verifier = TwilioSignatureVerifier(TOKEN, "https://mycompany.com")
    partial = {k: v for k, v in FORM_PARAMS.items() if k != "Digits"}
    assert not verifier.verify_form("/myapp.php?foo=1&bar=2", partial, FORM_SIG)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: {**p, "AddedLater": "x"},  # a param Twilio did not sign
        lambda p: {**p, "Digits": "1235"},  # a tampered value
        lambda p: {**p, "Digits": "1234 "},  # values must not be trimmed (or padded)
    ],
)
def test_form_any_param_change_invalid(mutate: Callable[[dict[str, str]], dict[str, str]]) -> None:
    verifier = TwilioSignatureVerifier(TOKEN, "https://mycompany.com")
    assert not verifier.verify_form("/myapp.php?foo=1&bar=2", mutate(FORM_PARAMS), FORM_SIG)


def test_form_wrong_token_or_missing_signature_invalid() -> None:
    assert not TwilioSignatureVerifier("54321", "https://mycompany.com").verify_form(
        "/myapp.php?foo=1&bar=2", FORM_PARAMS, FORM_SIG
    )
    verifier = TwilioSignatureVerifier(TOKEN, "https://mycompany.com")
    assert not verifier.verify_form("/myapp.php?foo=1&bar=2", FORM_PARAMS, None)
    assert not verifier.verify_form("/myapp.php?foo=1&bar=2", FORM_PARAMS, "")


def test_form_repeated_params_all_values_signed() -> None:
    params = {"To": "+18005551212", "MediaUrl": ["https://a.example/1.jpg", "https://a.example/2.jpg"]}
    sig = signature(TOKEN, "https://agent.example.com/twilio/sms/inbound", params)
    verifier = TwilioSignatureVerifier(TOKEN, "https://agent.example.com")
    assert verifier.verify_form("/twilio/sms/inbound", params, sig)
    assert not verifier.verify_form(
        "/twilio/sms/inbound", {**params, "MediaUrl": ["https://a.example/1.jpg"]}, sig
    )


def test_json_vector_valid() -> None:
    verifier = TwilioSignatureVerifier(TOKEN, "https://example.com")
    assert verifier.verify_json(f"/myapp?bodySHA256={JSON_HASH}", JSON_BODY, JSON_SIG)


def test_json_tampered_body_or_missing_hash_invalid() -> None:
    verifier = TwilioSignatureVerifier(TOKEN, "https://example.com")
    assert not verifier.verify_json(f"/myapp?bodySHA256={JSON_HASH}", JSON_BODY + b" ", JSON_SIG)
    assert not verifier.verify_json("/myapp", JSON_BODY, signature(TOKEN, "https://example.com/myapp"))
    assert not verifier.verify_json(f"/myapp?bodySHA256={JSON_HASH}", JSON_BODY, None)


def test_ws_vector_and_public_ws_url() -> None:
    verifier = TwilioSignatureVerifier(TOKEN, "https://example.com")
    url = verifier.public_ws_url("/media")
    assert url == "wss://example.com/media"
    assert verifier.verify_ws(url, WS_SIG)
    assert not verifier.verify_ws("https://example.com/media", WS_SIG)
    assert not verifier.verify_ws(url, None)


def test_verifier_rejects_bad_configuration() -> None:
    with pytest.raises(ValueError):
        TwilioSignatureVerifier("", "https://example.com")
    with pytest.raises(ValueError):
        TwilioSignatureVerifier(TOKEN, "example.com")
    with pytest.raises(ValueError):
        TwilioSignatureVerifier(TOKEN, "https://example.com").public_url("no-leading-slash")


def test_raw_path_and_query_keeps_the_request_target() -> None:
    scope = {"path": "/a b", "raw_path": b"/a%20b", "query_string": b"z=1&a=%2F"}
    assert raw_path_and_query(scope) == "/a%20b?z=1&a=%2F"
    assert raw_path_and_query({"path": "/plain", "query_string": b""}) == "/plain"


# ------------------------------------------------------------------ the FastAPI helper, end to end
PUBLIC = "https://billing.example.com"
AUTH = "live-token-abc"


def _app() -> FastAPI:
    app = FastAPI()
    verifier = TwilioSignatureVerifier(AUTH, PUBLIC)

    @app.exception_handler(SignatureInvalid)
    async def _forbidden(request: Request, exc: SignatureInvalid) -> JSONResponse:
        return JSONResponse({"detail": "forbidden"}, status_code=403)

    @app.post("/twilio/{rest:path}")
    async def hook(request: Request) -> dict[str, object]:
        form = await verified_form(request, verifier)
        again = await request.form()  # the body was read once and stays available
        return {"form": form, "n": len(again.multi_items())}

    return app


INBOUND = {
    "MessageSid": "SM" + "1" * 32,
    "AccountSid": "AC" + "2" * 32,
    "From": "+15551230001",
    "To": "+15005550006",
    "Body": "  Stop ",
    "NumMedia": "0",
}


def test_verified_form_accepts_a_signed_webhook() -> None:
    with TestClient(_app()) as client:
        response = post_signed_form(client, AUTH, PUBLIC, "/twilio/sms/inbound", INBOUND)
    assert response.status_code == 200
    assert response.json() == {"form": INBOUND, "n": len(INBOUND)}


def test_verified_form_uses_raw_query_and_encoded_path() -> None:
    target = "/twilio/voice/whisper/tr%2F42?b=2&a=%20x"
    with TestClient(_app()) as client:
        assert post_signed_form(client, AUTH, PUBLIC, target, INBOUND).status_code == 200


def test_verified_form_rejects_unsigned_tampered_and_http_signed() -> None:
    with TestClient(_app()) as client:
        unsigned = client.post("/twilio/sms/inbound", data=INBOUND)
        headers = sign_form(AUTH, PUBLIC + "/twilio/sms/inbound", INBOUND)
        tampered = client.post("/twilio/sms/inbound", data={**INBOUND, "Body": "YES"}, headers=headers)
        as_seen_behind_proxy = post_signed_form(
            client, AUTH, "http://billing.example.com", "/twilio/sms/inbound", INBOUND
        )
        other_path = client.post("/twilio/sms/status", data=INBOUND, headers=headers)
    assert [r.status_code for r in (unsigned, tampered, as_seen_behind_proxy, other_path)] == [403] * 4


def test_verified_form_repeated_fields() -> None:
    params = {**INBOUND, "NumMedia": "2", "MediaUrl0": "https://m.example/0", "Tag": ["b", "a"]}
    with TestClient(_app()) as client:
        ok = post_signed_form(client, AUTH, PUBLIC, "/twilio/sms/inbound", params)
        headers = sign_form(AUTH, PUBLIC + "/twilio/sms/inbound", params)
        dropped = client.post("/twilio/sms/inbound", data={**params, "Tag": "b"}, headers=headers)
    assert ok.status_code == 200 and ok.json()["form"]["Tag"] == "b" and ok.json()["n"] == len(params) + 1
    assert dropped.status_code == 403


async def test_verified_form_over_asgi_with_async_helper() -> None:
    transport = httpx.ASGITransport(app=_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://internal:8000") as client:
        target = "/twilio/sms/status?attempt=2"
        ok = await apost_signed_form(client, AUTH, PUBLIC, target, INBOUND)
        wrong_token = await apost_signed_form(client, "other", PUBLIC, target, INBOUND)
    assert ok.status_code == 200 and ok.json()["form"] == INBOUND
    assert wrong_token.status_code == 403
