"""Solve a linear head on cached features instead of training it with SGD.

When the backbone is frozen and the head is one linear layer, training the head is a
convex problem: the task's loss (class-weighted cross-entropy for classification) of
``x @ W.T + b`` plus an L2 penalty on ``W``. Full-batch L-BFGS solves it to convergence
in well under a second for thousands of cached feature vectors, where mini-batch AdamW
with early stopping on a small, noisy validation split stops wherever the metric last
peaked. The penalty plays the role of scikit-learn's ``C`` (``weight_decay = 1 / (C n)``
with balanced class weights) and is chosen on the validation split by the task's own
monitored metric, like ``LogisticRegressionCV`` chooses ``C`` by cross-validation.

The module knows no task: the loss and the metrics are the run's :class:`Objective`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from tunelab.layers import LayerGroup
from tunelab.objective import Objective, better

# Penalties tried, strongest first (each solve warm-starts from the previous one):
# 1e-6 .. 10 covers scikit-learn's default Cs (1e-4 .. 1e4) for 100-20k examples.
WEIGHT_DECAYS: tuple[float, ...] = tuple(float(d) for d in np.geomspace(10.0, 1e-6, 15))
MAX_ITERATIONS = 500


@dataclass(frozen=True)
class HeadPenalties:
    """The weight decays a strategy has the head solved with, and why those.

    Attributes:
        decays: penalties to try, strongest first; the best on validation is kept.
        reason: how a single fixed penalty was set (None: chosen on validation).
    """

    decays: tuple[float, ...] = WEIGHT_DECAYS
    reason: str | None = None


@dataclass
class HeadSolution:
    """The solved head and how it was chosen.

    Attributes:
        weight_decay: the chosen L2 penalty.
        metrics: the validation metrics of the chosen head.
        path: one ``{"weight_decay", "<monitor>", "loss", "iterations"}`` per penalty
            tried, in the order tried.
        seconds: wall time of all solves.
    """

    weight: torch.Tensor
    bias: torch.Tensor
    weight_decay: float
    metrics: dict[str, float]
    path: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def linear_head(head: LayerGroup) -> nn.Linear | None:
    """The head group's one :class:`nn.Linear` when that is all it trains, else None.

    A head of dropout + linear qualifies (dropout is the identity at inference, so the
    solved weights are exactly the head); one with hidden layers does not.
    """
    linears = [m for module in head.modules for m in module.modules() if isinstance(m, nn.Linear)]
    if len(linears) != 1:
        return None
    own = {id(p) for p in linears[0].parameters()}
    return linears[0] if own == {id(p) for p in head.params} else None


def solve_linear_head(
    train: tuple[torch.Tensor, torch.Tensor],
    validation: tuple[torch.Tensor, torch.Tensor],
    objective: Objective,
    num_outputs: int,
    decays: tuple[float, ...] = WEIGHT_DECAYS,
) -> HeadSolution:
    """Solve ``objective.loss(x @ W.T + b) + decay / 2 * |W|^2`` for each decay; keep the
    solution whose validation ``objective.monitor`` is best (ties: the stronger penalty,
    which was tried first).

    Args:
        train: features ``(n, d)`` and targets of the training split.
        validation: the same for the validation split.
        objective: the run's objective (its loss, metrics and monitored metric).
        num_outputs: rows of ``W`` (classes).
        decays: penalties to try, strongest first.
    """
    started = time.perf_counter()
    # clones: cached features are inference-mode tensors, which autograd refuses
    train_x, train_y = train[0].float().clone(), train[1].clone()
    val_x = validation[0].float()
    weight = torch.zeros(num_outputs, train_x.shape[1], requires_grad=True)
    bias = torch.zeros(num_outputs, requires_grad=True)
    monitor, mode = objective.monitor, objective.spec(objective.monitor).mode
    best: HeadSolution | None = None
    path = []
    for decay in decays:
        iterations = _lbfgs(weight, bias, train_x, train_y, objective, decay)
        metrics = _validation_metrics(weight, bias, val_x, validation[1], objective)
        path.append(
            {"weight_decay": decay, monitor: metrics[monitor], "loss": metrics["loss"],
             "iterations": iterations}
        )  # fmt: skip
        if best is None or better(mode, metrics[monitor], best.metrics[monitor]):
            best = HeadSolution(weight.detach().clone(), bias.detach().clone(), decay, metrics)
    assert best is not None, "decays is empty"
    best.path, best.seconds = path, time.perf_counter() - started
    return best


def _lbfgs(
    weight: torch.Tensor,
    bias: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    objective: Objective,
    decay: float,
) -> int:
    """Minimise the penalised full-batch loss in place; return the iterations taken."""
    optimizer = torch.optim.LBFGS(
        [weight, bias],
        lr=1.0,
        max_iter=MAX_ITERATIONS,
        tolerance_grad=1e-6,
        tolerance_change=1e-10,
        history_size=20,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = objective.loss(x @ weight.T + bias, y) + 0.5 * decay * weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return int(optimizer.state[optimizer._params[0]].get("n_iter", 0))


@torch.no_grad()
def _validation_metrics(
    weight: torch.Tensor, bias: torch.Tensor, x: torch.Tensor, y: torch.Tensor, objective
) -> dict[str, float]:
    logits = x @ weight.T + bias
    result = objective.evaluate([(list(range(len(y))), logits, y)], len(y))
    return {k: float(v) for k, v in result.metrics.items() if isinstance(v, int | float)}


@torch.no_grad()
def linear_inputs(head: LayerGroup, linear: nn.Linear, features: torch.Tensor) -> torch.Tensor:
    """What ``linear`` receives when the head group runs on ``features``.

    The head's parameter-free steps before its linear layer (L2 normalisation; dropout,
    the identity in eval mode) apply to the cached features at inference, so the solve
    must see them too. A group of several modules, whose order is unknown, passes the
    features as they are.
    """
    if len(head.modules) != 1:
        return features
    module, seen = head.modules[0], []
    hook = linear.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    was_training = module.training
    module.eval()
    try:
        module(features.to(linear.weight.device, linear.weight.dtype))
    finally:
        hook.remove()
        module.train(was_training)
    return seen[0].to(features.device) if seen else features


def fit_head(
    trainer, head: LayerGroup, setting: str, console, penalties: HeadPenalties
) -> tuple[object, dict]:
    """Solve the linear layer of ``head`` on the trainer's cached features in place of
    ``trainer.fit()``, with the weight decays of ``penalties``.

    The trainer's state then reads like a one-evaluation run (history row, best epoch
    1, the solve's wall time and L-BFGS iterations as its steps), so the run's metrics,
    report and saved model need nothing special.

    Returns:
        The trainer's :class:`TrainState` and the ``strategy.head_solver`` decision.
    """
    from tunelab.io import append_jsonl, write_text
    from tunelab.progress import format_history_row
    from tunelab.trainer import TrainState

    linear = linear_head(head)
    assert linear is not None, "the strategy solves only a head that is one linear layer"
    objective = trainer.objective
    train, val = ((linear_inputs(head, linear, split.features), split.labels)
                  for split in (trainer.train_data, trainer.val_data))  # fmt: skip
    solution = solve_linear_head(train, val, objective, linear.out_features, penalties.decays)
    with torch.no_grad():
        linear.weight.copy_(solution.weight.to(linear.weight))
        linear.bias.copy_(solution.bias.to(linear.bias))
    row = _history_row(solution, train, objective, linear)
    trainer.state = TrainState(
        epoch=1, step=row["step"], best_value=solution.metrics[objective.monitor],
        best_epoch=1, best_step=row["step"], epoch_seconds=[solution.seconds], history=[row],
    )  # fmt: skip
    if trainer.run_dir is not None:
        write_text(trainer.run_dir / "history.jsonl", "")
        append_jsonl(trainer.run_dir / "history.jsonl", row)
    console.print(format_history_row(row, objective))
    for callback in trainer.callbacks:  # one evaluation, as the callbacks expect (pruning,
        callback.on_evaluate(trainer, solution.metrics)  # tracking); may raise TrialPruned
    decision = solver_decision(solution, objective.monitor, setting, penalties.reason)
    console.print(f"strategy.head_solver: {decision['value']} ({decision['reason']})")
    return trainer.state, decision


def solver_decision(
    solution: HeadSolution, monitor: str, setting: str = "auto", penalty: str | None = None
) -> dict:
    """The ``strategy.head_solver`` entry of metrics.json "decisions"; ``penalty`` says
    how the weight decay was set (None: chosen on validation among those tried)."""
    why = "auto: linear head on cached features" if setting == "auto" else "set in config"
    best = solution.metrics[monitor]
    chosen = penalty or f"of {len(solution.path)} tried, best validation {monitor} {best:.4f}"
    return {
        "setting": setting,
        "value": "lbfgs",
        "reason": f"{why}; weight decay {solution.weight_decay:.3g} {chosen}",
        "weight_decay": solution.weight_decay,
        "path": solution.path,
        "seconds": round(solution.seconds, 3),
    }


@torch.no_grad()
def _history_row(solution: HeadSolution, train, objective: Objective, head: nn.Linear) -> dict:
    logits = train[0].float() @ solution.weight.T + solution.bias
    row = {
        "epoch": 1,
        "step": sum(p["iterations"] for p in solution.path),
        "train_loss": float(objective.loss(logits, train[1])),
    }
    if objective.train_metric:
        score = objective.batch_score(logits, train[1]) / max(len(train[1]), 1)
        row[f"train_{objective.train_metric}"] = score
    row.update({f"val_{name}": solution.metrics[name] for name in objective.metric_names()})
    trainable = sum(p.numel() for p in head.parameters())
    extra = {"lr": 0.0, "phase": 0, "trainable_params": trainable, "seconds": solution.seconds}
    return {**row, **extra, "weight_decay": solution.weight_decay}
