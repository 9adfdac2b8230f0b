"""symloss: search, study and reuse symbolic loss functions for image classifiers."""
from . import ops, zoo
from .errors import ConfigError, DataError, DeviceError, ExecutorError, ExpressionError, GenomeError, SymlossError
from .genome import Genome
from .loss import Loss, LossModule
from .phenotype import Verdict

__version__ = "0.1.0"

_SUBMODULES = ("augment", "codegen", "data", "executors", "export", "genome", "loss", "models", "parsing",
               "phenotype", "presets", "references", "render", "search", "store", "study", "symbolic", "train")


def __getattr__(name: str):
    """The heavier subpackages (training, search, rendering) load on first use: symloss.train, ..."""
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'symloss' has no attribute {name!r}")
__all__ = ["ConfigError", "DataError", "DeviceError", "ExecutorError", "ExpressionError", "Genome", "GenomeError",
           "Loss", "LossModule", "SymlossError", "Verdict", "ops", "zoo", "__version__"]
