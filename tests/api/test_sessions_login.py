"""Sessions and login (issues 12, 24): the login throttle locks an account guessed from one client address
and slows, never locks, a busy address (shared by web processes through Redis); X-Forwarded-For counts only
from a trusted proxy; sessions are server-side and revocable, cookies are Secure over HTTPS."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.main import behind_proxies, create_app
from api.security import ALGORITHM, LoginThrottle
from models.auth_session import open_session
from models.db import make_engine, session_scope, utcnow
from models.settings import get_settings
from tests.factories import PASSWORD, add_user
from tests.pages.conftest import csrf_of, login

TOKEN = "/api/v1/auth/token"
ATTACKER = ("203.0.113.66", 40000)
OWNER = ("198.51.100.7", 40001)
REDIS_URL = os.environ.get("TIAOJIE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _client(app, address: tuple[str, int], **kw) -> TestClient:
    return TestClient(app, client=address, follow_redirects=False, **kw)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Clock:
    """The login throttle's clock, moved by the test instead of waiting."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(app) -> Clock:
    clock = Clock()
    app.state.login_throttle = LoginThrottle(get_settings().rate_limit_storage, clock=clock)
    return clock


@pytest.fixture
def trusted_local_proxy(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`tiaojie serve` behind a reverse proxy on the same machine."""
    monkeypatch.setenv("TIAOJIE_TRUSTED_PROXIES", "127.0.0.1")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("TIAOJIE_TRUSTED_PROXIES")
    get_settings.cache_clear()


def _token(client: TestClient, username: str, password: str = PASSWORD) -> str:
    response = client.post(TOKEN, data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


# --- Throttle ------------------------------------------------------------------------------------


def test_guessing_from_one_address_does_not_lock_the_owner_out(app, users) -> None:
    with _client(app, ATTACKER) as attacker, _client(app, OWNER) as owner:
        for attempt in range(5):
            r = attacker.post(TOKEN, data={"username": "admin", "password": f"guess-{attempt}"})
            assert r.status_code == 401, r.text
        # The sixth try is refused before the password is even looked at: the right one too.
        r = attacker.post(TOKEN, data={"username": "admin", "password": PASSWORD})
        assert r.status_code == 429
        # A 15-minute moving window that started seconds ago: about 15 minutes to wait.
        assert r.json()["detail"] == "密码错误次数过多，请15分钟后再试"
        assert 840 < int(r.headers["Retry-After"]) <= 900
        # The login page is throttled the same way (same counter: account and address).
        page = login(attacker, "admin")
        assert page.status_code == 429 and "密码错误次数过多，请15分钟后再试" in page.text
        # The real admin, elsewhere, logs in by the API and by the page.
        assert owner.get("/api/v1/auth/me", headers=_bearer(_token(owner, "admin"))).json()["username"] == (
            "admin"
        )
        assert login(owner, "admin").status_code == 303
        # The attacker may still log in to another account (their own) from their address.
        assert attacker.post(TOKEN, data={"username": "clerk", "password": PASSWORD}).status_code == 200


def test_the_login_page_counts_wrong_passwords_too(app, users) -> None:
    with _client(app, ATTACKER) as attacker, _client(app, OWNER) as owner:
        for attempt in range(5):
            assert login(attacker, "director", f"guess-{attempt}").status_code == 401
        page = login(attacker, "director")
        assert page.status_code == 429 and "分钟后再试" in page.text
        assert attacker.post(TOKEN, data={"username": "director", "password": PASSWORD}).status_code == 429
        assert login(owner, "director").status_code == 303


@pytest.mark.postgres  # issue 24: each reliability point on both databases
def test_spraying_many_accounts_from_one_address_slows_it_without_locking_it(app, users, clock) -> None:
    with _client(app, ATTACKER) as attacker, _client(app, OWNER) as owner:
        # 30 wrong passwords over 30 names (never 5 on one name): each is looked at, each is a plain 401.
        for n in range(30):
            r = attacker.post(TOKEN, data={"username": f"nobody{n}", "password": "guess-guess"})
            assert r.status_code == 401, (n, r.text)
        # An account that has not failed from this address still gets in with its password, there too.
        assert attacker.post(TOKEN, data={"username": "clerk", "password": PASSWORD}).status_code == 200
        with _client(app, ATTACKER) as browser:
            assert login(browser, "director").status_code == 303
        # A name that failed there waits: 25 failures past the free 5, 10 s each.
        r = attacker.post(TOKEN, data={"username": "nobody0", "password": "guess-2"})
        assert r.status_code == 429 and r.headers["Retry-After"] == "250"
        assert r.json()["detail"] == "本地址登录失败次数过多，请5分钟后再试"
        # Each further wrong password from the address makes that wait longer, for the page form too.
        for n in range(30, 33):
            assert attacker.post(TOKEN, data={"username": f"nobody{n}", "password": "x"}).status_code == 401
        with _client(app, ATTACKER) as browser:
            page = login(browser, "nobody1", "guess-2")
        assert page.status_code == 429 and page.headers["Retry-After"] == "280"
        assert "本地址登录失败次数过多，请5分钟后再试" in page.text
        # Another address is not slowed at all.
        assert owner.post(TOKEN, data={"username": "nobody0", "password": "guess-2"}).status_code == 401
        # Once the wait is over the name may try again (and its right password would get in).
        clock.advance(280)
        r = attacker.post(TOKEN, data={"username": "nobody1", "password": "guess-3"})
        assert r.status_code == 401, r.text


@pytest.mark.postgres  # issue 24: each reliability point on both databases
def test_fifty_staff_behind_one_address_all_log_in_while_a_guesser_there_is_slowed(
    app,
    engine: Engine,
    users,
    clock: Clock,
) -> None:
    """A center behind one NAT address: typos and a guesser at the same address lock nobody else out."""
    names = [f"staff{n:02d}" for n in range(50)]
    for name in names:
        add_user(engine, name, "staff")
    page_users = set(names[:5])  # these log in by the page form (a cookie session each)
    typo_users = ["staff03", "staff17", "staff29", "staff41"]
    nat = ("192.0.2.10", 41000)
    tokens: dict[str, str] = {}
    browsers: dict[str, TestClient] = {}

    def log_in(name: str) -> None:
        if name in page_users:
            page = login(browsers[name], name)
            assert page.status_code == 303 and page.headers["location"] == "/workbench", (name, page.text)
            return
        r = api.post(TOKEN, data={"username": name, "password": PASSWORD})
        assert r.status_code == 200, (name, r.text)
        tokens[name] = r.json()["access_token"]

    def guess(password: str) -> tuple[int, int | None, str]:
        r = guesser.post(TOKEN, data={"username": "admin", "password": password})
        retry = r.headers.get("Retry-After")
        return r.status_code, int(retry) if retry else None, r.json()["detail"]

    with ExitStack() as stack:
        api = stack.enter_context(_client(app, nat))
        guesser = stack.enter_context(_client(app, nat))
        browsers.update({name: stack.enter_context(_client(app, nat)) for name in page_users})
        # Four typos (one on the page form): 401, nothing more.
        for name in typo_users:
            if name in page_users:
                assert login(browsers[name], name, "typo-typo").status_code == 401
            else:
                assert api.post(TOKEN, data={"username": name, "password": "typo"}).status_code == 401
        # The guesser's first two wrong passwords are answered (the address's 5th and 6th failure).
        waiting = iter(names)
        assert guess("guess-1")[0] == 401
        clock.advance(1)
        assert guess("guess-2")[0] == 401
        # From then on the guesser waits 10 s per address failure past 5, growing with each guess,
        # and the right password is refused too while it waits; staff keep logging in meanwhile.
        retry_afters = []
        for attempt in range(3, 6):
            status, retry, detail = guess(PASSWORD)
            assert status == 429 and retry is not None, detail
            retry_afters.append(retry)
            assert detail == f"本地址登录失败次数过多，请{retry}秒后再试"
            page = login(guesser, "admin")
            assert page.status_code == 429 and page.headers["Retry-After"] == str(retry)
            for name in [next(waiting) for _ in range(8)]:
                if name not in typo_users:
                    log_in(name)
            clock.advance(retry)
            assert guess(f"guess-{attempt}")[0] == 401
        assert retry_afters == [10, 20, 30]
        # Five wrong passwords for admin from this address: locked here, as before, until the first of
        # them (61 s ago) leaves the 15-minute window.
        status, retry, detail = guess(PASSWORD)
        assert status == 429 and retry == 900 - 61 and detail == "密码错误次数过多，请14分钟后再试"
        # Everyone else behind the address logs in, the admin from elsewhere too.
        for name in waiting:
            if name not in typo_users:
                log_in(name)
        with _client(app, OWNER) as elsewhere:
            assert elsewhere.post(TOKEN, data={"username": "admin", "password": PASSWORD}).status_code == 200
        # A typo now, the address's 10th failure: that user waits 50 s, then gets in.
        assert api.post(TOKEN, data={"username": "staff49", "password": "typo"}).status_code == 401
        tokens.pop("staff49")
        r = api.post(TOKEN, data={"username": "staff49", "password": PASSWORD})
        assert r.status_code == 429 and r.headers["Retry-After"] == "50"
        clock.advance(50)
        # The earlier typo users' waits are long over: every one of the 50 gets in.
        for name in [*typo_users, "staff49"]:
            log_in(name)
        assert set(tokens) == set(names) - page_users
        for name, token in tokens.items():
            assert api.get("/api/v1/auth/me", headers=_bearer(token)).json()["username"] == name
        for name, browser in browsers.items():
            assert browser.get("/workbench").status_code == 200, name


@pytest.mark.postgres  # issue 24: each reliability point on both databases
def test_forwarded_for_counts_only_from_a_trusted_proxy(app, engine: Engine, users, monkeypatch) -> None:
    local_proxy = ("127.0.0.1", 5000)

    def five_wrong(client: TestClient, username: str, forwarded: str) -> None:
        for attempt in range(5):
            r = client.post(
                TOKEN,
                data={"username": username, "password": f"guess-{attempt}"},
                headers={"X-Forwarded-For": forwarded},
            )
            assert r.status_code == 401, r.text

    def login(client: TestClient, username: str, forwarded: str | None = None) -> int:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return client.post(
            TOKEN, data={"username": username, "password": PASSWORD}, headers=headers
        ).status_code

    # Default settings: the header is anyone's to write, so the peer's own address is what counts.
    assert get_settings().trusted_proxies == ""
    with _client(behind_proxies(app), local_proxy) as direct:
        five_wrong(direct, "director", "203.0.113.1")
        # Another forwarded address changes nothing: the guesses were counted for 127.0.0.1.
        assert login(direct, "director", "203.0.113.2") == 429
    # Behind a trusted proxy the forwarded address is the client's.
    monkeypatch.setenv("TIAOJIE_TRUSTED_PROXIES", "127.0.0.1")
    get_settings.cache_clear()
    try:
        proxied_app = create_app(engine)
        with _client(behind_proxies(proxied_app), local_proxy) as proxy:
            five_wrong(proxy, "director", "203.0.113.1")
            assert login(proxy, "director", "203.0.113.2") == 200
            assert login(proxy, "director", "203.0.113.1") == 429
        # From an address that is not a trusted proxy the header is still ignored.
        with _client(behind_proxies(proxied_app), ATTACKER) as forger:
            five_wrong(forger, "clerk", OWNER[0])
            assert login(forger, "clerk", OWNER[0]) == 429
        with _client(behind_proxies(proxied_app), OWNER) as owner:
            assert login(owner, "clerk") == 200
    finally:
        monkeypatch.delenv("TIAOJIE_TRUSTED_PROXIES")
        get_settings.cache_clear()


@pytest.fixture
def redis_storage(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.RedisError as exc:  # the machine's Redis (started with the machine, and in CI)
        pytest.fail(f"Redis is not running at {REDIS_URL}: {exc}")
    monkeypatch.setenv("TIAOJIE_RATE_LIMIT_STORAGE", REDIS_URL)
    get_settings.cache_clear()
    yield REDIS_URL
    monkeypatch.delenv("TIAOJIE_RATE_LIMIT_STORAGE")
    get_settings.cache_clear()


def test_two_web_processes_share_the_count_through_redis(engine: Engine, redis_storage: str) -> None:
    # A fresh name and address: Redis outlives the test database, and earlier runs left their counts.
    name = f"u{uuid.uuid4().hex[:12]}"
    add_user(engine, name, "staff")
    address = (f"203.0.113.{uuid.uuid4().int % 250 + 1}", 40000)
    # Two apps on two engines over the same database, as two `tiaojie serve` processes would be.
    second_engine = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        first, second = create_app(engine), create_app(second_engine)
        with _client(first, address) as one, _client(second, address) as two:
            for attempt in range(3):
                assert one.post(TOKEN, data={"username": name, "password": f"x-{attempt}"}).status_code == 401
            for attempt in range(2):
                assert two.post(TOKEN, data={"username": name, "password": f"y-{attempt}"}).status_code == 401
            # Five failures in all, three in one process and two in the other: both refuse now.
            assert one.post(TOKEN, data={"username": name, "password": PASSWORD}).status_code == 429
            assert two.post(TOKEN, data={"username": name, "password": PASSWORD}).status_code == 429
            r = login(two, name)
            assert r.status_code == 429 and "分钟后再试" in r.text
        assert first.state.login_throttle.storage_uri == redis_storage
    finally:
        second_engine.dispose()


# --- Server-side sessions ----------------------------------------------------------------------


def test_api_logout_revokes_that_token_only(client: TestClient, users) -> None:
    first, second = _token(client, "clerk"), _token(client, "clerk")
    assert client.get("/api/v1/auth/me", headers=_bearer(first)).status_code == 200
    r = client.post("/api/v1/auth/logout", headers=_bearer(first))
    assert r.status_code == 200 and r.json() == {"logged_out": True}
    assert client.get("/api/v1/auth/me", headers=_bearer(first)).status_code == 401
    assert client.get("/api/v1/cases", headers=_bearer(first)).status_code == 401
    assert client.post("/api/v1/auth/logout", headers=_bearer(first)).status_code == 401
    # The same user's other session is untouched.
    assert client.get("/api/v1/auth/me", headers=_bearer(second)).status_code == 200


def test_page_logout_kills_the_old_cookie(app, users) -> None:
    with _client(app, OWNER) as browser:
        assert login(browser, "clerk").status_code == 303
        old_cookie = browser.cookies.get("tiaojie_session")
        workbench = browser.get("/workbench")
        assert workbench.status_code == 200
        r = browser.post("/logout", data={"csrf_token": csrf_of(workbench.text)})
        assert r.status_code == 303 and r.headers["location"] == "/login"
    # Someone who copied the cookie before the logout gets the login page, not the workbench.
    with _client(app, OWNER, cookies={"tiaojie_session": old_cookie}) as copy:
        r = copy.get("/workbench")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_password_reset_and_change_end_the_old_sessions(app, client: TestClient, users) -> None:
    admin = _bearer(_token(client, "admin"))
    old = _token(client, "clerk")
    with _client(app, OWNER) as browser:
        assert login(browser, "clerk").status_code == 303
        reset = client.post(f"/api/v1/users/{users['clerk']}/password-reset", headers=admin, json={})
        temporary = reset.json()["temporary_password"]
        # Tokens issued before the reset open nothing (401: the session is gone, not "change it first").
        assert client.get("/api/v1/auth/me", headers=_bearer(old)).status_code == 401
        assert browser.get("/workbench").headers["location"].startswith("/login")
    r = client.post(
        "/api/v1/auth/password",
        json={"username": "clerk", "password": temporary, "new_password": "a-new-Passw0rd-42"},
    )
    assert r.status_code == 200, r.text
    fresh = r.json()["access_token"]
    assert client.get("/api/v1/auth/me", headers=_bearer(fresh)).status_code == 200
    assert client.get("/api/v1/auth/me", headers=_bearer(old)).status_code == 401


def test_changing_the_password_on_the_page_keeps_this_browser_only(app, client: TestClient, users) -> None:
    api_token = _token(client, "clerk")
    with _client(app, OWNER) as browser, _client(app, ATTACKER) as other_browser:
        assert login(browser, "clerk").status_code == 303
        assert login(other_browser, "clerk").status_code == 303
        form = browser.get("/password")
        r = browser.post(
            "/password",
            data={
                "csrf_token": csrf_of(form.text),
                "password": PASSWORD,
                "new_password": "another-Passw0rd-7",
                "new_password2": "another-Passw0rd-7",
            },
        )
        assert r.status_code == 303, r.text
        assert browser.get("/workbench").status_code == 200
        assert other_browser.get("/workbench").headers["location"].startswith("/login")
    assert client.get("/api/v1/auth/me", headers=_bearer(api_token)).status_code == 401


def test_disabling_a_user_revokes_every_session(client: TestClient, users) -> None:
    admin = _bearer(_token(client, "admin"))
    staff = _token(client, "clerk")
    assert (
        client.patch(f"/api/v1/users/{users['clerk']}", headers=admin, json={"active": False}).status_code
        == 200
    )
    assert client.get("/api/v1/auth/me", headers=_bearer(staff)).status_code == 401
    # Enabled again, the old token stays dead: the session was revoked, not merely paused.
    assert (
        client.patch(f"/api/v1/users/{users['clerk']}", headers=admin, json={"active": True}).status_code
        == 200
    )
    assert client.get("/api/v1/auth/me", headers=_bearer(staff)).status_code == 401
    assert client.get("/api/v1/auth/me", headers=_bearer(_token(client, "clerk"))).status_code == 200


def test_an_expired_session_is_refused_even_if_the_token_says_otherwise(
    engine: Engine,
    client: TestClient,
    users,
) -> None:
    now = utcnow()
    with session_scope(engine, write=True) as session:
        row = open_session(
            session,
            user_id=users["clerk"],
            purpose="api",
            now=now - timedelta(hours=9),
            ttl=timedelta(hours=8),
        )
        sid = row.id
    # Signed with the real key, expiring in 2100: only the session row's own expiry can refuse it.
    token = jwt.encode(
        {"sub": str(users["clerk"]), "sid": sid, "purpose": "api", "exp": 4102444800},
        get_settings().effective_secret_key,
        algorithm=ALGORITHM,
    )
    assert client.get("/api/v1/auth/me", headers=_bearer(token)).status_code == 401
    unknown = jwt.encode(
        {"sub": str(users["clerk"]), "sid": "no-such-session", "purpose": "api", "exp": 4102444800},
        get_settings().effective_secret_key,
        algorithm=ALGORITHM,
    )
    assert client.get("/api/v1/auth/me", headers=_bearer(unknown)).status_code == 401


# --- Cookies -----------------------------------------------------------------------------------


def _set_cookie(response, name: str) -> str:
    (header,) = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return header.lower()


def test_cookies_are_secure_over_https_only(app, users) -> None:
    with _client(app, OWNER, base_url="https://tiaojie.example") as secure:
        form = secure.get("/login")
        assert "; secure" in _set_cookie(form, "tiaojie_login")
        r = secure.post(
            "/login", data={"username": "clerk", "password": PASSWORD, "csrf_token": csrf_of(form.text)}
        )
        cookie = _set_cookie(r, "tiaojie_session")
        assert "; secure" in cookie and "; httponly" in cookie and "samesite=lax" in cookie
    with _client(app, OWNER) as plain:
        cookie = _set_cookie(login(plain, "clerk"), "tiaojie_session")
        assert "secure" not in cookie and "; httponly" in cookie and "samesite=lax" in cookie


def test_every_cookie_is_secure_over_https(app, users) -> None:
    """The flash message set on logout too, not only the session and login cookies."""
    with _client(app, OWNER, base_url="https://tiaojie.example") as secure:
        assert login(secure, "clerk").status_code == 303
        token = csrf_of(secure.get("/workbench").text)
        out = secure.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert out.status_code == 303, out.text
        assert "; secure" in _set_cookie(out, "tiaojie_flash")
        assert all("; secure" in h.lower() for h in out.headers.get_list("set-cookie"))
    with _client(app, OWNER) as plain:
        assert login(plain, "clerk").status_code == 303
        token = csrf_of(plain.get("/workbench").text)
        out = plain.post("/logout", data={"csrf_token": token}, follow_redirects=False)
        assert "secure" not in _set_cookie(out, "tiaojie_flash")


def test_behind_a_trusted_https_proxy_the_cookie_is_secure(app, users, trusted_local_proxy) -> None:
    # As `tiaojie serve` runs the app: forwarded headers believed from TIAOJIE_TRUSTED_PROXIES only.
    proxied = behind_proxies(app)
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": OWNER[0]}
    with _client(proxied, ("127.0.0.1", 5000), headers=https) as via_proxy:
        form = via_proxy.get("/login")
        login_cookie = _set_cookie(form, "tiaojie_login")
        assert "; secure" in login_cookie
        # The client speaks plain http to the test app, so its cookie jar keeps a Secure cookie to itself:
        # the browser behind the proxy would send it back, and so does this request.
        nonce = form.headers.get_list("set-cookie")[0].split(";")[0]
        r = via_proxy.post(
            "/login",
            data={"username": "clerk", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
            headers={"Cookie": nonce},
        )
        assert r.status_code == 303, r.text
        assert "; secure" in _set_cookie(r, "tiaojie_session")
    # The same headers from an untrusted address are ignored: plain http, no Secure.
    with _client(proxied, ATTACKER, headers=https) as direct:
        assert "secure" not in _set_cookie(login(direct, "clerk"), "tiaojie_session")
