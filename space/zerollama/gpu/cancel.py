"""Which requests in a GPU call have been abandoned, readable from the call's worker process.

A ZeroGPU worker is a fork of the server process, so closing the call's generator is the only signal the
platform carries, and it stops every member at once. One member's caller leaving is told through this
board instead: anonymous shared memory created at import, before any worker is forked, so the server's
writes are seen by every worker. Off ZeroGPU the same board serves the in-process engine.
"""

from __future__ import annotations

import mmap
import threading


class BoardFull(Exception):
    """Every ticket is in use (more requests in flight than the board has places)."""


class CancelBoard:
    def __init__(self, places: int = 4096) -> None:
        self._flags = mmap.mmap(-1, places)  # MAP_SHARED | MAP_ANONYMOUS: shared with forked workers
        self._free = list(range(places - 1, -1, -1))
        self._lock = threading.Lock()

    def take(self) -> int:
        """A ticket for a request entering the server (its flag cleared)."""
        with self._lock:
            if not self._free:
                raise BoardFull()
            ticket = self._free.pop()
        self._flags[ticket] = 0
        return ticket

    def cancel(self, ticket: int) -> None:
        self._flags[ticket] = 1

    def is_set(self, ticket: int) -> bool:
        return self._flags[ticket] != 0

    def give_back(self, ticket: int) -> None:
        with self._lock:
            self._free.append(ticket)


BOARD = CancelBoard()
