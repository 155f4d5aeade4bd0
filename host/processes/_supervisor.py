"""The parent of a multi-process host: one listening socket, N children, each replaced
when it dies, all stopped together.

The children inherit the parent's listening socket rather than binding their
own with SO_REUSEPORT: one accept queue is shared, so the connections a
killed child had not yet accepted stay queued for its siblings instead of
being reset with it.

Each child is pinned to one of the cores the parent may use (round robin; a
replacement takes its predecessor's core). A fresh instance's first write to
a page of its memory image that it has read is a copy-on-write fault, and
while the process's threads run on several cores every such fault flushes
the page from the others' TLBs with an interrupt. Measured with two
processes serving JS hello (16 connections, `--pin-cores` and not, in
turns): 18-20 TLB shootdowns, 3.0 ms of CPU per request and 579-583 req/s
unpinned; none, 2.1-2.2 ms and 874-904 req/s pinned (Python hello: 4.4-4.8
against 3.0-3.2 ms, 381-417 against 606-645 req/s).
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from multiprocessing import get_context
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from hypercorn.config import Config
from prometheus_client import multiprocess

from host.logs import configure_logging, get_logger
from host.settings import Settings

log = get_logger("scripthost.processes")
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# A child stopped with SIGTERM finishes its requests (Hypercorn's graceful
# timeout) before this runs out; then it is killed.
_STOP_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1

# What a child runs: a full host on the inherited listening socket.
ChildMain = Callable[[Settings, socket.socket], None]


def supervise(
    settings: Settings, processes: int, child_main: ChildMain, *, pin_cores: bool = True
) -> int:
    """Serve with `processes` children until SIGINT or SIGTERM; the exit status."""
    configure_logging(settings.log_format)
    with _shared_dir() as shared, _listening_socket(settings) as listener:
        metrics_dir = shared / "metrics"
        metrics_dir.mkdir()
        (shared / "siblings").mkdir()
        os.environ[METRICS_ENV] = str(metrics_dir)
        try:
            child_settings = dataclasses.replace(settings, process_dir=shared)
            cores = _usable_cores() if pin_cores else None
            return _Supervisor(child_settings, processes, child_main, listener, cores).run()
        finally:
            del os.environ[METRICS_ENV]


def sibling_socket(process_dir: Path, pid: int) -> Path:
    """Where a child answers its siblings; it exists once the child is serving."""
    return process_dir / "siblings" / f"{pid}.sock"


def exit_with_parent() -> None:
    """Have the kernel stop this child if the parent dies without stopping it (Linux)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    parent = multiprocessing.parent_process()
    if parent is not None and not parent.is_alive():  # it died before the line above
        raise SystemExit(0)


def _usable_cores() -> list[int] | None:
    """The cores this process may run on, where the platform can pin (Linux)."""
    if not hasattr(os, "sched_getaffinity"):
        return None
    return sorted(os.sched_getaffinity(0))


def _run_child(
    child_main: ChildMain, core: int | None, settings: Settings, listener: socket.socket
) -> None:
    # First thing: every thread the child starts inherits its affinity.
    if core is not None:
        os.sched_setaffinity(0, {core})
    child_main(settings, listener)


@contextlib.contextmanager
def _shared_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="scripthost-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _listening_socket(settings: Settings) -> Iterator[socket.socket]:
    """Bound as Hypercorn binds a single process's socket, and listening before any child
    is: connections wait in its queue until a child is ready to accept them."""
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    (listener,) = config.create_sockets().insecure_sockets
    try:
        listener.listen(config.backlog)
        yield listener
    finally:
        listener.close()


class _Supervisor:
    def __init__(
        self,
        settings: Settings,
        count: int,
        child_main: ChildMain,
        listener: socket.socket,
        cores: list[int] | None,
    ) -> None:
        assert settings.process_dir is not None
        self._settings = settings
        self._process_dir = settings.process_dir
        self._count = count
        self._child_main = child_main
        self._listener = listener
        self._context = get_context("spawn")
        self._cores = cores
        # By sentinel: each live child, and which of the `count` it is.
        self._children: dict[int, tuple[BaseProcess, int]] = {}
        self._stopping = False
        self._status = 0

    def run(self) -> int:
        wake_read, wake_write = os.pipe()
        os.set_blocking(wake_read, False)
        os.set_blocking(wake_write, False)
        previous_wakeup = signal.set_wakeup_fd(wake_write)
        previous_handlers = {
            signum: signal.signal(signum, self._stop) for signum in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            for slot in range(self._count):
                self._start_child(slot)
            while not self._stopping:
                ready = wait([*self._children, wake_read])
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_read, 512)
                for sentinel in ready:
                    if sentinel in self._children:
                        self._child_exited(*self._children.pop(sentinel))
            self._stop_children()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
            os.close(wake_read)
            os.close(wake_write)
        return self._status

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    def _start_child(self, slot: int) -> BaseProcess:
        core = None if self._cores is None else self._cores[slot % len(self._cores)]
        process = self._context.Process(
            target=_run_child,
            args=(self._child_main, core, self._settings, self._listener),
            daemon=False,
        )
        process.start()
        self._children[process.sentinel] = (process, slot)
        log.info("process started", child_pid=process.pid, core=core)
        return process

    def _child_exited(self, process: BaseProcess, slot: int) -> None:
        process.join()
        was_serving = self._forget(process)
        log.warning("process exited", child_pid=process.pid, exitcode=process.exitcode)
        if self._stopping:
            return
        if not was_serving:
            # It died starting up (a bad flag, an unreachable registry): so would
            # its replacement. Stop rather than restart in a loop.
            log.error("process failed to start; stopping the host", child_pid=process.pid)
            self._status = 1
            self._stopping = True
            return
        replacement = self._start_child(slot)
        log.info("process replaced", child_pid=process.pid, replacement_pid=replacement.pid)

    def _forget(self, process: BaseProcess) -> bool:
        """Drop a dead child's live gauges and sibling socket; whether it had been serving."""
        assert process.pid is not None
        multiprocess.mark_process_dead(process.pid, str(self._process_dir / "metrics"))  # type: ignore[no-untyped-call]
        socket_path = sibling_socket(self._process_dir, process.pid)
        was_serving = socket_path.exists()
        socket_path.unlink(missing_ok=True)
        return was_serving

    def _stop_children(self) -> None:
        for process, _ in self._children.values():
            process.terminate()
        for process, _ in self._children.values():
            process.join(_STOP_SECONDS)
            if process.is_alive():
                log.warning("process did not stop; killing it", child_pid=process.pid)
                process.kill()
                process.join()
            self._forget(process)
        self._children.clear()
