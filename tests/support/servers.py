"""Real servers on 127.0.0.1 for tests: started as subprocesses, stopped at the end."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

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
    with example_backend_process() as backend:
        yield backend.base


@dataclass
class BackendProcess:
    base: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop it now: calls to it are refused from here on."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def example_backend_process() -> Iterator[BackendProcess]:
    """The example backend service, which a test may stop while a host still names it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "examples.backend", "--port", str(port)]
    backend = BackendProcess(base, subprocess.Popen(command))
    try:
        wait_until_answers(f"{base}/profile/users/42")
        yield backend
    finally:
        backend.stop()


def closed_port_url() -> str:
    """A URL nothing listens on: calls to it end in `unavailable`."""
    return f"http://127.0.0.1:{free_port()}"
