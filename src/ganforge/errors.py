"""Exception types. Every error meant for a user derives from GanforgeError; the CLI prints its
message (one line, naming the thing and what to do) instead of a traceback."""
from __future__ import annotations


class GanforgeError(Exception):
    """Base class of errors caused by input, files or the environment, not by a ganforge bug."""


class ConfigError(GanforgeError, ValueError):
    """A configuration value, key, preset or argument is invalid."""


class DataError(GanforgeError, ValueError):
    """Training or evaluation data is missing, empty or malformed."""


class CheckpointError(GanforgeError, ValueError):
    """A checkpoint, export or run directory could not be written, read or verified."""


class TrainingError(GanforgeError, RuntimeError):
    """Training cannot go on (e.g. a non-finite loss)."""


class TrainingInterrupted(GanforgeError):
    """SIGINT/SIGTERM arrived; a checkpoint was written. exit_code is 130 (SIGINT) or 143 (SIGTERM)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code
