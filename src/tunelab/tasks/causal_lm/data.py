"""Rows to training examples for a causal LM: token ids plus labels that say what to learn.

The loss goes only where the model must learn to write: assistant turns of a chat, the
completion of a prompt/completion pair, every token of plain text. Labels are the input
ids with ``IGNORE_INDEX`` (-100) wherever the loss is off; HF causal LMs shift them
internally (position ``t`` is predicted from positions ``< t``).

Three rules hold for every row format:

* End of turn is learned. The end-of-turn / EOS token is labelled explicitly, so it is
  in the loss even when the tokenizer's pad token is EOS (padding is excluded by the
  attention mask and -100 labels, never by comparing ids with the pad id). A model that
  never sees EOS in its loss never learns to stop.
* One BOS at most. A chat template that renders BOS itself is tokenized without the
  tokenizer's special tokens; where BOS still ends up twice at the start, one is dropped.
* Nothing is trained on silently. A row whose supervised tokens are all cut off by
  ``max_length`` is left out and counted in the :class:`EncodingSummary`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tunelab.errors import DataError, ModelError

IGNORE_INDEX = -100
ROLES = ("system", "user", "assistant", "tool")
_GENERATION_TAG = re.compile(r"\{%-?\s*generation\s*-?%\}")


@dataclass
class CausalExample:
    """One tokenized row: ids and labels of equal length (-100 where no loss)."""

    input_ids: list[int]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def num_supervised(self) -> int:
        """Tokens the loss is computed on.

        The first position never counts: no earlier token predicts it (the model shifts
        labels by one), so a row whose only label is its first token has nothing to learn.
        """
        return sum(label != IGNORE_INDEX for label in self.labels[1:])


@dataclass
class EncodingSummary:
    """What happened to the rows: kept, truncated, and left out (with row numbers)."""

    rows: int = 0
    kept: int = 0
    truncated: int = 0
    empty_after_truncation: int = 0
    empty_rows: list[int] = field(default_factory=list)
    tokens: int = 0
    supervised_tokens: int = 0

    def to_dict(self) -> dict:
        """JSON-ready, for a run's data summary."""
        return {
            "rows": self.rows,
            "kept": self.kept,
            "truncated": self.truncated,
            "empty_after_truncation": self.empty_after_truncation,
            "empty_rows_first": self.empty_rows[:20],
            "tokens": self.tokens,
            "supervised_tokens": self.supervised_tokens,
        }

    def warnings(self, max_length: int) -> list[str]:
        """One line per problem a user should hear about."""
        if not self.empty_after_truncation:
            return []
        rows = ", ".join(map(str, self.empty_rows[:5]))
        return [
            f"{self.empty_after_truncation} of {self.rows} rows left out: nothing to learn "
            f"after truncation to {max_length} tokens (rows {rows}...); raise max_length"
        ]


@dataclass(frozen=True)
class RowFormat:
    """How rows are read: ``kind`` (chat, pairs, text) and the column names to read.

    ``chat_template`` (pairs only): render the prompt as a user turn with the assistant
    header after it, as at inference; False concatenates prompt and completion raw.
    """

    kind: str = "chat"
    messages: str = "messages"
    prompt: str = "prompt"
    completion: str = "completion"
    text: str = "text"
    chat_template: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("chat", "pairs", "text"):
            raise DataError(f"data.format '{self.kind}' is unknown; use chat, pairs or text")


def has_chat_template(tokenizer) -> bool:
    """Whether the tokenizer carries a chat template (instruct models do, base ones often not)."""
    return bool(getattr(tokenizer, "chat_template", None))


def has_generation_markers(tokenizer) -> bool:
    """Whether the chat template marks assistant text with ``{% generation %}`` blocks."""
    template = getattr(tokenizer, "chat_template", None)
    return isinstance(template, str) and bool(_GENERATION_TAG.search(template))


def _where(row: int | None) -> str:
    return f"row {row}" if row is not None else "row"


def check_messages(messages: object, row: int | None = None) -> list[dict]:
    """``messages`` as a list of ``{role, content}`` dicts, or a one-line DataError.

    Raises:
        DataError: not a list, a message without role/content, an unknown role, an
            empty assistant turn, or no assistant turn to learn from.
    """
    where = _where(row)
    if not isinstance(messages, list) or not messages:
        raise DataError(
            f"{where}: messages must be a non-empty list of {{role, content}} objects, "
            f"got {type(messages).__name__}"
        )
    for i, message in enumerate(messages):
        _check_message(message, i, where)
    if not any(m["role"] == "assistant" for m in messages):
        raise DataError(f"{where}: no assistant turn, so nothing to learn; add one or drop it")
    if messages[0]["role"] == "assistant":
        raise DataError(
            f"{where}: the first message is an assistant turn; start with a user or "
            "system message (the reply must answer something)"
        )
    return messages


