"""Loss masks on the real SmolLM2 tokenizer (and a BOS-adding tiny one): exact tokens."""

from __future__ import annotations

import copy

import pytest

from tests.tasks.causal_lm.conftest import CHATML, make_tiny_tokenizer
from tunelab.errors import DataError
from tunelab.tasks.causal_lm.batches import CausalLMBatches
from tunelab.tasks.causal_lm.data import (
    IGNORE_INDEX,
    CausalExample,
    RowFormat,
    chat_example,
    drop_doubled_bos,
    encode_rows,
    pair_example,
    text_example,
)

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "hi there"},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "capital of France?"},
    {"role": "assistant", "content": "Paris."},
]
# SmolLM2's own template with {% generation %} around the assistant turn.
CHATML_MARKED = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by "
    "Hugging Face<|im_end|>\n' }}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{ '<|im_start|>assistant\n' }}{% generation %}"
    "{{ message['content'] + '<|im_end|>' + '\n' }}{% endgeneration %}"
    "{% else %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + "
    "'<|im_end|>' + '\n' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def supervised_text(tokenizer, example: CausalExample) -> str:
    return tokenizer.decode([t for t in example.labels if t != IGNORE_INDEX])


def unsupervised_text(tokenizer, example: CausalExample) -> str:
    ids = example.input_ids
    return tokenizer.decode(
        [t for t, lab in zip(ids, example.labels, strict=True) if lab == IGNORE_INDEX]
    )


def test_smollm2_tokenizer_facts_these_tests_rely_on(smollm2_tokenizer) -> None:
    tok = smollm2_tokenizer
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == (
        "<|im_start|>",
        "<|im_end|>",
        "<|im_end|>",
    )
    assert tok.pad_token_id == tok.eos_token_id == 2


def test_only_assistant_turns_are_supervised(smollm2_tokenizer) -> None:
    example = chat_example(smollm2_tokenizer, CHAT, row=1)
    assert supervised_text(smollm2_tokenizer, example) == (
        "Hello! How can I help?<|im_end|>\nParis.<|im_end|>\n"
    )
    rest = unsupervised_text(smollm2_tokenizer, example)
    assert rest == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi there<|im_end|>\n"
        "<|im_start|>assistant\n<|im_start|>user\ncapital of France?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    assert (
        example.input_ids == smollm2_tokenizer.apply_chat_template(CHAT, tokenize=True)["input_ids"]
    )


def test_end_of_turn_is_labelled_even_though_pad_is_eos(smollm2_tokenizer) -> None:
    example = chat_example(smollm2_tokenizer, CHAT)
    eos = smollm2_tokenizer.eos_token_id
    assert example.labels.count(eos) == 2  # one per assistant turn, none for system/user
    assert example.input_ids.count(eos) == 5  # every turn ends with it


def test_exactly_one_bos_at_the_start(smollm2_tokenizer) -> None:
    example = chat_example(smollm2_tokenizer, CHAT)
    bos = smollm2_tokenizer.bos_token_id
    assert example.input_ids[0] == bos and example.input_ids[1] != bos


def test_template_bos_plus_tokenizer_bos_gives_one_bos() -> None:
    tok = make_tiny_tokenizer()  # template renders <s>, tokenizer adds <s> to plain text too
    chat = chat_example(
        tok, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    )
    assert chat.input_ids[:2] == [tok.bos_token_id, tok.convert_tokens_to_ids("<|im_start|>")]
    assert tok.convert_ids_to_tokens(chat.input_ids).count("<s>") == 1
    pair = pair_example(tok, "hi", "hello", chat=False)
    assert tok.convert_ids_to_tokens(pair.input_ids) == ["<s>", "hi", "hello", "</s>"]
    assert pair.labels[:2] == [IGNORE_INDEX, IGNORE_INDEX]
    doubled = text_example(tok, "<s> hi")
    assert tok.convert_ids_to_tokens(doubled.input_ids) == ["<s>", "hi", "</s>"]


