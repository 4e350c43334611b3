"""Shared test fixtures and settings."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# In CI every test must run; tests that need PostgreSQL skip only outside CI.
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

settings.register_profile(
    "ci", deadline=None, max_examples=100, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, max_examples=50)
settings.load_profile("ci" if IN_CI else "dev")
