"""The error family tunelab raises for problems a user can fix.

Raised where the fault is found, with a message that says what is wrong, where, and how
to fix it. ``tunelab.cli`` turns any of them into one line on stderr and exit code 2; the
Python API lets them propagate so notebooks see a normal exception.
"""


class TunelabError(Exception):
    """Base class: a problem with the user's input, not a bug in tunelab."""


class ConfigError(TunelabError):
    """An unknown key, a value of the wrong type, or an inconsistent combination."""


class DataError(TunelabError):
    """A missing or unreadable file, a missing column, an unusable label distribution."""


class ModelError(TunelabError):
    """An unknown model name or a directory that does not hold a loadable model."""


class TrainingDiverged(TunelabError):
    """The loss or the gradients became NaN/inf: settings (LR, fp16) the data cannot take."""


class RunDirError(TunelabError):
    """An output directory that holds another run, or a run directory that is incomplete."""