def test_drop_doubled_bos_keeps_labels_aligned() -> None:
    example = drop_doubled_bos(CausalExample([1, 1, 5, 2], [-100, -100, 5, 2]), 1)
    assert example == CausalExample([1, 5, 2], [-100, 5, 2])
    assert drop_doubled_bos(CausalExample([1, 5], [-100, 5]), None).input_ids == [1, 5]


def test_generation_markers_give_the_same_mask_as_prefix_rendering(smollm2_tokenizer) -> None:
    marked = copy.copy(smollm2_tokenizer)
    marked.chat_template = CHATML_MARKED
    for messages in (CHAT, CHAT[1:]):
        assert chat_example(marked, messages) == chat_example(smollm2_tokenizer, messages)


def test_prompt_completion_through_the_chat_template(smollm2_tokenizer) -> None:
    example = pair_example(smollm2_tokenizer, "capital of France?", "Paris.")
    assert supervised_text(smollm2_tokenizer, example) == "Paris.<|im_end|>\n"
    prompt = smollm2_tokenizer.apply_chat_template(
        [{"role": "user", "content": "capital of France?"}],
        tokenize=False,
        add_generation_prompt=True,
    )
    assert unsupervised_text(smollm2_tokenizer, example) == prompt  # as prompted at inference


def test_prompt_completion_raw(smollm2_tokenizer) -> None:
    tok = smollm2_tokenizer
    example = pair_example(tok, "Q: capital of France? A:", " Paris", chat=False)
    answer = tok(" Paris", add_special_tokens=False)["input_ids"]
    assert [t for t in example.labels if t != IGNORE_INDEX] == [*answer, tok.eos_token_id]
    assert example.input_ids[-1] == tok.eos_token_id


def test_plain_text_supervises_every_token_and_eos(smollm2_tokenizer) -> None:
    tok = smollm2_tokenizer
    example = text_example(tok, "Tunelab fine-tunes models.")
    assert example.labels == example.input_ids  # SmolLM2 adds no BOS to plain text
    assert example.input_ids[-1] == tok.eos_token_id
    assert tok.decode(example.input_ids) == "Tunelab fine-tunes models.<|im_end|>"


def test_eos_stays_in_the_batch_labels_when_pad_is_eos(smollm2_tokenizer) -> None:
    tok = smollm2_tokenizer
    examples = [text_example(tok, "a short one"), text_example(tok, "a somewhat longer text here")]
    batch = CausalLMBatches.build(examples, tok.pad_token_id, 64).collate([0, 1])
    short = len(examples[0])
    assert batch["input_ids"][0, short - 1] == tok.eos_token_id
    assert batch["labels"][0, short - 1] == tok.eos_token_id  # EOS learned
    assert batch["input_ids"][0, short:].tolist() == [tok.pad_token_id] * (
        batch["input_ids"].shape[1] - short
    )
    assert (batch["labels"][0, short:] == IGNORE_INDEX).all()  # padding: same id, no loss
    assert batch["attention_mask"][0].tolist() == [1] * short + [0] * (
        batch["input_ids"].shape[1] - short
    )
    assert batch["labels"][1, -1] == tok.eos_token_id


def test_rows_with_nothing_left_after_truncation_are_counted_and_left_out(
    smollm2_tokenizer,
) -> None:
    long_user = {"role": "user", "content": "word " * 200}
    rows = [
        {"messages": CHAT},
        {"messages": [long_user, {"role": "assistant", "content": "ok"}]},
        {"messages": CHAT[1:3]},
    ]
    examples, summary = encode_rows(smollm2_tokenizer, rows, RowFormat("chat"), max_length=64)
    assert (summary.rows, summary.kept, summary.truncated) == (3, 2, 1)
    assert summary.empty_after_truncation == 1 and summary.empty_rows == [2]
    assert len(examples) == 2 and all(len(e) <= 64 for e in examples)
    assert summary.supervised_tokens == sum(e.num_supervised for e in examples)
    assert "1 of 3 rows left out" in summary.warnings(64)[0]


