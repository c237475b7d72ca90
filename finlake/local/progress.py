"""Progress of a running state, with its elapsed time (rich), for `finlake run` and `backfill`.

On a terminal a transient line ``Transform  0:00:12`` spins while the state runs and disappears
when it ends (the ``<- Transform  77.62 s`` line stays). Elsewhere (a pipe, CI, a test) nothing is
redrawn: a plain ``.. Transform running, 30 s`` line is printed every ``heartbeat_s`` seconds
instead, so a long Glue step is never silent for more than that.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

Echo = Callable[..., None]
HEARTBEAT_S = 30.0


class StepProgress:
    """``start(state)`` when a state is entered, ``stop()`` when it is left (or the run ends)."""

    def __init__(self, echo: Echo, *, console: Console | None = None, heartbeat_s: float = HEARTBEAT_S):
        self.echo = echo
        self.console = console or Console()
        self.heartbeat_s = heartbeat_s
        self._progress: Progress | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, state: str) -> None:
        """Show that ``state`` is running: a spinner on a terminal, else a line every ``heartbeat_s`` seconds."""
        self.stop()
        if self.console.is_terminal:
            self._progress = Progress(
                SpinnerColumn(),
                TextColumn("   {task.description}"),
                TimeElapsedColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
            self._progress.add_task(state, total=None)
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(state, self._stop), daemon=True)
        self._thread.start()

    def _beat(self, state: str, stop: threading.Event) -> None:
        started = time.monotonic()
        while not stop.wait(self.heartbeat_s):
            self.echo(f"   .. {state} running, {time.monotonic() - started:.0f} s")

    def stop(self) -> None:
        """Stop the spinner or the heartbeat, if one runs."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def __enter__(self) -> StepProgress:
        """Enter: the progress itself."""
        return self

    def __exit__(self, *exc: Any) -> None:
        """Exit: stop any progress shown."""
        self.stop()
