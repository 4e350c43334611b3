"""The ``ssctrial`` command line: one module per command group, composed here.

Library errors (:class:`ssctrial.exceptions.SsctrialError`, and ``ValueError`` raised on bad
input) are shown as one red line and exit code 1; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Annotated

import typer
from rich.console import Console

from ssctrial import __version__
from ssctrial.exceptions import SsctrialError

app = typer.Typer(
    name="ssctrial",
    help="Run and analyse randomised clinical trials in systemic sclerosis, end to end.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

err_console = Console(stderr=True)

# Command-group modules under ssctrial.cli. Each defines ``register(app: typer.Typer) -> None``.
# A group is listed here once its module exists.
_GROUPS: tuple[str, ...] = (
    "_instruments", "_omics", "_simulate", "_randomize", "_store", "_report", "_power", "_web",
)  # fmt: skip

_state = {"debug": False}


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"ssctrial {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show full tracebacks and debug logging.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Run and analyse randomised clinical trials in systemic sclerosis, end to end."""
    _state["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


for _name in _GROUPS:
    importlib.import_module(f"ssctrial.cli.{_name}").register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ssctrial`` script; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        app(args=args, standalone_mode=False)
    except SystemExit as exc:  # typer.Exit inside standalone_mode=False
        return int(exc.code or 0)
    except (SsctrialError, ValueError, FileNotFoundError, PermissionError) as exc:
        if debug:
            raise
        err_console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    except KeyboardInterrupt:
        err_console.print("[yellow]Interrupted.[/]")
        return 130
    except Exception as exc:  # usage errors of typer's (vendored) click, and the unexpected
        # typer >= 0.2x vendors click, so match its exceptions by behaviour, not by class
        exit_code = getattr(exc, "exit_code", None)
        if type(exc).__name__ == "Exit" and exit_code is not None:
            return int(exit_code)
        if callable(getattr(exc, "show", None)) and exit_code is not None:
            exc.show()
            return int(exit_code)
        if type(exc).__name__ == "Abort":
            err_console.print("[yellow]Aborted.[/]")
            return 1
        if debug:
            raise
        err_console.print(
            f"[bold red]Unexpected error:[/] {type(exc).__name__}: {exc}\n"
            "Run again with --debug to see the traceback, and report it if it persists.",
            highlight=False,
        )
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
