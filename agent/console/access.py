"""Who may use which console page and API route: one table, enforced by one dependency.

Rules match the route's path template (e.g. `/api/accounts/{patient_id}`) by longest prefix, per
method class (read = GET/HEAD, write = everything else). A route no rule names is admin-only, so a
new route is never accidentally open; `tests/console/test_access.py` enumerates `app.routes`.
"""

from __future__ import annotations

from typing import Literal

ADMIN = frozenset({"admin"})
MANAGERS = frozenset({"admin", "billing_manager"})
STAFF = frozenset({"admin", "billing_manager", "collector"})
NOBODY: frozenset[str] = frozenset()

Access = Literal["read", "write"]

# (path prefix, roles for reads, roles for writes)
RULES: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    # console pages
    ("/console/logout", STAFF, STAFF),
    ("/console/worklist", STAFF, NOBODY),
    ("/console/accounts", STAFF, STAFF),  # notes, pause outreach
    ("/console/accounts/{patient_id}/dispute-resolved", MANAGERS, MANAGERS),
    ("/console/accounts/{patient_id}/consent", MANAGERS, MANAGERS),
    ("/console/calls", STAFF, NOBODY),
    ("/console/transfers", STAFF, STAFF),
    ("/console/approvals", MANAGERS, MANAGERS),
    ("/console/audit", MANAGERS, NOBODY),
    ("/console/dashboard", MANAGERS, NOBODY),
    ("/console/events", STAFF, NOBODY),
    ("/console/try", STAFF, STAFF),
    ("/console/users", ADMIN, ADMIN),
    # JSON API (a bearer token is a machine with full access)
    ("/api/", STAFF, MANAGERS),
    ("/api/audit", MANAGERS, MANAGERS),
    ("/api/approvals", MANAGERS, MANAGERS),
    ("/api/worklist", STAFF, MANAGERS),
    ("/api/users", ADMIN, ADMIN),
)

# Reachable without a session (the login page itself and the static assets it needs).
PUBLIC_PREFIXES = ("/console/login", "/console/static", "/console/forbidden")


def access_of(method: str) -> Access:
    return "read" if method.upper() in ("GET", "HEAD", "OPTIONS") else "write"


def roles_for(path_template: str, method: str) -> frozenset[str]:
    """The roles allowed `method` on the route `path_template` (admin-only when no rule matches)."""
    best: tuple[str, frozenset[str], frozenset[str]] | None = None
    for rule in RULES:
        if path_template.startswith(rule[0]) and (best is None or len(rule[0]) > len(best[0])):
            best = rule
    if best is None:
        return ADMIN
    return best[1] if access_of(method) == "read" else best[2]


def allowed(role: str, path_template: str, method: str) -> bool:
    return role in roles_for(path_template, method)


def is_public(path: str) -> bool:
    """The login page, static assets, and `/console/` (a bare redirect to the worklist)."""
    return path in ("/console", "/console/") or any(path.startswith(p) for p in PUBLIC_PREFIXES)


def nav_for(role: str) -> list[tuple[str, str]]:
    """The console's navigation entries this role may open (label, href)."""
    items = [
        ("Worklist", "/console/worklist"),
        ("Live calls", "/console/calls"),
        ("Transfers", "/console/transfers"),
        ("Approvals", "/console/approvals"),
        ("Audit", "/console/audit"),
        ("Results", "/console/dashboard"),
        ("Text the agent", "/console/try/sms"),
        ("Softphone", "/console/try/phone"),
    ]
    return [(label, href) for label, href in items if allowed(role, href, "GET")]
