"""Progress reporting and cancellation for long steps, shared by the CLI, Slicer and the browser app."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sacral_tumor_ai.errors import CancelledError

ProgressCallback = Callable[[float, str], None]


@dataclass
class Progress:
    """Reports fractions in [0, 1] with a message; raises :class:`CancelledError` once ``cancel`` says so.

    Front ends pass their own ``report`` (a progress bar, a log line) and ``cancel`` (a button's flag).
    """

    report: ProgressCallback | None = None
    cancel: Callable[[], bool] | None = None
    messages: list[str] = field(default_factory=list)

    def check(self) -> None:
        if self.cancel is not None and self.cancel():
            raise CancelledError("cancelled by the user; nothing was written")

    def step(self, fraction: float, message: str) -> None:
        self.check()
        self.messages.append(message)
        if self.report is not None:
            self.report(min(max(fraction, 0.0), 1.0), message)
