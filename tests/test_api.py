"""The public API: every exported name resolves, and importing tunelab stays light."""

import subprocess
import sys

import pytest

import tunelab


@pytest.mark.parametrize("name", tunelab.__all__)
def test_every_exported_name_resolves(name):
    assert getattr(tunelab, name) is not None
    assert name in dir(tunelab)


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'fine_tuning'"):
        tunelab.fine_tuning  # noqa: B018 - the access is the test


def test_import_does_not_load_torch_until_an_api_call_needs_it():
    code = "import sys, tunelab, tunelab.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
