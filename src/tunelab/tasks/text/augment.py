"""EDA-style augmentation of training texts (Wei & Zou, 2019), seeded, on by option.

``data.augment.copies`` copies of every training text are added to the training split,
each made by one operation drawn among those configured: random deletion, random swap,
or synonym replacement. Synonyms are the nearest whole words to a word in the backbone's
own input-embedding matrix, so they need no lexicon download (WordNet data cannot be
fetched at run time) and exist for any vocabulary the model has; the price is that close
embeddings include antonyms (MiniLM: good -> bad), which is why ``synonym`` is off by
default. Validation and test are never augmented. One ``numpy.random.Generator``
seeded from ``train.seed`` draws everything: the same seed gives the same copies.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from tunelab.tasks.text.config import TextAugmentConfig

Operation = Callable[[list[str], np.random.Generator], list[str]]
WORD_PREFIXES = ("▁", "Ġ")  # SentencePiece / byte-level BPE mark a word start so


def augmentation_active(cfg: TextAugmentConfig) -> bool:
    """Whether the run adds augmented copies."""
    return cfg.copies > 0


def random_deletion(words: list[str], p: float, rng: np.random.Generator) -> list[str]:
    """Each word dropped with probability ``p``; one random word is kept if none is."""
    if len(words) <= 1:
        return list(words)
    kept = [word for word in words if rng.random() >= p]
    return kept or [words[int(rng.integers(len(words)))]]


def random_swap(words: list[str], share: float, rng: np.random.Generator) -> list[str]:
    """``max(1, round(share * len(words)))`` swaps of two randomly chosen positions."""
    out = list(words)
    if len(out) < 2:
        return out
    for _ in range(max(1, round(share * len(out)))):
        i, j = rng.choice(len(out), size=2, replace=False)
        out[i], out[j] = out[j], out[i]
    return out


def synonym_replacement(
    words: list[str], share: float, synonyms: dict[str, list[str]], rng: np.random.Generator
) -> list[str]:
    """Up to ``max(1, round(share * len(words)))`` words that have synonyms replaced by
    one of them (case of the first letter kept)."""
    out = list(words)
    candidates = [i for i, word in enumerate(out) if synonyms.get(word.lower())]
    if not candidates:
        return out
    count = min(len(candidates), max(1, round(share * len(out))))
    for i in rng.choice(candidates, size=count, replace=False):
        choice = str(rng.choice(synonyms[out[i].lower()]))
        out[i] = choice.capitalize() if out[i][:1].isupper() else choice
    return out


def operations(cfg: TextAugmentConfig, synonyms: dict[str, list[str]]) -> list[Operation]:
    """The configured operations (rate above 0), in a fixed order."""
    ops: list[Operation] = []
    if cfg.delete:
        ops.append(lambda words, rng: random_deletion(words, cfg.delete, rng))
    if cfg.swap:
        ops.append(lambda words, rng: random_swap(words, cfg.swap, rng))
    if cfg.synonym:
        ops.append(lambda words, rng: synonym_replacement(words, cfg.synonym, synonyms, rng))
    return ops


def augment_frame(
    train: pd.DataFrame, cfg: TextAugmentConfig, seed: int, synonyms: dict[str, list[str]]
) -> pd.DataFrame:
    """``train`` followed by ``cfg.copies`` augmented copies of each row (labels kept).

    A copy identical to a text already in the frame adds nothing and is left out.
    """
    rng = np.random.default_rng(seed)
    ops = operations(cfg, synonyms)
    rows = []
    for text, label in zip(train["text"], train["label"], strict=True):
        words = text.split()
        for _ in range(cfg.copies):
            op = ops[int(rng.integers(len(ops)))]
            rows.append({"text": " ".join(op(words, rng)), "label": label})
    copies = pd.DataFrame(rows, columns=["text", "label"])
    merged = pd.concat([train[["text", "label"]], copies], ignore_index=True)
    return merged.drop_duplicates("text").reset_index(drop=True)


def embedding_synonyms(
    words: set[str], vocab: dict[str, int], embeddings: torch.Tensor, k: int
) -> dict[str, list[str]]:
    """For each of ``words`` that is a whole-word vocabulary entry, its ``k`` nearest
    whole-word entries by cosine similarity of the input embeddings.

    Args:
        words: lowercased words to look up (those of the training texts).
        vocab: the tokenizer's token -> id map.
        embeddings: the ``[vocab, hidden]`` input-embedding matrix.
        k: neighbours per word.
    """
    whole = _whole_words(vocab)
    names = sorted(whole)
    known = [word for word in sorted(words) if word in whole]
    if not known or len(names) < 2:
        return {}
    table = torch.nn.functional.normalize(embeddings[[whole[n] for n in names]].float(), dim=1)
    index = {name: i for i, name in enumerate(names)}
    queries = table[[index[word] for word in known]]
    scores = queries @ table.T
    scores[torch.arange(len(known)), [index[word] for word in known]] = -2.0  # not itself
    nearest = scores.topk(min(k, len(names) - 1), dim=1).indices.tolist()
    return {word: [names[j] for j in row] for word, row in zip(known, nearest, strict=True)}


def _whole_words(vocab: dict[str, int]) -> dict[str, int]:
    """Alphabetic entries that are a word of their own (no ``##`` continuation), lowercased;
    the first id wins when casing makes two entries one word."""
    out: dict[str, int] = {}
    for token, idx in sorted(vocab.items(), key=lambda item: item[1]):
        word = token[1:] if token.startswith(WORD_PREFIXES) else token
        if len(word) > 1 and word.isalpha():
            out.setdefault(word.lower(), idx)
    return out


def augment_train(
    train: pd.DataFrame, cfg: TextAugmentConfig, tokenizer, backbone: torch.nn.Module, seed: int
) -> tuple[pd.DataFrame, dict]:
    """The augmented training rows and what was done (for ``data_summary.json``).

    Args:
        train: the clean training split (``text``, ``label``).
        cfg: ``data.augment``.
        tokenizer: the backbone's tokenizer (its vocabulary names the synonyms).
        backbone: the HF encoder; its input embeddings rank the synonyms.
        seed: ``train.seed``.
    """
    synonyms: dict[str, list[str]] = {}
    if cfg.synonym:
        words = {word.lower() for text in train["text"] for word in text.split()}
        weights = backbone.get_input_embeddings().weight.detach()
        synonyms = embedding_synonyms(words, tokenizer.get_vocab(), weights, cfg.neighbours)
    augmented = augment_frame(train, cfg, seed, synonyms)
    record = {
        **cfg.model_dump(),
        "seed": seed,
        "original": len(train),
        "added": len(augmented) - len(train),
        "words_with_synonyms": len(synonyms),
    }
    return augmented, record
