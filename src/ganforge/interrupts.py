"""The first SIGINT/SIGTERM the command line saw before the training loop took the signals over.

The CLI's start-up handlers turn such a signal into an exception (KeyboardInterrupt for SIGINT,
TrainingInterrupted for SIGTERM) and also note it here. The note matters when a library catches the
exception while it runs its own code: numpy's compiled random module, imported lazily by torch while
an optimiser is built, was seen to swallow a KeyboardInterrupt this way, and the run then trained to
the end as if no signal had come. The training loop reads the note before its first step
(train/loop.py) and stops there instead. Standard library only: the CLI imports this at start.
"""
from __future__ import annotations

_pending: int | None = None

# True when this process runs one command line and then exits (cli.main with argv None). Then a signal
# that stopped the command leaves SIGINT/SIGTERM ignored until the exit: restoring Python's handlers
# would let a late signal (Ctrl-C pressed twice, a supervisor's repeated TERM) raise KeyboardInterrupt
# in an atexit callback, or, once the interpreter has reset its handlers while finalising, kill the
# process by SIGINT (exit -2), after the stop's message and checkpoint were already written.
process_exits = False

# True while a CLI command runs (cli._startup_signals). The training loop then leaves SIGINT/SIGTERM ignored
# after a stop until the command ends, so that a second signal cannot cut the closing of the run (its log,
# its lock) or turn the stop's message into "interrupted outside the training loop"; the command's end puts
# the caller's handlers back (or keeps ignoring them, when process_exits).
in_command = False


def note(signum: int) -> None:
    """Record a start-up signal (the first one counts)."""
    global _pending
    if _pending is None:
        _pending = signum


def take() -> int | None:
    """The start-up signal not yet acted on, if any; clears it."""
    global _pending
    signum, _pending = _pending, None
    return signum


def clear() -> None:
    """Forget any earlier note (each CLI command starts clean)."""
    take()
