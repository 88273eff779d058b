"""Text classification data: read any source, clean it, split it, and say what is wrong.

The trainer calls :func:`prepare_text_data` with the ``data`` config section and gets
:class:`TextSplits`: clean ``text`` / ``label`` frames, the label list, the
``data_summary.json`` content and the warnings a user should read before trusting scores.

Images have the same steps, one module each: ``image_sources`` (folders, path tables,
``builtin:`` and ``arrays:``), ``image_decode``, ``image_transforms``, ``image_summary``,
``image_batches``, and ``images`` with :func:`~tunelab.data.images.prepare_image_data`.
"""

from tunelab.data.builtin import builtin_dataset_names
from tunelab.data.prepare import TextSplits, prepare_text_data
from tunelab.data.sources import read_table

__all__ = ["TextSplits", "builtin_dataset_names", "prepare_text_data", "read_table"]
