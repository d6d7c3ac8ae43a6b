"""Runs an operation as named steps and records each one in the store's operation log.

A step is Running, then Succeeded, Skipped (nothing to do: already converged) or Failed (with its ARM error).
A failed step ends the operation; since every step is idempotent, retrying the operation converges.
Progress listeners (the CLI's stderr lines) see each transition as it happens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager

from servicelinker.engine.interface import ProgressListener
from servicelinker.model.errors import ArmError, ErrorCode
from servicelinker.model.records import Step
from servicelinker.store.repository import Store


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class StepHandle:
    """What a running step may say about itself."""

    def __init__(self, step: Step) -> None:
        self._step = step
        self.skipped = False

    def note(self, message: str) -> None:
        self._step.message = message

    def skip(self, message: str) -> None:
        self._step.message = message
        self.skipped = True


class OperationLog:
    def __init__(self, store: Store, operation_id: str, listener: ProgressListener | None = None) -> None:
        self.store = store
        self.operation_id = operation_id
        self.listener = listener
        self.steps: list[Step] = []

    def _publish(self, step: Step) -> None:
        self.store.save_steps(self.operation_id, self.steps)
        if self.listener is not None:
            self.listener(step)

    @contextmanager
    def step(self, name: str) -> Iterator[StepHandle]:
        step = Step(name=name, status="Running", start_time=_now())
        self.steps.append(step)
        self._publish(step)
        handle = StepHandle(step)
        try:
            yield handle
        except ArmError as exc:
            self._fail(step, exc)
            raise
        except Exception as exc:
            # An unexpected failure still ends the step with a reason; the type is shown, not the text, since
            # library exceptions can carry connection strings.
            err = ArmError(
                ErrorCode.INTERNAL_SERVER_ERROR,
                f"Step '{name}' failed unexpectedly ({type(exc).__name__}).",
                remedy="Retry the operation; if it keeps failing, report it with the operation id.",
            )
            self._fail(step, err)
            raise err from exc
        step.status = "Skipped" if handle.skipped else "Succeeded"
        step.end_time = _now()
        self._publish(step)

    def _fail(self, step: Step, exc: ArmError) -> None:
        step.status = "Failed"
        step.end_time = _now()
        step.message = str(exc)
        step.error = exc.to_body()["error"]
        self._publish(step)
