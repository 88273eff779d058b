"""tunelab: fine-tune pre-trained models with the right transfer strategy.

Public API::

    import tunelab
    result = tunelab.fine_tune("configs/demo.yaml")
    model = tunelab.load(result.run_dir)
    model.predict(["how do I reset my password?"])
    tunelab.compare("configs/demo.yaml", output_dir="runs/compare")   # strategies vs scratch
    tunelab.search("configs/search_demo.yaml", trials=20)            # Optuna search
"""

from tunelab.comparison import CompareResult, compare
from tunelab.config import Config, load_config
from tunelab.errors import TunelabError
from tunelab.hpsearch import search
from tunelab.inference import Predictor, load
from tunelab.models import list_models
from tunelab.run import RunResult, fine_tune

__all__ = [
    "CompareResult",
    "Config",
    "Predictor",
    "RunResult",
    "TunelabError",
    "compare",
    "fine_tune",
    "list_models",
    "load",
    "load_config",
    "search",
]
__version__ = "0.1.0"