def _check_message(message: object, i: int, where: str) -> None:
    if not isinstance(message, dict) or "role" not in message or "content" not in message:
        raise DataError(f"{where}, message {i}: expected an object with role and content")
    role, content = message["role"], message["content"]
    if role not in ROLES:
        raise DataError(
            f"{where}, message {i}: unknown role {role!r}; use one of {', '.join(ROLES)} "
            "(rename the role when writing the file)"
        )
    if not isinstance(content, str):
        raise DataError(f"{where}, message {i}: content must be text, got {type(content).__name__}")
    if role == "assistant" and not content.strip():
        raise DataError(f"{where}, message {i}: empty assistant turn; fill it or drop the row")


def render_chat(
    tokenizer, messages: list[dict], generation_prompt: bool = False, row: int | None = None
) -> str:
    """The chat template's text for ``messages``; a template error becomes a DataError."""
    from jinja2 import TemplateError

    try:
        return tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=generation_prompt
        )
    except TemplateError as err:
        raise DataError(
            f"{_where(row)}: the chat template rejects this conversation: {err}"
        ) from None


def assistant_char_spans(
    tokenizer, messages: list[dict], row: int | None = None
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character span of each assistant turn.

    Rendered prefix by prefix: turn ``i`` is what ``messages[:i+1]`` adds to
    ``messages[:i]`` rendered with the generation prompt, i.e. the turn minus its header
    (``<|im_start|>assistant\\n``), through its end-of-turn token and whatever the template
    writes after it as part of the turn (SmolLM2's newline). Templates that rewrite earlier
    turns when more follow (not prefix-stable) are refused rather than mislabelled.
    """
    full = render_chat(tokenizer, messages, row=row)
    spans = []
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render_chat(tokenizer, messages[:i], generation_prompt=True, row=row)
        through = render_chat(tokenizer, messages[: i + 1], row=row)
        if not (through.startswith(before) and full.startswith(through)):
            raise DataError(
                f"{_where(row)}: the chat template renders turn {i} differently once later "
                "turns follow, so the assistant text cannot be located; use a template with "
                "{% generation %} markers"
            )
        spans.append((len(before), len(through)))
    return full, spans


def _labels_from_spans(offsets: Sequence[tuple[int, int]], ids, spans) -> list[int]:
    """Label a token with its id if its characters overlap an assistant span."""
    labels = []
    for token_id, (start, end) in zip(ids, offsets, strict=True):
        inside = any(start < span_end and end > span_start for span_start, span_end in spans)
        labels.append(token_id if inside else IGNORE_INDEX)
    return labels


def chat_example(tokenizer, messages: object, row: int | None = None) -> CausalExample:
    """A chat row with the loss on assistant turns only (end-of-turn token included).

    Uses the template's ``{% generation %}`` markers where it has them, else the
    prefix-by-prefix rendering of :func:`assistant_char_spans`.
    """
    messages = check_messages(messages, row)
    if has_generation_markers(tokenizer):
        return _marked_chat_example(tokenizer, messages, row)
    text, spans = assistant_char_spans(tokenizer, messages, row)
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError("chat masking needs a fast tokenizer (character offsets)")
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])
    labels = _labels_from_spans(encoded["offset_mapping"], ids, spans)
    return drop_doubled_bos(CausalExample(ids, labels), tokenizer.bos_token_id)


def _marked_chat_example(tokenizer, messages: list[dict], row: int | None) -> CausalExample:
    """The template's own assistant mask (``return_assistant_tokens_mask``)."""
    from jinja2 import TemplateError

    try:
        out = tokenizer.apply_chat_template(
            messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
    except TemplateError as err:
        raise DataError(
            f"{_where(row)}: the chat template rejects this conversation: {err}"
        ) from None
    ids = list(out["input_ids"])
    labels = [t if m else IGNORE_INDEX for t, m in zip(ids, out["assistant_masks"], strict=True)]
    return drop_doubled_bos(CausalExample(ids, labels), tokenizer.bos_token_id)


def drop_doubled_bos(example: CausalExample, bos_id: int | None) -> CausalExample:
    """Remove a second BOS at the start (template BOS + tokenizer BOS)."""
    ids = example.input_ids
    if bos_id is not None and len(ids) > 1 and ids[0] == ids[1] == bos_id:
        return CausalExample(ids[1:], example.labels[1:])
    return example


def bos_prefix(tokenizer) -> list[int]:
    """``[bos]`` if the tokenizer puts BOS before plain text itself, else ``[]``.

    Asked of the tokenizer rather than assumed: Llama's adds BOS, GPT-2's and SmolLM2's
    do not.
    """
    bos = tokenizer.bos_token_id
    if bos is None:
        return []
    with_special = tokenizer("a", add_special_tokens=True)["input_ids"]
    without = tokenizer("a", add_special_tokens=False)["input_ids"]
    return [bos] if with_special[:1] == [bos] and without[:1] != [bos] else []


def _eos_id(tokenizer) -> int:
    if tokenizer.eos_token_id is None:
        raise ModelError("the tokenizer has no EOS token, so generations could never stop")
    return tokenizer.eos_token_id


def text_example(tokenizer, text: object, row: int | None = None) -> CausalExample:
    """Plain text for domain adaptation: loss on every token, EOS appended."""
    if not isinstance(text, str) or not text.strip():
        raise DataError(f"{_where(row)}: empty or missing text; drop the row")
    bos = bos_prefix(tokenizer)
    body = tokenizer(text, add_special_tokens=False)["input_ids"] + [_eos_id(tokenizer)]
    return drop_doubled_bos(
        CausalExample(bos + body, [IGNORE_INDEX] * len(bos) + body), tokenizer.bos_token_id
    )


def pair_example(
    tokenizer, prompt: object, completion: object, row: int | None = None, chat: bool = True
) -> CausalExample:
    """A prompt/completion pair with the loss on the completion and its end.

    With ``chat`` and a chat template, the pair is the conversation ``[user: prompt,
    assistant: completion]``, so the model is trained exactly as it will be prompted
    (``add_generation_prompt=True``) and learns the end-of-turn token. Otherwise prompt
    and completion are concatenated raw and EOS follows the completion.
    """
    for name, value in (("prompt", prompt), ("completion", completion)):
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"{_where(row)}: empty or missing {name}; fill it or drop the row")
    if chat and has_chat_template(tokenizer):
        messages = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": completion},
        ]
        return chat_example(tokenizer, messages, row)
    prompt_ids = bos_prefix(tokenizer) + tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer = tokenizer(completion, add_special_tokens=False)["input_ids"] + [_eos_id(tokenizer)]
    labels = [IGNORE_INDEX] * len(prompt_ids) + answer
    return drop_doubled_bos(CausalExample(prompt_ids + answer, labels), tokenizer.bos_token_id)


def row_example(tokenizer, record: dict, fmt: RowFormat, row: int | None = None) -> CausalExample:
    """One row (a dict) in ``fmt`` as an untruncated example."""
    columns = {"chat": (fmt.messages,), "pairs": (fmt.prompt, fmt.completion), "text": (fmt.text,)}
    for column in columns[fmt.kind]:
        if column not in record:
            raise DataError(
                f"{_where(row)}: no '{column}' field for data.format {fmt.kind}; found "
                f"{', '.join(map(str, record)) or 'none'} (set the column name)"
            )
    if fmt.kind == "chat":
        return chat_example(tokenizer, record[fmt.messages], row)
    if fmt.kind == "pairs":
        return pair_example(
            tokenizer, record[fmt.prompt], record[fmt.completion], row, fmt.chat_template
        )
    return text_example(tokenizer, record[fmt.text], row)


def truncate(example: CausalExample, max_length: int) -> CausalExample:
    """The first ``max_length`` tokens (the start of a conversation gives its context)."""
    return CausalExample(example.input_ids[:max_length], example.labels[:max_length])


def encode_rows(
    tokenizer, records: Iterable[dict], fmt: RowFormat, max_length: int
) -> tuple[list[CausalExample], EncodingSummary]:
    """Tokenize and label every row, truncate, and leave out rows with nothing to learn.

    Row numbers in errors and in the summary count from 1, as a user reads a file.

    Returns:
        The kept examples, and a summary counting truncated and left-out rows.
    """
    examples, summary = [], EncodingSummary()
    for row, record in enumerate(records, start=1):
        summary.rows += 1
        if not isinstance(record, dict):
            raise DataError(f"row {row}: expected an object, got {type(record).__name__}")
        example = row_example(tokenizer, record, fmt, row)
        if len(example) > max_length:
            summary.truncated += 1
            example = truncate(example, max_length)
        if example.num_supervised == 0:
            summary.empty_after_truncation += 1
            summary.empty_rows.append(row)
            continue
        examples.append(example)
        summary.kept += 1
        summary.tokens += len(example)
        summary.supervised_tokens += example.num_supervised
    return examples, summary
