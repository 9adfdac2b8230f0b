"""symloss: search, study and reuse symbolic loss functions for image classifiers.

`import symloss` is light (the typed errors only): the API that needs torch or SymPy
(`Loss`, `Genome`, `zoo`, `ops`, ...) and every subpackage load on first use, so a command
line that only parses its arguments or prints its help does not pay for them.
"""
from .errors import ConfigError, DataError, DeviceError, ExecutorError, ExpressionError, GenomeError, SymlossError

__version__ = "0.1.0"

_SUBMODULES = ("augment", "codegen", "data", "errors", "executors", "export", "files", "genome", "loss", "models",
               "ops", "parsing", "phenotype", "presets", "printing", "references", "render", "search", "store",
               "study", "symbolic", "train", "zoo")
_ATTRIBUTES = {"Genome": "genome", "Loss": "loss", "LossModule": "loss", "Verdict": "phenotype"}

__all__ = ["ConfigError", "DataError", "DeviceError", "ExecutorError", "ExpressionError", "Genome", "GenomeError",
           "Loss", "LossModule", "SymlossError", "Verdict", "ops", "zoo", "__version__"]


def __getattr__(name: str):
    """Loss, Genome, LossModule, Verdict and the subpackages (symloss.zoo, symloss.train, ...) on first use."""
    import importlib

    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name in _ATTRIBUTES:
        value = getattr(importlib.import_module(f".{_ATTRIBUTES[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'symloss' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
