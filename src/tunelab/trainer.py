"""The training loop, on accelerate: fit / train_epoch / evaluate.

Device placement, mixed precision and gradient accumulation come from ``accelerate``;
the loop adds what fine-tuning needs: per-epoch validation, stateful callbacks (early
stopping, unfreezing), last + best checkpoints and exact resume (``train_checkpoints``),
and a policy for non-finite steps (``nonfinite``).
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from rich.console import Console
from rich.progress import Progress

from tunelab.acceleration import (
    build_accelerator,
    cache_accelerate_package_checks,
    check_device,
    check_mixed_precision,
    compile_in_place,
    intra_op_threads,
    native_bf16,
    precision_used,
)
from tunelab.callbacks import Callback
from tunelab.config import TrainConfig
from tunelab.errors import ConfigError
from tunelab.io import append_jsonl, write_text
from tunelab.layers import LayerGroup, count_params, eval_mode, set_train_mode
from tunelab.nonfinite import NonfiniteGuard
from tunelab.objective import Batches, EvalResult, Objective
from tunelab.optim import build_optimizer, build_param_groups, build_scheduler
from tunelab.progress import RunningLoss, format_history_row, progress_bar
from tunelab.stopping import early_stopping_for, stop_lines
from tunelab.strategies.base import GroupPlan
from tunelab.train_checkpoints import TrainCheckpoints, trained_param_names


@dataclass
class TrainState:
    """Where training is: everything besides weights and optimizer that resume needs."""

    epoch: int = 0
    step: int = 0
    batch_in_epoch: int = 0
    best_value: float | None = None
    best_epoch: int | None = None
    best_step: int | None = None
    epoch_seconds: list[float] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)
    stopped_early: bool = False
    nonfinite_skipped: int = 0  # optimizer steps skipped for a NaN/inf loss or gradient
    running: list[float] = field(default_factory=list)  # this epoch's RunningLoss sums
    # group name -> {epoch (0-based), step (optimizer steps done)} when it became trainable
    unfrozen: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def train_seconds(self) -> float:
        """Wall time spent in training epochs (in-epoch evaluations included)."""
        return float(sum(self.epoch_seconds))


def check_grad_accum(cfg: TrainConfig, num_examples: int) -> None:
    """ConfigError when one epoch has fewer batches than ``grad_accum_steps``.

    The optimizer steps once per ``grad_accum_steps`` batches; with fewer batches in an
    epoch a short run takes no step at all and returns the untrained model.
    """
    batches = math.ceil(num_examples / cfg.batch_size)
    if cfg.grad_accum_steps > batches:
        raise ConfigError(
            f"train.grad_accum_steps={cfg.grad_accum_steps} but an epoch has only {batches} "
            f"batches ({num_examples} training examples / train.batch_size "
            f"{cfg.batch_size}), so no optimizer step would be taken; set "
            f"train.grad_accum_steps <= {batches} or lower train.batch_size"
        )


class Trainer:
    """Trains a model according to a strategy's plans, scored by a task's objective.

    The loop knows no task: the batch's ``labels`` are the objective's targets, the
    model's output is what the objective scores, and early stopping monitors one of
    the objective's metrics.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        groups: list[LayerGroup],
        plans: list[GroupPlan],
        cfg: TrainConfig,
        train_data,
        val_data,
        objective: Objective,
        run_dir: Path | None = None,
        callbacks: list[Callback] | None = None,
        console: Console | None = None,
    ) -> None:
        check_device(cfg.device)
        check_mixed_precision(cfg.mixed_precision, cfg.device)
        check_grad_accum(cfg, len(train_data))
        self.cfg, self.groups, self.plans, self.objective = cfg, groups, plans, objective
        self.train_data, self.val_data, self.run_dir = train_data, val_data, run_dir
        self.console = console or Console(quiet=True)
        self.accelerator = build_accelerator(cfg.device, cfg.mixed_precision, cfg.grad_accum_steps)
        self.precision = precision_used(self.accelerator, model, cfg.mixed_precision)
        self._print_precision()
        self.early_stopping = early_stopping_for(cfg, objective)
        self.callbacks = [*(callbacks or []), self.early_stopping]
        self.state = TrainState()
        self.model = model
        trained_names = trained_param_names(model, groups, plans)
        self.steps_per_epoch = math.ceil(
            self._batches_per_process(len(train_data)) / cfg.grad_accum_steps
        )
        self.total_steps = cfg.max_steps or cfg.epochs * self.steps_per_epoch
        self.num_epochs = math.ceil(self.total_steps / self.steps_per_epoch)
        optimizer = build_optimizer(build_param_groups(model, groups, plans, cfg), cfg)
        # The scheduler stays outside accelerate, which would step it once per process
        # per optimizer step; it counts this process's steps (see _batches_per_process).
        self.scheduler = build_scheduler(optimizer, cfg, self.total_steps)
        self.model, self.optimizer = self.accelerator.prepare(model, optimizer)
        if cfg.compile:
            compile_in_place(self._unwrapped())
        self.checkpoints = TrainCheckpoints(
            run_dir,
            self._unwrapped(),
            trained_names,
            self.optimizer,
            self.scheduler,
            self.callbacks,
        )
        self.nonfinite = NonfiniteGuard(cfg, self.accelerator.mixed_precision == "fp16")
        cache_accelerate_package_checks()
        self._trainable_params: list[torch.nn.Parameter] | None = None
        self._modes_stale = True  # train/eval modes per group are set at the first epoch

    @property
    def device(self) -> torch.device:
        """Where batches go."""
        return self.accelerator.device

    def autocast(self) -> contextlib.AbstractContextManager:
        """The training forward's precision context (autocast under bf16/fp16, else none):
        what runs part of the model outside the loop (the frozen-prefix cache) uses it."""
        return self.accelerator.autocast()

    def _print_precision(self) -> None:
        """One line: what the run computes in, and a warning where that is slow."""
        used, device = self.precision, self.accelerator.device.type
        how = "no autocast" if self.accelerator.native_amp is False else "autocast"
        self.console.print(
            f"precision: {used['compute']} on {device} ({how}, {used['weights']} weights; "
            f"train.mixed_precision {used['requested']})"
        )
        if used["compute"] == "bf16" and device == "cpu" and not native_bf16("cpu"):
            self.console.print(
                "[yellow]warning:[/] this CPU has no native bf16 (AVX512-BF16/AMX): bf16 is "
                "emulated and slower than fp32; train.mixed_precision no is faster here"
            )

    # ----------------------------------------------------------------- fit
    def fit(self, resume: bool = False) -> TrainState:
        """Train to ``max_steps`` / ``epochs`` or early stop, then restore the best weights."""
        if resume:
            self._resume()
        elif self.run_dir is not None:
            write_text(self.run_dir / "history.jsonl", "")
        threads = getattr(self.train_data, "intra_op_threads", None)
        with progress_bar(self.console) as progress, intra_op_threads(threads):
            while self.state.epoch < self.num_epochs and not self._done():
                self.train_epoch(self.state.epoch, progress)
                if self.early_stopping.should_stop:
                    self.state.stopped_early = True
                    break
        self.nonfinite.check_trained(self.state, self.console)
        for line in stop_lines(self.early_stopping, self.state, self.num_epochs):
            self.console.print(line)
        if self.state.best_value is not None:
            self.checkpoints.restore_best()
        return self.state

    def _done(self) -> bool:
        return self.state.step >= self.total_steps or self.early_stopping.should_stop

    def train_epoch(self, epoch: int, progress: Progress | None = None) -> None:
        """One pass over this epoch's batches (skipping those done before a resume)."""
        for callback in self.callbacks:
            callback.on_epoch_start(self, epoch)
        if self._modes_stale:  # after that, evaluate() and unfreezing keep the modes right
            set_train_mode(self.model, self.groups)
            self._modes_stale = False
        batches = self._shard(
            self.train_data.epoch_batches(
                self.cfg.batch_size, self.cfg.seed, epoch, self.cfg.group_by_length
            )
        )
        task = (
            progress.add_task(
                f"epoch {epoch + 1}/{self.num_epochs}",
                total=len(batches),
                completed=self.state.batch_in_epoch,
                info="",
            )
            if progress
            else None
        )
        resumed_sums = self.state.running if self.state.batch_in_epoch else []
        started, seen, running = time.perf_counter(), 0, RunningLoss(*resumed_sums)
        for indices in batches[self.state.batch_in_epoch :]:
            scored = self._train_batch(indices)
            if scored is not None:  # None: a skipped non-finite step, kept out of the mean
                running.add(*scored, len(indices))
            seen += len(indices)
            self.state.batch_in_epoch += 1
            if progress is not None:
                rate = seen / max(time.perf_counter() - started, 1e-9)
                progress.update(
                    task,
                    advance=1,
                    info=f"loss {running.loss:.4f} "
                    f"lr {self.scheduler.get_last_lr()[-1]:.2e} {rate:.0f} ex/s",
                )
            if self._step_eval_due():
                self._evaluate_and_checkpoint(running, started)
            if self._done():
                break
        self.state.epoch_seconds.append(time.perf_counter() - started)
        self.state.epoch, self.state.batch_in_epoch = epoch + 1, 0
        self._evaluate_and_checkpoint(running, started)

    def _train_batch(self, indices: list[int]) -> tuple[float, float] | None:
        """Loss and score of one batch, or None when its non-finite update was skipped."""
        batch = self._to_device(self.train_data.collate(indices))
        targets = batch.pop("labels")
        with self.accelerator.accumulate(self.model), self.accelerator.autocast():
            outputs = self.model(**batch)
            loss = self.objective.loss(outputs, targets)
            loss_value = float(loss.detach())
            finite = self.nonfinite.finite("loss", loss_value, self.state)
            if finite:
                self.accelerator.backward(loss)
            if self.accelerator.sync_gradients:
                finite = self._clip_gradients() and finite
            if finite:
                self.optimizer.step()
            self.scheduler.step() if self.accelerator.sync_gradients else None
            self.optimizer.zero_grad(set_to_none=True)
        if self.accelerator.sync_gradients:
            self.state.step += 1
            self.state.nonfinite_skipped += not finite
            for callback in self.callbacks:
                callback.on_step_end(self, self.state.step)
        if not finite:
            return None
        return loss_value, self.objective.batch_score(outputs.detach(), targets)

    def _clip_gradients(self) -> bool:
        """Clip to ``train.grad_clip``; whether the gradient norm is finite.

        Under fp16 an overflowing gradient is the loss scaler's business: it skips that
        step and lowers the scale, so only the loss is checked there.
        """
        fp16 = self.nonfinite.fp16
        if self.cfg.grad_clip:
            norm = self.accelerator.clip_grad_norm_(self._trainable(), self.cfg.grad_clip)
        elif not fp16:
            grads = [p.grad for p in self._trainable() if p.grad is not None]
            norm = torch.nn.utils.get_total_norm(grads) if grads else None
        if fp16 or norm is None:
            return True
        return self.nonfinite.finite("gradient norm", float(norm), self.state)

    def _step_eval_due(self) -> bool:
        every = self.cfg.eval_every_steps
        return bool(every) and self.accelerator.sync_gradients and self.state.step % every == 0

    # ------------------------------------------------------------ evaluate
    @torch.inference_mode()
    def evaluate(self, data) -> EvalResult:
        """The objective's metrics on ``data`` (train/eval modes restored after)."""
        with eval_mode(self.model):
            return self.objective.evaluate(self._eval_outputs(data), len(data))

    def _eval_outputs(self, data) -> Batches:
        for indices in data.eval_batches(self.cfg.eval_batch_size):
            batch = self._to_device(data.collate(indices))
            targets = batch.pop("labels")
            with self.accelerator.autocast():
                outputs = self.model(**batch)
            yield indices, outputs.float(), targets

    def _evaluate_and_checkpoint(self, running: RunningLoss, started: float) -> None:
        result = self.evaluate(self.val_data)
        for callback in self.callbacks:
            callback.on_evaluate(self, result.metrics)
        row = self._history_row(result.metrics, running, started)
        if self.early_stopping.improved:
            self.state.best_value = self.early_stopping.best
            self.state.best_epoch, self.state.best_step = row["epoch"], row["step"]
            self.checkpoints.save_best()
        self.state.history.append(row)
        if not self.console.quiet:  # rich renders even for a quiet console: ~1 ms a line
            self.console.print(format_history_row(row, self.objective))
        if self.run_dir is not None:
            append_jsonl(self.run_dir / "history.jsonl", row)
            self.state.running = running.state()
            self.checkpoints.save_last(self.state)

    def _history_row(self, metrics: dict, running: RunningLoss, started: float) -> dict:
        train_metric = self.objective.train_metric
        return {
            "epoch": self.state.epoch if self.state.batch_in_epoch == 0 else self.state.epoch + 1,
            "step": self.state.step,
            "train_loss": running.loss,
            **({f"train_{train_metric}": running.score} if train_metric else {}),
            **{f"val_{name}": metrics[name] for name in self.objective.metric_names()},
            "lr": self.scheduler.get_last_lr()[0],
            "phase": self._phase(),
            "trainable_params": sum(p.numel() for p in self._trainable()),
            "seconds": time.perf_counter() - started,
        }

    def _resume(self) -> None:
        self.state = TrainState(**self.checkpoints.resume(self.console))
        self.console.print(f"resumed from epoch {self.state.epoch}, step {self.state.step}")

    # ------------------------------------------------------------- helpers
    def on_trainable_changed(self) -> None:
        """Unfreezing moved a group: refresh train/eval modes, record and report it."""
        self._trainable_params = None
        set_train_mode(self.model, self.groups)
        opened = self._record_unfrozen()
        trainable, total = count_params(self.model)
        self.console.print(
            f"unfreeze phase {self._phase()} at epoch {self.state.epoch + 1}, after step "
            f"{self.state.step}: {', '.join(opened) or 'no new group'} unfrozen; "
            f"{trainable:,} of {total:,} trainable"
        )
        for callback in self.callbacks:
            callback.on_trainable_changed(self)

    def _record_unfrozen(self) -> list[str]:
        """Note when each planned-frozen group first became trainable: the report draws
        what happened, not the plan (``layers.json``'s ``unfrozen_at``)."""
        done = self.state.unfrozen
        opened = [
            group.name
            for group, plan in zip(self.groups, self.plans, strict=True)
            if plan.state == "frozen" and group.num_trainable and group.name not in done
        ]
        for name in opened:
            self.state.unfrozen[name] = {"epoch": self.state.epoch, "step": self.state.step}
        return opened

    def use_data(self, train_data, val_data) -> None:
        """Swap in equivalent batch sources: same examples, order, lengths and labels.

        The frozen-prefix cache calls this when the cut moves; because indices and
        lengths are unchanged, the current epoch's batch plan stays valid.
        """
        self.train_data, self.val_data = train_data, val_data

    def _phase(self) -> int:
        return next((c.phase for c in self.callbacks if hasattr(c, "phase")), 0)

    def _unwrapped(self) -> torch.nn.Module:
        return self.accelerator.unwrap_model(self.model)

    def _trainable(self) -> list[torch.nn.Parameter]:
        """Parameters with gradients (kept until unfreezing changes them: a full walk of
        the model per step costs about a millisecond)."""
        if self._trainable_params is None:
            self._trainable_params = [p for p in self.model.parameters() if p.requires_grad]
        return self._trainable_params

    def _to_device(self, batch: dict) -> dict:
        return {
            k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()
        }

    def _batches_per_process(self, examples: int) -> int:
        """Training batches this process takes per epoch (:meth:`_shard`)."""
        batches, world = math.ceil(examples / self.cfg.batch_size), self.accelerator.num_processes
        return batches if world == 1 else batches // world

    def _shard(self, batches: list[list[int]]) -> list[list[int]]:
        """Each DDP process (accelerate launch / torchrun) takes every n-th batch."""
        world, rank = self.accelerator.num_processes, self.accelerator.process_index
        if world == 1:
            return batches
        usable = len(batches) - len(batches) % world
        return batches[rank:usable:world]
