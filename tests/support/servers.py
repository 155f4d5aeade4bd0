"""Real servers on 127.0.0.1 for tests: started as subprocesses, stopped at the end."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_answers(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {timeout} s") from None
            time.sleep(0.1)


@contextmanager
def running(command: Sequence[str], ready_url: str, timeout: float = 30.0) -> Iterator[None]:
    process = subprocess.Popen(command)
    try:
        wait_until_answers(ready_url, timeout)
        yield
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@contextmanager
def example_backend() -> Iterator[str]:
    """The example backend service; yields its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "examples.backend", "--port", str(port)]
    with running(command, f"{base}/profile/users/42"):
        yield base


def closed_port_url() -> str:
    """A URL nothing listens on: calls to it end in `unavailable`."""
    return f"http://127.0.0.1:{free_port()}"
