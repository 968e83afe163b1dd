"""The SQL console's queries in a child process, so no query can take the app down.

:func:`mart.sandbox.run_sql` bounds a query's rows, time and nested values, and DuckDB
bounds its buffer memory, but some DuckDB functions allocate outside that limit and do
not stop when interrupted: ``select range(100000000)`` took 40 s and 7.8 GB, and a
larger one would run a shared app server out of memory (the kernel then kills the
biggest process: the app). Run here, such a query runs in a child process with a cap
on its address space (:data:`MEMORY_LIMIT_BYTES`) and a deadline: past the time limit
(plus :data:`GRACE_S`) the child is killed, and a child that dies (out of memory) is
replaced. The app goes on either way; the user gets a plain sentence.

Children are started on first use (``python -m mart.sandbox_process``: the app has
threads, which a ``fork`` would not copy safely) and kept for the next query: at most
:data:`MAX_CHILDREN` at once, so two sessions' queries do not wait for each other; a
third waits for one.
"""

from __future__ import annotations

import contextlib
import os
import queue
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from mart.errors import MartError, SandboxError

#: The address space a query's process may use. Python, pandas and DuckDB take about
#: 1.1 GB of it before a query; DuckDB's own limit is 2 GB of buffers.
MEMORY_LIMIT_BYTES = int(float(os.environ.get("MART_CONSOLE_MEMORY_GB", "6")) * 2**30)
#: Seconds past the query's time limit before its process is killed: DuckDB's own
#: interrupt at the limit usually stops it first.
GRACE_S = 3.0
#: Seconds a child may take to start (Python, pandas and DuckDB imported) and take the
#: query. The time limit counts from then: counted from the request, a child started
#: cold on a loaded machine used up a 1 s limit before the query began.
START_TIMEOUT_S = 120.0
MAX_CHILDREN = 2

MSG_KILLED = (
    "The query did not stop at the {seconds:g} s time limit (some DuckDB functions, "
    "such as range() building one huge list, cannot be interrupted), so its process "
    "was stopped. Nothing else was affected. Add a WHERE or a LIMIT, or build smaller "
    "lists."
)
MSG_NO_START = (
    "The console's query process did not start within {seconds:g} s (the machine may be "
    "very busy). Nothing was run; try again."
)
MSG_DIED = (
    "The query needed more memory than the console gives a query ({gigabytes:g} GB), "
    "so its process was stopped. Nothing else was affected. Filter, aggregate or LIMIT "
    "first, or build smaller lists and strings."
)


def _serve(conn: Connection, memory_limit: int) -> None:
    """The child: run each request with :func:`mart.sandbox.run_sql`, send the result
    or the error back, until the pipe closes. Ctrl-C in a terminal reaches the whole
    process group: the child leaves it to the parent, which stops the child."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if memory_limit > 0:
        import resource

        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))
    from mart import sandbox

    while True:
        try:
            args, kwargs = conn.recv()
            conn.send(("started", None))  # the parent's time limit counts from here
        except (EOFError, OSError):
            return
        try:
            reply: tuple[str, Any] = ("ok", sandbox.run_sql(*args, **kwargs))
        except MemoryError:
            reply = ("died", None)
        except MartError as exc:
            reply = ("error", exc)
        except Exception as exc:  # noqa: BLE001 - sent to the parent, which says it plainly
            reply = ("error", SandboxError(f"{type(exc).__name__}: {exc}"))
        try:
            conn.send(reply)
        except Exception:  # noqa: BLE001 - e.g. a result that cannot be pickled
            conn.send(("error", SandboxError("The result could not be passed back.")))


class _Child:
    """One child process (``python -m mart.sandbox_process FD LIMIT``) and its end of a
    socket pair. A plain subprocess, not ``multiprocessing``: that re-imports the
    parent's ``__main__`` in the child (Streamlit's, or a script's)."""

    def __init__(self, memory_limit: int) -> None:
        mine, theirs = socket.socketpair()
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "mart.sandbox_process",
                    str(theirs.fileno()),
                    str(memory_limit),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                cwd=os.fspath(Path(__file__).resolve().parent.parent),
            )
        finally:
            theirs.close()
        self.conn = Connection(mine.detach())

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        if self.process.poll() is None:
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)


class IsolatedSandbox:
    """``run_sql`` in a pool of child processes (see the module's docstring)."""

    def __init__(
        self, memory_limit: int = MEMORY_LIMIT_BYTES, max_children: int = MAX_CHILDREN
    ) -> None:
        self.memory_limit = memory_limit
        self._idle: queue.LifoQueue[_Child] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(max_children)
        self._lock = threading.Lock()
        self._all: list[_Child] = []

    def _take(self) -> _Child:
        while True:
            try:
                child = self._idle.get_nowait()
            except queue.Empty:
                child = _Child(self.memory_limit)
                with self._lock:
                    self._all.append(child)
                return child
            if child.alive():
                return child
            self._forget(child)

    def _forget(self, child: _Child) -> None:
        child.stop()
        with self._lock:
            if child in self._all:
                self._all.remove(child)

    def warm_up(self) -> None:
        """Start a child now (if none waits), so the first query does not pay for it."""
        if self._idle.empty() and self._slots.acquire(blocking=False):
            try:
                self._idle.put(self._take())
            finally:
                self._slots.release()

    def run_sql(
        self,
        db_path: str | os.PathLike[str],
        sql: str,
        *,
        row_limit: int | None = None,
        timeout_s: float | None = None,
        max_bytes: int | None = None,
    ) -> Any:
        """As :func:`mart.sandbox.run_sql`, in a child process."""
        from mart import sandbox

        row_limit = sandbox.DEFAULT_ROW_LIMIT if row_limit is None else row_limit
        timeout_s = sandbox.DEFAULT_TIMEOUT_S if timeout_s is None else timeout_s
        kwargs = {"row_limit": row_limit, "timeout_s": timeout_s, "max_bytes": max_bytes}
        with self._slots:
            child = self._take()
            try:
                child.conn.send(((os.fspath(db_path), sql), kwargs))
                if not child.conn.poll(START_TIMEOUT_S):
                    self._forget(child)
                    raise SandboxError(MSG_NO_START.format(seconds=START_TIMEOUT_S))
                child.conn.recv()  # ("started", None): the query runs from now
                if not child.conn.poll(float(timeout_s) + GRACE_S):
                    self._forget(child)
                    raise SandboxError(MSG_KILLED.format(seconds=timeout_s))
                kind, value = child.conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                self._forget(child)
                raise SandboxError(MSG_DIED.format(gigabytes=self.memory_limit / 2**30)) from None
            if kind == "died":
                self._forget(child)
                raise SandboxError(MSG_DIED.format(gigabytes=self.memory_limit / 2**30))
            self._idle.put(child)
        if kind == "error":
            raise value
        return value

    def close(self) -> None:
        """Stop every child."""
        with self._lock:
            children, self._all = list(self._all), []
        for child in children:
            child.stop()


if __name__ == "__main__":
    _serve(Connection(int(sys.argv[1])), int(sys.argv[2]))
