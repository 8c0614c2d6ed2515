"""Console sign-in: argon2id hashes, cookie flags, idle and absolute expiry, disabling, throttling."""

from __future__ import annotations

from datetime import timedelta

import pytest

from agent.console.auth import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT, check_password, hash_password, safe_next
from agent.store.console_users import ConsoleStore, UserError
from tests.console.conftest import PASSWORD, Console


def test_passwords_are_argon2id_and_checked_in_constant_work() -> None:
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    with pytest.raises(ValueError, match="at least 12"):
        hash_password("short")
    assert check_password(None, PASSWORD) is False


def test_login_sets_a_secure_httponly_lax_cookie_and_logout_revokes_it(console: Console) -> None:
    client = console.login("collector")
    cookie = next(c for c in client.cookies.jar if c.name == "bl_session")
    assert cookie.secure  # PUBLIC_BASE_URL is https in the harness
    assert cookie.has_nonstandard_attr("HttpOnly")
    page = client.get("/console/transfers")
    assert page.status_code == 200
    raw = console.login("collector").get("/console/transfers")
    assert raw.status_code == 200
    token = cookie.value
    from tests.console.conftest import csrf_of

    client.post("/console/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    replay = console.browser()
    replay.cookies.set("bl_session", token, domain="billing.example.com")
    assert replay.get("/console/transfers", follow_redirects=False).status_code == 401
    replay.cookies.clear()
    replay.cookies.set(
        "bl_session", console.login("collector").cookies["bl_session"], domain="billing.example.com"
    )
    assert replay.get("/console/transfers", follow_redirects=False).status_code == 200


def test_set_cookie_header_flags(console: Console) -> None:
    resp = console.try_login(console.browser(), "admin")
    header = next(h for h in resp.headers.get_list("set-cookie") if h.startswith("bl_session=")).lower()
    assert "httponly" in header and "samesite=lax" in header and "secure" in header and "path=/" in header


def test_wrong_password_unknown_user_and_disabled_user_are_refused(console: Console) -> None:
    with pytest.raises(AssertionError):
        console.login("admin", "not the password at all")
    with pytest.raises(AssertionError):
        console.login("nobody-here")
    console.add_user("temp.collector", "collector")
    client = console.login("temp.collector")
    assert client.get("/console/transfers").status_code == 200
    store = ConsoleStore(console.app.runtime.sessions, console.app.clock)
    console.app.run(store.set_disabled("temp.collector", True, actor="test"))
    assert client.get("/console/worklist", follow_redirects=False).status_code == 401  # signed out at once
    with pytest.raises(AssertionError):
        console.login("temp.collector")
    with pytest.raises(UserError, match="already exists"):
        console.add_user("temp.collector", "collector")
    with pytest.raises(UserError, match="role"):
        console.add_user("someone", "owner")


def test_sessions_expire_when_idle_and_absolutely(console: Console) -> None:
    client = console.login("billing_manager")
    clock = console.app.clock
    start = clock.now
    try:
        clock.advance(seconds=IDLE_TIMEOUT.total_seconds() - 60)
        assert client.get("/api/transfers").status_code == 200  # activity refreshes the idle timer
        clock.advance(seconds=IDLE_TIMEOUT.total_seconds() - 60)
        assert client.get("/api/transfers").status_code == 200
        clock.advance(seconds=IDLE_TIMEOUT.total_seconds() + 1)
        assert client.get("/api/transfers").status_code == 401  # idle too long

        clock.now = start
        busy = console.login("billing_manager")
        steps = int(ABSOLUTE_TIMEOUT / timedelta(minutes=20))
        for _ in range(steps - 1):
            clock.advance(minutes=20)
            assert busy.get("/api/transfers").status_code == 200
        clock.advance(minutes=25)
        assert busy.get("/api/transfers").status_code == 401  # never longer than the absolute limit
    finally:
        clock.now = start


def test_failed_logins_are_throttled_per_username(console: Console) -> None:
    console.add_user("throttle-me", "collector")
    client = console.browser()
    statuses = [
        console.try_login(client, "throttle-me", "wrong password here").status_code for _ in range(12)
    ]
    assert statuses[:10] == [401] * 10 and statuses[-1] == 429
    assert console.try_login(client, "throttle-me").status_code == 429  # even the right password, for a while
    assert console.try_login(console.browser(), "collector").status_code == 303  # others sign in as usual


def test_login_redirects_only_inside_the_console() -> None:
    assert safe_next("/console/accounts/7") == "/console/accounts/7"
    for bad in ("https://evil.example", "//evil.example/console/", "/api/accounts", "/console\\..\\x", None):
        assert safe_next(bad) == "/console/worklist"


def test_no_users_yet_the_login_page_says_how_to_create_the_first_admin(console: Console) -> None:
    # the module's app has users; a brand-new store has none
    store = ConsoleStore(console.app.runtime.sessions, console.app.clock)
    assert console.app.run(store.count_users()) >= 3
    assert "balanceline users add" not in console.client.get("/console/login").text


@pytest.mark.postgres
@pytest.mark.redis
def test_users_sessions_and_throttling_on_postgresql_and_redis(console_services: Console) -> None:
    c = console_services
    client = c.login("billing_manager")
    assert client.get("/api/audit").status_code == 200
    assert c.login("collector").get("/api/audit").status_code == 403
    store = ConsoleStore(c.app.runtime.sessions, c.app.clock)
    c.app.run(store.set_disabled("billing_manager", True, actor="test"))
    assert client.get("/api/audit").status_code == 401
    events = c.app.run(c.app.runtime.records.list_audit(limit=50))
    kinds = {e["kind"] for e in events}
    assert {"console.user_added", "console.login", "console.user_disabled"} <= kinds
