"""Generic data steps every task shares: read tables, clean, split, check.

Task packages build on these: ``tunelab.tasks.text.data`` reads and cleans text tables,
``tunelab.tasks.image.data`` decodes image folders and path tables; both split with
:mod:`tunelab.data.splits` and warn with :mod:`tunelab.data.checks`.
"""

from tunelab.data.builtin import builtin_dataset_names
from tunelab.data.sources import read_table

__all__ = ["builtin_dataset_names", "read_table"]
