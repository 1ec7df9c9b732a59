"""A measurement taken every so often on a thread while a `with` block runs, and once more as it ends."""
from __future__ import annotations

import threading


class Sampler:
    """Subclasses set `interval` (seconds) and define `sample()`; a sample that raises is theirs to handle."""

    interval: float = 0.5

    def sample(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.sample()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()
