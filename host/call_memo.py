"""Request-scoped de-duplication: identical reads in one request make one backend call.

Two calls are identical when they name the same service, method and path
and send the same headers. Only safe methods (GET, HEAD, OPTIONS) without a
body are shared; a call that may change something (POST, PUT, PATCH,
DELETE) is always made, and makes the request forget what it read from that
service, so a read after a write sees the write.

The memo lives as long as one request and is used only on the event loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from host.backend_types import BackendOutcome, BackendRequest, CallSource

MemoKey = tuple[str, str, str, tuple[tuple[str, str], ...]]
Answer = tuple[BackendOutcome, CallSource]


def memo_key(request: BackendRequest) -> MemoKey:
    headers = tuple(sorted((name.lower(), value) for name, value in request.headers))
    return (request.service, request.method.upper(), request.path, headers)


@dataclass
class CallMemo:
    _answers: dict[MemoKey, asyncio.Future[BackendOutcome]] = field(default_factory=dict)

    async def share(self, request: BackendRequest, call: Callable[[], Awaitable[Answer]]) -> Answer:
        """The answer of an identical earlier call in this request, or `call()`'s."""
        if not request.is_safe:
            self.forget(request.service)
            return await call()
        key = memo_key(request)
        earlier = self._answers.get(key)
        if earlier is not None:
            # Shielded: a waiter that is cancelled must not cancel the call it shares.
            return await asyncio.shield(earlier), CallSource.SHARED
        answer = asyncio.get_running_loop().create_future()
        self._answers[key] = answer
        try:
            outcome, source = await call()
        except BaseException as error:
            del self._answers[key]
            if isinstance(error, Exception):
                answer.set_exception(error)
                answer.exception()  # retrieved: no warning when nobody shared it
            else:
                answer.cancel()
            raise
        answer.set_result(outcome)
        return outcome, source

    def forget(self, service: str) -> None:
        self._answers = {key: answer for key, answer in self._answers.items() if key[0] != service}
