"""The CLI shell: version, help, and errors without tracebacks."""

from __future__ import annotations

from ssctrial import __version__
from ssctrial.cli.main import main


def test_version(capsys):
    assert main(["--version"]) == 0
    assert __version__ in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys):
    code = main(["no-such-command"])
    assert code == 2
    err = capsys.readouterr().err
    assert "no-such-command" in err
    assert "Traceback" not in err