def test_truncation_keeps_rows_that_still_have_supervised_tokens(smollm2_tokenizer) -> None:
    examples, summary = encode_rows(smollm2_tokenizer, [{"messages": CHAT}], RowFormat(), 36)
    assert summary.truncated == 1 and summary.kept == 1
    assert supervised_text(smollm2_tokenizer, examples[0]) == "Hello! How can I help?<|im_end|>\n"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"text": "hi"}, "row 1: no 'messages' field for data.format chat; found text"),
        ({"messages": "hi"}, "row 1: messages must be a non-empty list"),
        ({"messages": []}, "row 1: messages must be a non-empty list"),
        (
            {"messages": [{"role": "user"}]},
            "row 1, message 0: expected an object with role and content",
        ),
        (
            {"messages": [{"role": "bot", "content": "x"}]},
            "row 1, message 0: unknown role 'bot'; use one of system, user, assistant, tool",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": " "},
                ]
            },
            "row 1, message 1: empty assistant turn",
        ),
        ({"messages": [{"role": "user", "content": "hi"}]}, "row 1: no assistant turn"),
        (
            {
                "messages": [
                    {"role": "assistant", "content": "hi"},
                    {"role": "user", "content": "x"},
                ]
            },
            "row 1: the first message is an assistant turn",
        ),
    ],
)
def test_bad_chat_rows_are_one_line_data_errors(smollm2_tokenizer, row, message) -> None:
    with pytest.raises(DataError) as err:
        encode_rows(smollm2_tokenizer, [row], RowFormat("chat"), 64)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_error_names_the_row_number(smollm2_tokenizer) -> None:
    rows = [{"messages": CHAT}, {"messages": CHAT}, {"messages": [{"role": "user", "content": 1}]}]
    with pytest.raises(DataError, match=r"^row 3, message 0: content must be text"):
        encode_rows(smollm2_tokenizer, rows, RowFormat(), 64)


def test_role_the_template_rejects_is_a_data_error() -> None:
    strict = CHATML.replace(
        "{% for m in messages %}",
        "{% for m in messages %}{% if m['role'] == 'tool' %}"
        "{{ raise_exception('tool messages are not supported') }}{% endif %}",
    )
    tok = make_tiny_tokenizer(strict)
    messages = [
        {"role": "user", "content": "hi"},
        {"role": "tool", "content": "a"},
        {"role": "assistant", "content": "hello"},
    ]
    with pytest.raises(DataError, match="row 4: the chat template rejects this conversation: tool"):
        chat_example(tok, messages, row=4)


def test_template_that_rewrites_earlier_turns_is_refused() -> None:
    unstable = CHATML.replace("{{ bos_token }}", "{{ bos_token }}{{ messages | length }}")
    tok = make_tiny_tokenizer(unstable)
    with pytest.raises(DataError, match="renders turn 1 differently once later turns follow"):
        chat_example(
            tok, [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
        )


def test_pairs_and_text_errors(smollm2_tokenizer) -> None:
    with pytest.raises(DataError, match="row 1: no 'completion' field"):
        encode_rows(smollm2_tokenizer, [{"prompt": "q"}], RowFormat("pairs"), 64)
    with pytest.raises(DataError, match="row 2: empty or missing completion"):
        rows = [{"prompt": "q", "completion": "a"}, {"prompt": "q", "completion": ""}]
        encode_rows(smollm2_tokenizer, rows, RowFormat("pairs"), 64)
    with pytest.raises(DataError, match="row 1: empty or missing text"):
        encode_rows(smollm2_tokenizer, [{"text": None}], RowFormat("text"), 64)
    with pytest.raises(DataError, match="data.format 'csv' is unknown"):
        RowFormat("csv")


def test_custom_column_names(smollm2_tokenizer) -> None:
    fmt = RowFormat("pairs", prompt="question", completion="answer")
    examples, summary = encode_rows(
        smollm2_tokenizer, [{"question": "capital of France?", "answer": "Paris."}], fmt, 64
    )
    assert (
        summary.kept == 1
        and supervised_text(smollm2_tokenizer, examples[0]) == "Paris.<|im_end|>\n"
    )
