"""Every /console and /api route refuses anonymous and under-privileged access.

Routes are enumerated from the app itself, so a route added later is covered without editing this
file; a route that no rule of `agent.console.access` names is admin-only (fail closed).
"""

from __future__ import annotations

import re

import pytest
from fastapi.routing import iter_route_contexts
from starlette.testclient import WebSocketDisconnect

from agent.console import access
from tests.console.conftest import ROLES, Console, csrf_of

STREAMS = {"/console/events"}  # server-sent events: an endless response, checked in the browser tests


def _routes(console: Console) -> list[tuple[str, str, str]]:
    """(kind, method, path template) of every console/API route; kind = http | ws."""
    out = []
    for r in iter_route_contexts(console.client.app.routes):  # type: ignore[attr-defined]
        path = r.path or ""
        if not path.startswith(("/console", "/api")):
            continue
        methods = r.methods
        if methods is None:
            out.append(("ws", "WS", path))
            continue
        out.extend(("http", m, path) for m in sorted(methods) if m != "HEAD")
    return out


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def test_the_route_list_covers_the_console_and_the_api(console: Console) -> None:
    paths = {p for _, _, p in _routes(console)}
    assert {"/console/worklist", "/console/accounts/{patient_id}", "/api/accounts", "/api/audit"} <= paths
    assert "/console/try/phone/ws" in paths


def test_anonymous_requests_are_refused_everywhere(console: Console) -> None:
    anon = console.client
    checked = 0
    for kind, method, path in _routes(console):
        if access.is_public(path):
            continue
        url = _concrete(path)
        if kind == "ws":
            with pytest.raises(WebSocketDisconnect) as exc, anon.websocket_connect(url) as ws:
                ws.receive_text()
            assert exc.value.code == 1008, path
            checked += 1
            continue
        resp = anon.request(method, url, follow_redirects=False)
        assert resp.status_code == 401, (method, path, resp.status_code)
        if method == "GET" and path.startswith("/console") and path not in STREAMS:
            page = anon.get(url, headers={"Accept": "text/html"}, follow_redirects=False)
            assert page.status_code == 303 and page.headers["location"].startswith("/console/login?next="), (
                path
            )
        checked += 1
    assert checked > 20


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_refused_what_it_may_not_use(console: Console, role: str) -> None:
    client = console.login(role)
    token = csrf_of(client.get("/console/transfers").text)
    refused = allowed = 0
    for kind, method, path in _routes(console):
        if access.is_public(path) or path in STREAMS or path == "/console/logout":
            continue
        url = _concrete(path)
        roles = access.roles_for(path, "GET" if kind == "ws" else method)
        if kind == "ws":
            if role not in roles:
                with pytest.raises(WebSocketDisconnect), client.websocket_connect(url) as ws:
                    ws.receive_text()
                refused += 1
            continue
        if role not in roles:
            resp = client.request(method, url, headers={"X-CSRF-Token": token}, follow_redirects=False)
            assert resp.status_code == 403, (role, method, path, resp.status_code)
            refused += 1
        elif method == "GET":
            resp = client.get(url, follow_redirects=False)
            assert resp.status_code not in (401, 403), (role, path, resp.status_code, resp.text[:200])
            allowed += 1
    assert allowed > 0
    if role != "admin":
        assert refused > 0


def test_role_table_matches_the_product(console: Console) -> None:
    assert access.roles_for("/console/audit", "GET") == access.MANAGERS
    assert access.roles_for("/api/audit", "GET") == access.MANAGERS
    assert access.roles_for("/console/accounts/{patient_id}/consent", "POST") == access.MANAGERS
    assert access.roles_for("/console/accounts/{patient_id}/note", "POST") == access.STAFF
    assert access.roles_for("/console/users", "GET") == access.ADMIN
    assert access.roles_for("/console/something-new", "GET") == access.ADMIN  # fail closed
    assert access.roles_for("/api/accounts", "POST") == access.MANAGERS


def test_the_bearer_token_keeps_working_and_a_wrong_one_is_refused(console: Console) -> None:
    anon = console.client
    assert anon.get("/api/accounts/1", headers={"Authorization": "Bearer test-token"}).status_code == 200
    assert anon.get("/api/audit", headers={"Authorization": "Bearer test-token"}).status_code == 200
    assert anon.get("/api/accounts/1", headers={"Authorization": "Bearer nope"}).status_code == 401
    # a session cookie does not rescue a wrong bearer token
    collector = console.login("collector")
    assert collector.get("/api/accounts/1", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert collector.get("/api/accounts/1").status_code == 200


def test_state_changing_requests_need_the_csrf_token(console: Console) -> None:
    client = console.login("billing_manager")
    page = client.get("/console/accounts/2")
    token = csrf_of(page.text)
    for data in ({"text": "left a message"}, {"text": "left a message", "csrf_token": "forged"}):
        resp = client.post("/console/accounts/2/note", data=data, follow_redirects=False)
        assert resp.status_code == 403
    assert client.post("/console/try/sms", data={"persona": "prompt_payer", "body": "hi"}).status_code == 403
    assert client.post("/console/logout", follow_redirects=False).status_code == 403
    ok = client.post(
        "/console/accounts/2/note",
        data={"text": "left a message", "csrf_token": token},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    ok = client.post(
        "/console/accounts/2/note",
        data={"text": "again"},
        headers={"X-CSRF-Token": token},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    # another user's token is not this session's token
    other = csrf_of(console.login("admin").get("/console/transfers").text)
    assert client.post("/console/accounts/2/note", data={"text": "x", "csrf_token": other}).status_code == 403


def test_login_form_needs_its_csrf_cookie(console: Console) -> None:
    anon = console.client
    resp = anon.post(
        "/console/login", data={"username": "admin", "password": "whatever-password", "csrf_token": "x"}
    )
    assert resp.status_code == 403
    assert "bl_session" not in resp.cookies


def test_api_writes_with_a_session_need_the_csrf_header_and_a_manager(console: Console) -> None:
    manager = console.login("billing_manager")
    token = csrf_of(manager.get("/console/transfers").text)
    assert manager.post("/api/approvals/job_nope/approve").status_code == 403  # no CSRF header
    assert manager.post("/api/approvals/job_nope/approve", headers={"X-CSRF-Token": token}).status_code == 404
    collector = console.login("collector")
    ctoken = csrf_of(collector.get("/console/transfers").text)
    assert (
        collector.post("/api/approvals/job_nope/approve", headers={"X-CSRF-Token": ctoken}).status_code == 403
    )
    # machines: the bearer token needs no CSRF token (no cookie is involved)
    resp = console.client.post(
        "/api/approvals/job_nope/approve", headers={"Authorization": "Bearer test-token"}
    )
    assert resp.status_code == 404


def test_a_refused_page_in_a_browser_says_so_with_a_403(console: Console) -> None:
    collector = console.login("collector")
    resp = collector.get("/console/audit", headers={"Accept": "text/html"}, follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"] == "/console/forbidden"
    page = collector.get("/console/audit", headers={"Accept": "text/html"})
    assert page.status_code == 403 and "Not available to your role" in page.text and "collector" in page.text
