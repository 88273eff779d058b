"""Train/eval mode helpers over a model's modules."""

from torch import nn

from tunelab.layers import eval_mode, modes_restored


def _model() -> nn.Sequential:
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5), nn.Linear(2, 2))
    model.train()
    model[0].eval()  # a frozen group kept in eval mode by a strategy
    return model


def test_eval_mode_restores_exactly_the_modules_that_were_training():
    model = _model()
    with eval_mode(model):
        assert not any(m.training for m in model.modules())
    assert [m.training for m in model.modules()] == [True, False, True, True]


def test_modes_restored_undoes_any_change_inside():
    model = _model()
    with modes_restored(model):
        model.train()
    assert [m.training for m in model.modules()] == [True, False, True, True]
