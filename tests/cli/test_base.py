"""The CLI's error boundary without training: a TunelabError is one line and exit 2,
Ctrl-C is exit 130, and markup-like text in a message survives."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from tunelab.cli.base import user_errors
from tunelab.errors import ConfigError

runner = CliRunner()


def _app(error: BaseException) -> typer.Typer:
    app = typer.Typer()

    @app.command()
    @user_errors
    def fail() -> None:
        raise error

    return app


def test_a_tunelab_error_is_one_line_on_stderr_and_exit_2():
    result = runner.invoke(_app(ConfigError("data[v2]/train.csv not found")), [])
    assert result.exit_code == 2
    assert result.stderr == "error: data[v2]/train.csv not found\n"
    assert result.stdout == ""


def test_an_interrupt_is_exit_130_and_says_how_to_resume():
    result = runner.invoke(_app(KeyboardInterrupt()), [])
    assert result.exit_code == 130
    assert result.stderr == "interrupted; resume with --resume\n"


def test_another_exception_is_not_swallowed():
    result = runner.invoke(_app(ValueError("a bug")), [])
    assert result.exit_code == 1 and isinstance(result.exception, ValueError)
