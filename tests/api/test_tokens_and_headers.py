"""Tokens must expire and name a real id; every answer carries the security headers."""

from __future__ import annotations

import jwt
from fastapi.testclient import TestClient

from api.security import ALGORITHM
from models.settings import get_settings
from tests.factories import PASSWORD


def _token(**claims: object) -> str:
    return jwt.encode(claims, get_settings().effective_secret_key, algorithm=ALGORITHM)


def test_a_token_without_exp_or_with_an_impossible_id_is_refused(client: TestClient, users: dict) -> None:
    staff = users["clerk"]
    login = client.post("/api/v1/auth/token", data={"username": "clerk", "password": PASSWORD})
    sid = jwt.decode(login.json()["access_token"], options={"verify_signature": False})["sid"]
    # Signed with the real key and naming a live session, so only the missing expiry, the id or the
    # missing session can make it fail.
    forever = _token(sub=str(staff), sid=sid, purpose="api")
    huge = _token(sub=str(2**70), sid=sid, purpose="api", exp=4102444800)
    no_session = _token(sub=str(staff), purpose="api", exp=4102444800)
    good = _token(sub=str(staff), sid=sid, purpose="api", exp=4102444800)
    assert client.get("/api/v1/cases", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    for token in (forever, huge, no_session):
        response = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, response.text


def test_security_headers_on_api_pages_and_errors(client: TestClient) -> None:
    for path in ("/healthz", "/login", "/api/v1/cases", "/no-such-page"):
        headers = client.get(path).headers
        assert headers["x-content-type-options"] == "nosniff", path
        assert headers["x-frame-options"] == "DENY", path
        assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        assert "script-src 'self';" in headers["content-security-policy"], path
        assert headers["referrer-policy"] == "same-origin", path
        # Plain HTTP here: HSTS is only sent behind HTTPS.
        assert "strict-transport-security" not in headers, path


def test_hsts_behind_https(app) -> None:
    with TestClient(app, base_url="https://tiaojie.example") as secure:
        assert secure.get("/healthz").headers["strict-transport-security"] == "max-age=31536000"
