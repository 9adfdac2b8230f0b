"""Typed errors: every failure a user can cause is one of these, with a message naming the problem."""


class SymlossError(Exception):
    """Base of every error symloss raises on purpose."""


class GenomeError(SymlossError, ValueError):
    """A genome is malformed: unknown op, wrong arity, unknown id, a cycle, a bad JSON document."""


class ExpressionError(SymlossError, ValueError):
    """An expression cannot be parsed, is undefined (zoo, nan, complex) or cannot be compiled."""


class DataError(SymlossError, RuntimeError):
    """A data set is missing or unreadable."""


class ConfigError(SymlossError, ValueError):
    """An unknown preset, technique, model or option."""


class ExecutorError(SymlossError, RuntimeError):
    """Evaluations cannot run: a broken worker pool, a Ray cluster that cannot be reached or lost a task."""


class DeviceError(SymlossError, RuntimeError):
    """The training device failed (out of memory, a CUDA error): no loss is to blame, the run stops."""
