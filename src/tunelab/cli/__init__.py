"""The ``tunelab`` command: a thin typer layer over the Python API.

Every command parses its options, calls one API function and prints. Any
``TunelabError`` becomes one line on stderr and exit code 2 (:mod:`tunelab.cli.base`).
The commands live in modules by what they act on; importing this package registers
them all on the one :data:`app`.
"""

# isort: off
# imported in the order `tunelab --help` lists their commands
from tunelab.cli.base import app
from tunelab.cli import training, finished_run, backbones
# isort: on

__all__ = ["app", "backbones", "finished_run", "training"]
