"""``python -m tunelab.cli`` (and ``accelerate launch -m tunelab.cli``) runs the command."""

from tunelab.cli import app

app()
