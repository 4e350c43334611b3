"""ssctrial.stats (see docs/architecture.md)."""

__all__: list[str] = []
