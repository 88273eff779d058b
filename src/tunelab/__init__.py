"""tunelab: fine-tune pre-trained models with the right transfer strategy.

Public API::

    import tunelab
    result = tunelab.fine_tune("configs/demo.yaml")
    model = tunelab.load(result.run_dir)
    model.predict(["how do I reset my password?"])
"""

from tunelab.config import Config, load_config
from tunelab.errors import TunelabError
from tunelab.inference import Predictor, load
from tunelab.models import list_models
from tunelab.run import RunResult, fine_tune

__all__ = [
    "Config",
    "Predictor",
    "RunResult",
    "TunelabError",
    "fine_tune",
    "list_models",
    "load",
    "load_config",
]
__version__ = "0.1.0"
