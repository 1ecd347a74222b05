"""Shared fixtures: an app on the test database, users of every role, a logged-in client per role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.main import create_app
from tests.factories import PASSWORD, expert_bank
from tests.pages.conftest import login
from tests.support.scenario import USERS, people


@pytest.fixture
def app(engine: Engine):
    return create_app(engine)


@pytest.fixture
def experts(engine: Engine) -> dict[str, int]:
    return expert_bank(engine)


@pytest.fixture
def users(engine: Engine, experts: dict[str, int]) -> dict[str, int]:
    """Everyone in tests.support.scenario.USERS, by login (the clerk is 蔡受理)."""
    return people(engine, *USERS, experts=experts)


class Api:
    """A TestClient logged in as one user (a real token from /auth/token)."""

    def __init__(self, client: TestClient, username: str) -> None:
        self.client = client
        response = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert response.status_code == 200, response.text
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def get(self, path: str, **kw):
        return self.client.get(f"/api/v1{path}", headers=self.headers, **kw)

    def post(self, path: str, json=None, **kw):
        return self.client.post(f"/api/v1{path}", headers=self.headers, json=json, **kw)

    def put(self, path: str, json=None, **kw):
        return self.client.put(f"/api/v1{path}", headers=self.headers, json=json, **kw)

    def patch(self, path: str, json=None, **kw):
        return self.client.patch(f"/api/v1{path}", headers=self.headers, json=json, **kw)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def as_user(client: TestClient, users: dict[str, int]):
    cache: dict[str, Api] = {}

    def login(username: str) -> Api:
        if username not in cache:
            cache[username] = Api(client, username)
        return cache[username]

    return login


@pytest.fixture
def browser_for(app, users) -> Iterator:
    """A page client logged in (through the login form) as the user named, one per call."""
    clients: list[TestClient] = []

    def make(username: str) -> TestClient:
        client = TestClient(app)
        clients.append(client)
        response = login(client, username)
        assert response.status_code == 303, response.text
        return client

    yield make
    for client in clients:
        client.close()
