"""The parent of a multi-process host: one listening socket, N children, each replaced
when it dies, all stopped together.

The parent accepts every connection and hands it to the ready children in
turn (`_dealer`, `_handoff`). On a listening socket the children shared,
whichever child woke first took every connection waiting: `wrk -c16` against
two processes split 16/0, 12/4 or 14/2 in most of twelve rounds, so one core
served while the other idled. Connections the parent has not yet accepted
wait in its queue, so a killed child loses only those it had taken.

Each child is pinned to one of the cores the parent may use (round robin; a
replacement takes its predecessor's core). A fresh instance's first write to
a page of its memory image that it has read is a copy-on-write fault, and
while the process's threads run on several cores every such fault flushes
the page from the others' TLBs with an interrupt. Measured with two
processes serving JS hello (16 connections, `--pin-cores` and not, in
turns): 18-20 TLB shootdowns, 3.0 ms of CPU per request and 579-583 req/s
unpinned; none, 2.1-2.2 ms and 874-904 req/s pinned (Python hello: 4.4-4.8
against 3.0-3.2 ms, 381-417 against 606-645 req/s).

The children's shared directory (metrics files, sibling sockets) is made in
memory (`/dev/shm`) where there is one. prometheus_client keeps the counts in
files each process maps into memory; on a disk filesystem the kernel writes
those pages back every few seconds, and a write to a page under writeback
can wait on the filesystem with the GIL held (Gunicorn keeps its workers'
heartbeat files in `/dev/shm` for the same reason). The counts never need
to outlive the host.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import multiprocessing
import os
import selectors
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from multiprocessing import get_context
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import FrameType

from hypercorn.config import Config
from prometheus_client import multiprocess

from host.logs import configure_logging, get_logger
from host.processes._dealer import Dealer, Slot
from host.processes._handoff import READY, channel_pair, hand_over
from host.settings import Settings

log = get_logger("scripthost.processes")
METRICS_ENV = "PROMETHEUS_MULTIPROC_DIR"
# A child stopped with SIGTERM finishes its requests (Hypercorn's graceful
# timeout) before this runs out; then it is killed.
_STOP_SECONDS = 30.0
_PR_SET_PDEATHSIG = 1
# Connections accepted per wake-up, before the parent looks at its children again.
_ACCEPT_AT_ONCE = 64
# Out of descriptors or memory: accepting waits this long before it tries again.
_ACCEPT_SHORTAGES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_ACCEPT_PAUSE_S = 1.0

# What a child runs: a full host on the connections handed down its channel.
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
    child_main: ChildMain, core: int | None, settings: Settings, channel: socket.socket
) -> None:
    # First thing: every thread the child starts inherits its affinity.
    if core is not None:
        os.sched_setaffinity(0, {core})
    child_main(settings, channel)


# Where the shared directory goes when the system has it: memory (tmpfs).
MEMORY_DIR = Path("/dev/shm")


def shared_dir_parent() -> Path | None:
    """Memory, if this system offers a writable tmpfs; None for the usual temporary directory."""
    return MEMORY_DIR if MEMORY_DIR.is_dir() and os.access(MEMORY_DIR, os.W_OK) else None


@contextlib.contextmanager
def _shared_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="scripthost-", dir=shared_dir_parent()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def _listening_socket(settings: Settings) -> Iterator[socket.socket]:
    """Bound as Hypercorn binds a single process's socket, and listening at once:
    connections wait in its queue until a child is ready to take them."""
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    (listener,) = config.create_sockets().insecure_sockets
    try:
        listener.listen(config.backlog)
        yield listener
    finally:
        listener.close()


@dataclasses.dataclass
class _Child:
    process: BaseProcess
    slot: Slot
    # The parent's end of the child's handoff channel.
    channel: socket.socket


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
        self._children: dict[Slot, _Child] = {}
        self._dealer = Dealer()
        self._selector = selectors.DefaultSelector()
        self._accepting = False
        self._accept_paused_until = 0.0
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
        self._listener.setblocking(False)
        self._selector.register(wake_read, selectors.EVENT_READ, self._woken)
        try:
            for slot in range(self._count):
                self._start_child(slot)
            while not self._stopping:
                for key, _ in self._selector.select(self._accept_pause_left()):
                    key.data(key.fileobj)
                self._accept_while_any_ready()
            self._stop_children()
        finally:
            signal.set_wakeup_fd(previous_wakeup)
            for signum, handler in previous_handlers.items():
                signal.signal(signum, handler)
            self._selector.close()
            os.close(wake_read)
            os.close(wake_write)
        return self._status

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        self._stopping = True

    @staticmethod
    def _woken(wake_read: int) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(wake_read, 512)

    def _start_child(self, slot: int) -> BaseProcess:
        core = None if self._cores is None else self._cores[slot % len(self._cores)]
        ours, theirs = channel_pair()
        process = self._context.Process(
            target=_run_child,
            args=(self._child_main, core, self._settings, theirs),
            daemon=False,
        )
        process.start()
        theirs.close()
        ours.setblocking(False)
        child = _Child(process, slot, ours)
        self._children[slot] = child
        events = selectors.EVENT_READ
        self._selector.register(process.sentinel, events, lambda _: self._exited(child))
        self._selector.register(ours, events, lambda _: self._heard(child))
        log.info("process started", child_pid=process.pid, core=core)
        return process

    def _accept_while_any_ready(self) -> None:
        """Have the listener in the selector only while some child can take a connection
        and accepting is not paused: until then connections wait in the kernel's queue."""
        should = self._dealer.any_ready and self._accept_pause_left() is None
        if should and not self._accepting:
            self._selector.register(self._listener, selectors.EVENT_READ, self._accept)
        elif self._accepting and not should:
            self._selector.unregister(self._listener)
        self._accepting = should

    def _accept_pause_left(self) -> float | None:
        """Seconds until accepting resumes, if it is paused."""
        left = self._accept_paused_until - time.monotonic()
        return left if left > 0 else None

    def _accept(self, _: object) -> None:
        for _ in range(_ACCEPT_AT_ONCE):
            try:
                connection, _address = self._listener.accept()
            except BlockingIOError:
                return
            except OSError as error:
                self._accept_failed(error)
                return
            with connection:
                self._deal(connection)

    def _accept_failed(self, error: OSError) -> None:
        """A connection gone before it was taken is passed over; running out of descriptors
        or memory pauses accepting (as asyncio's servers do), the queue holding what comes."""
        if error.errno in _ACCEPT_SHORTAGES:
            log.error(
                "cannot accept connections for now", error=repr(error), pause_s=_ACCEPT_PAUSE_S
            )
            self._accept_paused_until = time.monotonic() + _ACCEPT_PAUSE_S
            self._accept_while_any_ready()
        else:
            log.warning("a connection could not be accepted", error=repr(error))

    def _deal(self, connection: socket.socket) -> None:
        refused: set[Slot] = set()
        while (slot := self._dealer.choose(excluding=refused)) is not None:
            try:
                hand_over(self._children[slot].channel, connection)
            except OSError as error:
                # Its channel is full (it is stuck) or closed (it is dying): another may take it.
                log.warning("process refused a connection", slot=slot, error=repr(error))
                refused.add(slot)
                continue
            return
        log.error("no process could take a connection; closing it", refused=len(refused))

    def _heard(self, child: _Child) -> None:
        if self._children.get(child.slot) is not child:
            return  # Reaped earlier in the same round of events.
        while True:
            try:
                message = child.channel.recv(16)
            except BlockingIOError:
                return
            except OSError:
                message = b""
            if message == READY:
                self._dealer.ready(child.slot)
            elif not message:  # Its end closed: it is exiting; its sentinel follows.
                self._selector.unregister(child.channel)
                self._dealer.gone(child.slot)
                return

    def _exited(self, child: _Child) -> None:
        process = child.process
        process.join()
        self._drop(child)
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
        replacement = self._start_child(child.slot)
        log.info("process replaced", child_pid=process.pid, replacement_pid=replacement.pid)

    def _drop(self, child: _Child) -> None:
        """Forget a child in the parent's own books: no more connections, no more events."""
        del self._children[child.slot]
        self._dealer.gone(child.slot)
        self._selector.unregister(child.process.sentinel)
        with contextlib.suppress(KeyError):
            self._selector.unregister(child.channel)
        child.channel.close()

    def _forget(self, process: BaseProcess) -> bool:
        """Drop a dead child's live gauges and sibling socket; whether it had been serving."""
        assert process.pid is not None
        multiprocess.mark_process_dead(process.pid, str(self._process_dir / "metrics"))  # type: ignore[no-untyped-call]
        socket_path = sibling_socket(self._process_dir, process.pid)
        was_serving = socket_path.exists()
        socket_path.unlink(missing_ok=True)
        return was_serving

    def _stop_children(self) -> None:
        children = list(self._children.values())
        for child in children:
            child.process.terminate()
        for child in children:
            process = child.process
            process.join(_STOP_SECONDS)
            if process.is_alive():
                log.warning("process did not stop; killing it", child_pid=process.pid)
                process.kill()
                process.join()
            self._drop(child)
            self._forget(process)
