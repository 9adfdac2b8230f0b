"""symloss: search, study and reuse symbolic loss functions for image classifiers."""
from . import ops, zoo
from .errors import ConfigError, DataError, ExpressionError, GenomeError, SymlossError
from .genome import Genome
from .loss import Loss, LossModule
from .phenotype import Verdict

__version__ = "0.1.0"
__all__ = ["ConfigError", "DataError", "ExpressionError", "Genome", "GenomeError", "Loss", "LossModule",
           "SymlossError", "Verdict", "ops", "zoo", "__version__"]
