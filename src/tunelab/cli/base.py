"""What every ``tunelab`` command shares: the one Typer app, the consoles, the common
options, and the error boundary.

The boundary (:func:`user_errors`) is the only place a ``TunelabError`` becomes text:
one line on stderr and exit code 2, so a user sees what to fix, never a traceback.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from tunelab.errors import TunelabError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# transformers reads these when first imported: warnings and download bars are noise in a
# CLI whose models are local, and setting them here keeps commands that never touch
# transformers (report, --help) from importing it.
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Fine-tune pre-trained models; compare strategies; ship the result.",
)
# Messages are never wrapped by rich (soft_wrap): a path or number split over two lines
# breaks copy-paste and grep. Tables still fit the width: 120 columns when piped into a
# log (CI, `make demo | tee`), where rich would otherwise assume 80.
LOG_WIDTH = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 120
console = Console(width=LOG_WIDTH, soft_wrap=True)
err_console = Console(stderr=True, width=LOG_WIDTH, soft_wrap=True)


def user_errors(command):
    """Turn a ``TunelabError`` into ``error: ...`` + exit 2, and Ctrl-C into exit 130."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        _terminate_as_interrupt()
        try:
            return command(*args, **kwargs)
        except TunelabError as err:
            # escape: a path like data[v2] would otherwise be read as markup and vanish
            err_console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            err_console.print("interrupted; resume with --resume")
            raise typer.Exit(130) from None

    return wrapper


ConfigArg = Annotated[Path | None, typer.Argument(help="YAML config (defaults if omitted)")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="KEY=VALUE override, repeatable")]


def _terminate_as_interrupt() -> None:
    """SIGTERM (``kill``, a scheduler's time limit) unwinds like Ctrl-C, so a run
    directory is marked failed with its reason instead of staying "running"."""
    import signal
    import threading

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, interrupt)
