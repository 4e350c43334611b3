"""Web data capture and monitoring: ``ssctrial serve --db URL``.

A FastAPI app (:func:`create_app`) with server-rendered pages and a JSON API (``/api/v1``, with an
OpenAPI schema) on the same store functions as the CLI: accounts with roles and site scoping,
enrolment with an eligibility checklist, concealed randomisation, visit forms generated from the
instrument registry (with an mRSS body map), adverse events, the audit trail of any value, data
queries, a monitoring dashboard, data lock and the latest analysis report. The access matrix is
:data:`ACCESS`.
"""

from __future__ import annotations

from ssctrial.web._access import ACCESS, access_table_markdown
from ssctrial.web._app import WebSettings, create_app

__all__ = ["ACCESS", "WebSettings", "access_table_markdown", "create_app"]
