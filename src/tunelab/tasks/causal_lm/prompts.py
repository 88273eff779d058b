"""Held-out prompts and their reference answers, rendered as the model sees them."""

from __future__ import annotations

from dataclasses import dataclass

from tunelab.tasks.causal_lm.data import RowFormat, bos_prefix, has_chat_template


@dataclass(frozen=True)
class PromptCase:
    """What the model is asked (as token ids and as text) and the answer in the data."""

    ids: list[int]
    prompt: str
    reference: str


def prompt_cases(tokenizer, rows: list[dict], fmt: RowFormat, limit: int) -> list[PromptCase]:
    """Up to ``limit`` cases from chat rows (the conversation up to its last assistant
    turn) or pairs (the prompt); plain text has no question to answer: none."""
    cases = []
    for row in rows:
        if len(cases) >= limit:
            break
        case = _chat_case(tokenizer, row, fmt) if fmt.kind == "chat" else None
        if fmt.kind == "pairs":
            case = _pair_case(tokenizer, row, fmt)
        if case is not None:
            cases.append(case)
    return cases


def render_prompt(tokenizer, messages: list[dict], chat: bool = True) -> list[int]:
    """Token ids of ``messages`` followed by the assistant header (chat template), or
    the raw text of the last message after BOS for a model without a template."""
    if chat and has_chat_template(tokenizer):
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return tokenizer(text, add_special_tokens=False)["input_ids"]
    return (
        bos_prefix(tokenizer)
        + tokenizer(messages[-1]["content"], add_special_tokens=False)["input_ids"]
    )


def _chat_case(tokenizer, row: dict, fmt: RowFormat) -> PromptCase | None:
    messages = row.get(fmt.messages) or []
    last = max((i for i, m in enumerate(messages) if m.get("role") == "assistant"), default=None)
    if not last:
        return None
    context = messages[:last]
    return PromptCase(
        render_prompt(tokenizer, context), context[-1]["content"], messages[last]["content"]
    )


def _pair_case(tokenizer, row: dict, fmt: RowFormat) -> PromptCase:
    prompt = str(row[fmt.prompt])
    ids = render_prompt(tokenizer, [{"role": "user", "content": prompt}], fmt.chat_template)
    return PromptCase(ids, prompt, str(row[fmt.completion]))
