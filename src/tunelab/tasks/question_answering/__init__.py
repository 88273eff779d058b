"""Extractive question answering: an encoder taught to point at the answer in a context.

- ``data`` / ``splits``: SQuAD JSON, JSONL/CSV rows or ``builtin:squad-v1.1-*``, every
  answer span checked against its context; splits by context, seeded samples.
- ``windows``: question + context tokenized into overlapping windows with character
  offsets; ``WindowBatches``, the trainer's batch source.
- ``model``: ``SpanModel``, an HF encoder with the ``qa_outputs`` start/end head, over
  the same layer groups as the text task (every strategy applies).
- ``decode`` / ``metrics`` / ``objective``: n-best span decoding, the official SQuAD
  exact match and F1, the no-answer threshold tuned on validation.
- ``predictor`` / ``save`` / ``inputs`` / ``evaluate`` / ``report``: shipping.

``task`` is the :class:`~tunelab.tasks.base.Task` that wires them together.
"""

from tunelab.tasks.question_answering import task  # noqa: F401  (registers the task)
