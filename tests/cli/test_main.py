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


def test_bad_option_value_is_a_usage_error_not_a_crash(capsys):
    code = main(["demo", "--n", "abc"])
    err = capsys.readouterr().err
    assert code == 2
    assert "Unexpected error" not in err
    assert "Invalid value for '--n'" in err
