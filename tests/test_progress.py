"""The per-evaluation line and the running epoch loss."""

from tunelab.progress import RunningLoss, format_history_row
from tunelab.tasks.classification import ClassificationObjective


def test_running_loss_averages_batches_and_counts_examples():
    running = RunningLoss()
    running.add(2.0, score=3, n=4)
    running.add(1.0, score=1, n=2)
    assert running.loss == 1.5  # mean of batch losses
    assert running.score == 4 / 6


def test_empty_running_loss_is_zero_not_a_division_error():
    assert RunningLoss().loss == 0.0 and RunningLoss().score == 0.0


def test_history_line_shows_train_and_validation_numbers():
    row = {
        "epoch": 2,
        "step": 10,
        "train_loss": 0.51234,
        "train_accuracy": 0.8,
        "val_loss": 0.7,
        "val_accuracy": 0.75,
        "val_f1_macro": 0.7312,
        "seconds": 3.21,
    }
    assert format_history_row(row, ClassificationObjective(["a"])) == (
        "epoch 2 step 10: train loss 0.5123 acc 0.800 | val loss 0.7000 acc 0.750 f1 0.731 (3.2s)"
    )
