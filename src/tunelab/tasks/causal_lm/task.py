"""The causal-LM task: chat SFT, prompt/completion pairs and domain adaptation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from tunelab.config import Config
from tunelab.errors import ConfigError
from tunelab.models.registry import resolve_model_path
from tunelab.tasks.base import (
    BuiltModel,
    ExportSignature,
    Task,
    TaskSections,
    register_task,
)
from tunelab.tasks.causal_lm.config import (
    CausalLMDataConfig,
    CausalLMModelConfig,
    CausalLMTrainConfig,
)
from tunelab.tasks.causal_lm.objective import CausalLMObjective


@register_task
class CausalLMTask(Task):
    """Fine-tune a decoder on chat turns, completions or plain text (loss where it writes)."""

    name = "causal_lm"
    noun = "prompts"
    input_key = "prompt"
    request_key = "prompts"
    objective_class = CausalLMObjective
    strategies = ("top_k", "full", "gradual_unfreeze", "discriminative_lr", "lora", "layers")
    has_baseline = True

    def sections(self) -> TaskSections:
        return TaskSections(CausalLMModelConfig, CausalLMDataConfig, CausalLMTrainConfig)

    def owns_model(self, model_name: str) -> bool:
        from tunelab.tasks.causal_lm.model import is_causal_lm_config

        if super().owns_model(model_name):
            return True
        config = Path(model_name).expanduser() / "config.json"
        if not config.is_file():
            return False
        from transformers import AutoConfig

        settings = AutoConfig.from_pretrained(str(config.parent), trust_remote_code=False)
        return is_causal_lm_config(settings)

    # -------------------------------------------------------------- training
    def prepare_data(self, cfg: Config):
        from tunelab.tasks.causal_lm.model import check_causal_lm, load_causal_tokenizer
        from tunelab.tasks.causal_lm.splits import prepare_lm_data

        path = _checkpoint(cfg.model.name)
        check_causal_lm(path)
        tokenizer = load_causal_tokenizer(path)
        return prepare_lm_data(cfg.data, tokenizer, cfg.model.max_length)

    def build_model(self, cfg: Config, splits) -> BuiltModel:
        from tunelab.tasks.causal_lm.model import load_causal_lm
        from tunelab.tasks.causal_lm.module import CausalLM

        path = _checkpoint(cfg.model.name)
        backbone, tokenizer = load_causal_lm(path, pretrained=cfg.model.pretrained)
        return BuiltModel(CausalLM(backbone), tokenizer, path if cfg.model.pretrained else None)

    def objective(self, cfg: Config, splits) -> CausalLMObjective:
        return CausalLMObjective()

    def batch_sources(
        self, cfg: Config, built: BuiltModel, splits, cached: bool, console: Console
    ) -> dict[str, Any]:
        from tunelab.tasks.causal_lm.batches import CausalLMBatches

        pad = built.processor.pad_token_id
        return {
            name: CausalLMBatches.build(
                examples, pad, cfg.model.max_length, pack=cfg.data.pack and name == "train"
            )
            for name, examples in splits.examples.items()
        }

    def final_metrics(self, cfg: Config, model, built: BuiltModel, splits, device) -> dict:
        from tunelab.tasks.causal_lm.evaluation import score_run

        return score_run(cfg, model, built, splits, device)

    # -------------------------------------------------------------- shipping
    def predictor(self, model, built: BuiltModel, splits, cfg: Config, device: Any):
        from tunelab.tasks.causal_lm.predictor import CausalLMPredictor

        return CausalLMPredictor(
            model, built.processor, cfg.model.max_length, cfg.train.max_new_tokens, device
        )

    def latency_inputs(self, splits, limit: int) -> list:
        """A few held-out prompts: one generation each is timed."""
        return [case.prompt for case in _cases(splits, 3)]

    def save_model(self, model_dir: Path, model, built: BuiltModel, splits, cfg: Config) -> Path:
        from tunelab.tasks.causal_lm.save import save_causal_lm

        return save_causal_lm(model_dir, model, built.processor, cfg, built.source)

    def load_predictor(self, model_dir: Path, card: dict, device: str):
        from tunelab.tasks.causal_lm.predictor import load_causal_predictor

        return load_causal_predictor(model_dir, card, device)

    def read_inputs(
        self,
        run_dir: Path,
        arguments: list[str],
        input_file: Path | None,
        fields: dict[str, str] | None = None,
    ) -> list:
        """``{"prompt"}`` per argument, then ``{"line", "prompt"}`` per line of a ``.txt``;
        an empty one carries an ``error``."""
        from tunelab.io import read_line_records

        records = [
            {"prompt": p, "error": f"argument {n}: empty prompt"}
            if not p.strip()
            else {"prompt": p}
            for n, p in enumerate(arguments, start=1)
        ]
        if input_file is not None:
            records += read_line_records(
                Path(input_file), "prompt", "empty prompt", "pass a .txt of prompts"
            )
        return records

    def request_inputs(self, payload: dict[str, Any]) -> list:
        prompts = payload.get("prompts")
        if prompts is None or set(payload) != {"prompts"}:
            raise ValueError('this model generates text: send {"prompts": ["...", ...]}')
        if any(not isinstance(p, str) or not p.strip() for p in prompts):
            raise ValueError("prompts must be non-empty strings")
        return prompts

    def evaluate_source(self, predictor, run_dir: Path, source: str, columns: dict) -> dict:
        from tunelab.tasks.causal_lm.evaluation import evaluate_source

        return evaluate_source(predictor, run_dir, source)

    def export_signature(self, predictor) -> ExportSignature:
        raise ConfigError(
            "ONNX export of a causal LM is not supported by tunelab export: model/ is an HF "
            "directory; export it with optimum (optimum-cli export onnx --model RUN/model)"
        )

    def report_sections(self, run) -> list:
        from tunelab.tasks.causal_lm.report import causal_lm_report_sections

        return causal_lm_report_sections(run)

    def describe_layers(self, model_name: str) -> list[dict]:
        from tunelab.tasks.causal_lm.model import decoder_layer_groups, load_causal_lm

        model, _ = load_causal_lm(_checkpoint(model_name))
        return [{"name": g.name, "params": g.num_params} for g in decoder_layer_groups(model)]


def _checkpoint(name: str) -> Path:
    """The local HF directory of a known name or path (a ``.gguf`` file de-quantized)."""
    from tunelab.tasks.causal_lm.model import dequantized_checkpoint

    path = resolve_model_path(name)
    return dequantized_checkpoint(path) if path.suffix == ".gguf" else path


def _cases(splits, limit: int) -> list:
    from tunelab.tasks.causal_lm.prompts import prompt_cases

    return prompt_cases(splits.tokenizer, splits.test, splits.fmt, limit)
