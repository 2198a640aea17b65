"""Independent simulations run at once, one per core, in worker processes.

Each variant of the duty-cycle study is a whole virtual-HAN simulation that
shares nothing with the others, and a simulation is single-threaded Python:
the only way to use a second core is a second process.  :func:`run_parallel`
runs picklable jobs in a ``concurrent.futures.ProcessPoolExecutor`` and gives
their results in the jobs' order, the same as running them one after another.

Each job runs in a worker of its own, forked from a clean server process
(see :func:`_context`), so its result does not depend on what else ran or
in what order.  The workers report back over a queue: the virtual seconds each job has run
(for a progress bar per job) and that its HAN is up.  Ctrl-C reaches the
whole process group: a running job stops its simulation as it would in the
foreground (its virtual-time loop cancels the run) and hands back nothing; a
worker between jobs ignores it.  The parent, interrupted too, sets an event
that a thread in each worker turns into the same interrupt (so a stop the
terminal did not send, or a job that failed, stops the others as well),
and cancels the jobs not started: the pool drains in a moment and no worker
prints a traceback.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import sys
import queue as queues
import signal
import threading
import time
import warnings
import _thread
from collections.abc import Callable, Iterator, Sequence
from multiprocessing import forkserver
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any, Generic, TypeVar

_R = TypeVar("_R")

JobProgress = Callable[[float, float], None]
"""``progress(done, total)`` inside a job (virtual seconds run, of the job's total)."""
Job = Callable[[JobProgress, Callable[[], None]], Any]
"""A picklable callable run in a worker: given a progress callback and a
``started()`` callback, it returns its (picklable) result."""
PartProgress = Callable[[int, float, float], None]
"""``progress(job index, done, total)`` in the parent."""

POLL_S = 0.1
"""How often the parent looks at the workers' reports while it waits."""

# Set in each worker by the pool's initializer (inherited, as multiprocessing requires).
_reports: Any = None
_stop: Any = None
_stopping = False
_running = False

GRACE_S = 1.0
"""After the parent's word to stop, how long a worker lets its job end on the
terminal's own Ctrl-C before interrupting it itself."""


class Interrupted(KeyboardInterrupt, Generic[_R]):
    """Ctrl-C stopped the pool; ``results`` has each job's result, None for the
    jobs that had not finished."""

    def __init__(self, results: list[_R | None]) -> None:
        super().__init__("interrupted")
        self.results = results


def cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def _context() -> multiprocessing.context.BaseContext:
    """Where the workers come from: forked from a server process that has
    imported :data:`PRELOAD` and run nothing else (spawned afresh where there
    is no fork server).  With one job per worker, every job starts from the
    same state of the interpreter, whatever ran before it and wherever: a
    simulation's figures can depend on its process's history (the order in
    which equal-time timers fire follows the timer heap's whole past), so
    this is what makes a job's result the same in a pool of any size."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(list(PRELOAD))
    # The server runs as ``python -c``, which puts the working directory
    # first on its path (and Python 3.11 drops the path it is handed): a
    # checkout of another version there would be what it preloads.  It is
    # started here with exactly this process's path instead.
    saved = {name: os.environ.get(name) for name in ("PYTHONPATH", "PYTHONSAFEPATH")}
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    os.environ["PYTHONSAFEPATH"] = "1"
    # It starts with SIGINT ignored (kept across exec), so Ctrl-C while it
    # imports is no traceback of its own; its workers ignore it too, but jobs.
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:
        forkserver.ensure_running()
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    return context


PRELOAD = ("han_emu.study.compare", "han_emu.han.virtual", "han_emu.radio.vtime", "han_emu.meter.model", "numpy")
"""Imported once by the fork server, so a worker starts in milliseconds: the
study's module and the simulation stack that :func:`.compare.simulate` imports
when it runs (about a second of imports per job otherwise), and numpy, which
the airtime accounting's bulk charges load on first use."""


def _init_worker(reports: Any, stop: Any) -> None:
    global _reports, _stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # between jobs: Ctrl-C is the parent's to handle
    # A simulation cut short mid-clean-up may leave a coroutine unawaited: not worth a line on the terminal.
    warnings.filterwarnings("ignore", message="coroutine .* was never awaited", category=RuntimeWarning)
    _reports, _stop = reports, stop
    reports.cancel_join_thread()  # never hang at exit on reports nobody reads any more
    threading.Thread(target=_stop_when_told, name="stop-watch", daemon=True).start()


def _stop_when_told() -> None:
    """Once the parent says stop, interrupt the job as Ctrl-C would (a no-op between jobs).

    Only this thread touches the event: a KeyboardInterrupt in the main thread
    while it held the event's lock would leave the lock held for good."""
    global _stopping
    _stop.wait()
    _stopping = True
    # Ctrl-C on the terminal has reached the job itself: give it the time to
    # wind down before a second interrupt would cut its clean-up short.
    time.sleep(GRACE_S)
    if _running:
        _thread.interrupt_main(signal.SIGINT)


def _run_job(index: int, job: Job) -> Any:
    """In a worker: run ``job``, reporting its progress; None if it was stopped
    (Ctrl-C on the terminal, or the parent's word)."""

    def progress(done: float, total: float) -> None:
        _reports.put(("progress", index, done, total))

    def started() -> None:
        _reports.put(("started", index, 0.0, 0.0))

    global _running
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a job stops on Ctrl-C as in the foreground
        if _stopping:
            return None
        _running = True
        return job(progress, started)
    except KeyboardInterrupt:
        return None
    finally:
        _running = False
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Hold SIGINT back (it arrives just after) while the block runs."""
    if not hasattr(signal, "pthread_sigmask") or threading.current_thread() is not threading.main_thread():
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def run_parallel(jobs: Sequence[Job], *, workers: int, progress: PartProgress | None = None,
                 started: Callable[[], None] | None = None, order: Sequence[int] | None = None) -> list[Any]:
    """Run ``jobs`` on ``workers`` processes at a time, each job in a fresh
    one; their results, in the jobs' order.

    ``order`` is the order to hand them out in (the longest first keeps every
    core busy to the end).  ``progress(index, done, total)`` hears each job's
    progress, ``started()`` each job's start.  Ctrl-C stops every job and
    raises :class:`Interrupted` with the results of those that had finished.
    A job's own exception is raised here once the pool has stopped.
    """
    context = _context()
    reports = context.Queue()
    stop = context.Event()
    results: list[Any] = [None] * len(jobs)
    finished = [False] * len(jobs)
    totals: dict[int, float] = {}  # each job's total as last heard

    def drain() -> None:
        while True:
            try:
                kind, index, done, total = reports.get_nowait()
            except queues.Empty:
                return
            if kind == "started":
                if started is not None:
                    started()
            elif progress is not None and not finished[index]:
                totals[index] = total
                progress(index, done, total)

    def completed(index: int) -> None:
        """A job's result is in: its bar is full, whether or not its last
        report (which travels apart from the result) has arrived yet."""
        finished[index] = True
        if progress is not None and index in totals:
            progress(index, totals[index], totals[index])

    # One single-worker pool per job, ``workers`` of them at a time: each job
    # gets a fresh worker forked from the clean server.  (One shared pool
    # with max_tasks_per_child=1 does the same, but on Python 3.11 it can
    # start a replacement worker after shutdown and hang on exit.)
    queue = list(order if order is not None else range(len(jobs)))
    queue.reverse()
    running: dict[Future[Any], tuple[int, ProcessPoolExecutor]] = {}
    try:
        while queue or running:
            while queue and len(running) < max(1, workers):
                with _ctrl_c_held():  # a pool is either started and in ``running``, or not started
                    i = queue.pop()
                    pool = ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_init_worker,
                                               initargs=(reports, stop))
                    running[pool.submit(_run_job, i, jobs[i])] = (i, pool)
            done, _ = wait(running, timeout=POLL_S, return_when=FIRST_COMPLETED)
            drain()
            for future in done:
                i, pool = running.pop(future)
                pool.shutdown(wait=True)
                results[i] = future.result()
                completed(i)
    except BaseException as exc:  # Ctrl-C, or a job that failed: stop the others now
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while we stop
        try:
            stop.set()
            for future, (i, pool) in running.items():
                pool.shutdown(wait=True, cancel_futures=True)
                if not future.cancelled() and future.exception() is None and future.result() is not None:
                    results[i], finished[i] = future.result(), True
            drain()
        finally:
            signal.signal(signal.SIGINT, previous)
        if not isinstance(exc, KeyboardInterrupt):
            raise
        raise Interrupted([r if f else None for r, f in zip(results, finished)]) from None
    drain()
    return results
