"""The access matrix: which role may use which route (the one table the app enforces and the docs show).

``None`` marks a public route (the login page, static files, the OpenAPI schema). Every other
route lists the roles allowed; a test checks that every route of the app is in this table and
requests each route as each role.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["ACCESS", "ALL_ROLES", "access_table_markdown"]

ALL_ROLES: frozenset[str] = frozenset({"admin", "investigator", "monitor", "statistician"})
_SITE_STAFF = frozenset({"admin", "investigator"})
_MONITORS = frozenset({"admin", "monitor"})
_STATS = frozenset({"statistician"})
_REPORT = frozenset({"admin", "statistician"})
_ADMIN = frozenset({"admin"})

#: (method, path) -> roles allowed (None: public).
ACCESS: Mapping[tuple[str, str], frozenset[str] | None] = {
    # public
    ("GET", "/login"): None,
    ("POST", "/login"): None,
    ("GET", "/static/{path:path}"): None,
    ("GET", "/api/v1/openapi.json"): None,
    ("POST", "/api/v1/login"): None,
    # pages
    ("POST", "/logout"): ALL_ROLES,
    ("GET", "/"): ALL_ROLES,
    ("GET", "/subjects"): ALL_ROLES,
    ("GET", "/subjects/new"): _SITE_STAFF,
    ("POST", "/subjects/new"): _SITE_STAFF,
    ("GET", "/subjects/{subject_id}"): ALL_ROLES,
    ("GET", "/subjects/{subject_id}/randomize"): _SITE_STAFF,
    ("POST", "/subjects/{subject_id}/randomize"): _SITE_STAFF,
    ("GET", "/subjects/{subject_id}/visits/{visit}/{instrument}"): ALL_ROLES,
    ("POST", "/subjects/{subject_id}/visits/{visit}/{instrument}"): _SITE_STAFF,
    ("GET", "/subjects/{subject_id}/ae/new"): _SITE_STAFF,
    ("POST", "/subjects/{subject_id}/ae/new"): _SITE_STAFF,
    ("GET", "/audit"): ALL_ROLES,
    ("GET", "/queries"): ALL_ROLES,
    ("POST", "/queries"): _MONITORS,
    ("POST", "/queries/{query_id}/answer"): _SITE_STAFF,
    ("POST", "/queries/{query_id}/close"): _MONITORS,
    ("GET", "/lock"): ALL_ROLES,
    ("POST", "/lock"): _STATS,
    ("POST", "/unlock"): _STATS,
    ("GET", "/report"): _REPORT,
    ("POST", "/report/run"): _STATS,
    ("GET", "/report/files/{path:path}"): _REPORT,
    ("GET", "/users"): _ADMIN,
    ("POST", "/users"): _ADMIN,
    ("POST", "/users/{name}/active"): _ADMIN,
    ("GET", "/account"): ALL_ROLES,
    ("POST", "/account/password"): ALL_ROLES,
    # JSON API
    ("POST", "/api/v1/logout"): ALL_ROLES,
    ("GET", "/api/v1/me"): ALL_ROLES,
    ("GET", "/api/v1/dashboard"): ALL_ROLES,
    ("GET", "/api/v1/subjects"): ALL_ROLES,
    ("POST", "/api/v1/subjects"): _SITE_STAFF,
    ("GET", "/api/v1/subjects/{subject_id}"): ALL_ROLES,
    ("POST", "/api/v1/subjects/{subject_id}/randomize"): _SITE_STAFF,
    ("GET", "/api/v1/subjects/{subject_id}/visits/{visit}/{instrument}"): ALL_ROLES,
    ("POST", "/api/v1/subjects/{subject_id}/visits/{visit}/{instrument}"): _SITE_STAFF,
    ("POST", "/api/v1/subjects/{subject_id}/adverse-events"): _SITE_STAFF,
    ("POST", "/api/v1/validate"): ALL_ROLES,
    ("GET", "/api/v1/audit"): ALL_ROLES,
    ("GET", "/api/v1/queries"): ALL_ROLES,
    ("POST", "/api/v1/queries"): _MONITORS,
    ("POST", "/api/v1/queries/{query_id}/answer"): _SITE_STAFF,
    ("POST", "/api/v1/queries/{query_id}/close"): _MONITORS,
    ("GET", "/api/v1/lock"): ALL_ROLES,
    ("POST", "/api/v1/lock"): _STATS,
    ("POST", "/api/v1/unlock"): _STATS,
}


def access_table_markdown() -> str:
    """Return the access matrix as a Markdown table (for docs/web.md)."""
    roles = ["admin", "investigator", "monitor", "statistician"]
    lines = ["| Method | Route | " + " | ".join(roles) + " |", "|---|---|" + "---|" * len(roles)]
    for (method, path), allowed in ACCESS.items():
        cells = ["public" if allowed is None else ("yes" if r in allowed else "—") for r in roles]
        lines.append(f"| {method} | `{path}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)
