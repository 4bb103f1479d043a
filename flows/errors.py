"""Errors the CLI reports as one line with exit 1 (a usage error is stages.options.ConfigError, exit 2)."""


class InputError(Exception):
    """A path that does not exist, cannot be read or holds no data: the run fails before any work."""


class RunError(RuntimeError):
    """A run that cannot go on (conservation broken, a stage output missing): never 'keep everything'."""
