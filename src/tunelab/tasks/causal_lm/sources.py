"""Where causal-LM rows come from: JSONL files and the packaged chatterbot dialogues.

Every source yields dicts, one per row, in one of three shapes that
:class:`~tunelab.tasks.causal_lm.data.RowFormat` names: ``{messages: [{role, content}]}``
(chat), ``{prompt, completion}`` (pairs) or ``{text}`` (plain text); column names are
configurable, so a file need not be rewritten to fit.
"""

from __future__ import annotations

import json
from pathlib import Path

from tunelab.data.builtin import chatterbot_files
from tunelab.errors import DataError

BUILTIN_PREFIX = "builtin:"
CHATTERBOT_DIALOGUES = "chatterbot-dialogues"


def read_jsonl(path: Path) -> list[dict]:
    """Rows of a JSON Lines file; blank lines are skipped.

    Raises:
        DataError: a missing file, or a line that is not a JSON object (with its number).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(f"{path}, line {number}: not valid JSON ({err.msg})") from None
            if not isinstance(row, dict):
                raise DataError(f"{path}, line {number}: expected a JSON object per line")
            rows.append(row)
    return rows


def chatterbot_dialogues(topics: list[str] | None = None) -> list[dict]:
    """The English chatterbot corpus as chat rows: turns alternate user, assistant.

    Each YAML ``conversations`` entry is a list of utterances; a trailing user turn with
    no reply (odd count) is dropped, and a conversation of one utterance has nothing to
    learn and is skipped. About 2k conversations, mostly one question and one answer.

    Args:
        topics: file stems to keep (e.g. ``["ai", "food"]``); all 21 by default.
    """
    files = chatterbot_files(f"{BUILTIN_PREFIX}{CHATTERBOT_DIALOGUES}", CHATTERBOT_DIALOGUES)
    if topics is not None:
        known = ", ".join(sorted(path.stem for path, _ in files))
        files = [(path, content) for path, content in files if path.stem in set(topics)]
        missing = sorted(set(topics) - {path.stem for path, _ in files})
        if missing:
            raise DataError(f"chatterbot topics {missing} not found; available: {known}")
    rows = []
    for file, document in files:
        for conversation in document.get("conversations", []):
            messages = _alternating_turns(conversation)
            if messages:
                rows.append({"messages": messages, "topic": file.stem})
    return rows


def _alternating_turns(conversation: list) -> list[dict]:
    """``[user, assistant, user, ...]`` messages, ending with an assistant turn."""
    turns = [str(t).strip() for t in conversation if t is not None and str(t).strip()]
    turns = turns[: len(turns) - len(turns) % 2]
    roles = ("user", "assistant")
    return [{"role": roles[i % 2], "content": t} for i, t in enumerate(turns)]


def read_rows(source: str | Path) -> list[dict]:
    """Rows from ``builtin:chatterbot-dialogues`` or a ``.jsonl`` file.

    Raises:
        DataError: an unknown builtin name or an unsupported file type.
    """
    text = str(source)
    if text.startswith(BUILTIN_PREFIX):
        name = text[len(BUILTIN_PREFIX) :]
        if name != CHATTERBOT_DIALOGUES:
            raise DataError(
                f"unknown builtin dataset '{name}' for causal_lm; available: "
                f"{BUILTIN_PREFIX}{CHATTERBOT_DIALOGUES}"
            )
        return chatterbot_dialogues()
    path = Path(text).expanduser()
    if path.suffix.lower() not in (".jsonl", ".ndjson"):
        raise DataError(f"{path}: causal_lm reads JSON Lines (.jsonl) files; convert it first")
    return read_jsonl(path)
