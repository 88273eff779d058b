"""Causal-LM fine-tuning building blocks: chat SFT and domain adaptation.

- ``model``: load any local HF causal-LM directory (or a ``.gguf`` file, de-quantized
  once and cached as safetensors); layer groups (embeddings, ``layer.0`` .. ``layer.N-1``,
  ``head`` = final norm + lm_head; tied embeddings shown in the group name); default
  LoRA targets per family. Importing this package registers the bundled
  ``SmolLM2-135M-Instruct`` as a known model.
- ``data``: rows (chat ``messages``, prompt/completion, plain text) to token ids and
  labels, the loss only where the model must learn to write; truncation summary.
- ``batches``: ``CausalLMBatches``, the trainer's batch source, padded or packed.
- ``sources``: JSONL files and ``builtin:chatterbot-dialogues``.
- ``metrics``: perplexity, chrF, exact match, stop rate, and timed greedy generation.

``task`` is the :class:`~tunelab.tasks.base.Task` that wires them together
(``config``, ``objective``, ``module``, ``splits``, ``prompts``, ``predictor``,
``save``, ``scoring`` and ``evaluation`` are its parts).
"""

from tunelab.tasks.causal_lm import model as _model  # noqa: F401  (registers SmolLM2)
