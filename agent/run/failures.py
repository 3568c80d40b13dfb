"""A run the endpoint stops: recorded as stopped, with the way to resume it.

Any other failure is recorded too, as an error.

An endpoint that stays down (or refuses the key) ends a run cleanly instead of
scoring its failures: every step up to the failing one is checkpointed, every
answer paid for is in the response cache, so ``promptpilot runs resume ID``
later finishes the run with nothing lost and nothing paid twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from memory.run_registry import RunRegistry
from optimizers.evaluation.chat_calls import EndpointError, EndpointUnavailable


def outage_status(exc: EndpointError) -> str:
    """The run status for a run ``exc`` stopped."""
    kind = "unavailable" if isinstance(exc, EndpointUnavailable) else "error"
    return f"stopped: endpoint {kind}"


def record_outage(runs: RunRegistry, run: str, exc: EndpointError) -> None:
    """Mark ``run`` stopped by ``exc`` and tell the person how to continue it.

    The hint goes into the exception's notes, which the CLI prints under the
    error line.
    """
    runs.record(run, status=outage_status(exc), error=str(exc))
    exc.add_note(
        f"run {run} is saved up to its last step: `promptpilot runs resume {run}` "
        "finishes it once the endpoint answers (answers already paid for are not paid again)"
    )


@contextmanager
def recording_failures(runs: RunRegistry, run: str) -> Iterator[None]:
    """Record an exception raised inside as ``run``'s end, then let it go on.

    An endpoint's is a resumable stop; anything else is an ``error``. Without
    the record the run list would show the run as ``running`` for ever.
    """
    try:
        yield
    except EndpointError as exc:
        record_outage(runs, run, exc)
        raise
    except Exception as exc:
        runs.record(run, status="error", error=f"{type(exc).__name__}: {exc}")
        raise
