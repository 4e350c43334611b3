"""The command-line interface (thin: it calls the same library functions as the web layer)."""

from __future__ import annotations

from ssctrial.cli.main import app, main

__all__ = ["app", "main"]
