"""Page tests: a TestClient per role, logged in through the real /login form."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.factories import PASSWORD, add_user

# `app` and `experts` come from tests/api_clients.py; the page tests name their users by login.


@pytest.fixture
def users(engine: Engine, experts: dict[str, int]) -> dict[str, int]:
    return {
        "clerk": add_user(engine, "clerk", "staff", display_name="陈晓"),
        "admin": add_user(engine, "admin", "admin", display_name="管理员"),
        "zhoulawyer": add_user(engine, "zhoulawyer", "lawyer", expert_id=experts["lawyer"]),
        "otherlawyer": add_user(engine, "otherlawyer", "lawyer", expert_id=experts["judge"]),
        "director": add_user(engine, "director", "leader", level=1, display_name="中心主任"),
    }


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD):
    page = client.get("/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


@pytest.fixture
def anonymous(app) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client
