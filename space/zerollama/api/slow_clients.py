"""A deadline for request headers: uvicorn waits forever for a request line and headers that trickle in
(one byte a minute holds a connection open for good). Gradio's launch() builds the uvicorn server itself,
so the deadline comes in as uvicorn's "auto" HTTP protocol: the same protocol class, plus a timer.

The timer starts when a connection opens, and again when the first bytes of a following request arrive
on a kept-alive connection; if no complete request head has arrived when it fires, the connection is
closed. (The body has its own deadline, in the access guard; idle kept-alive connections have uvicorn's.)
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn.config
from uvicorn.protocols.http.auto import AutoHTTPProtocol

_deadline_seconds = 10.0


class HeaderDeadlineProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    _header_timer: asyncio.TimerHandle | None = None
    _armed_for: Any = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._between_requests() and (self._header_timer is None or self._armed_for is not self.cycle):
            self._arm()
        super().data_received(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _between_requests(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _arm(self) -> None:
        self._disarm()
        self._armed_for = self.cycle
        self._header_timer = self.loop.call_later(_deadline_seconds, self._expire)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _expire(self) -> None:
        self._header_timer = None
        still_waiting = self.cycle is self._armed_for and self._between_requests()
        if still_waiting and not self.transport.is_closing():
            self.transport.close()


def install_header_deadline(seconds: float) -> None:
    """From now on, servers that uvicorn starts (Gradio's included) close connections whose request head
    takes longer than `seconds`."""
    global _deadline_seconds
    _deadline_seconds = seconds
    uvicorn.config.HTTP_PROTOCOLS["auto"] = f"{__name__}:HeaderDeadlineProtocol"
