"""Independent simulations run at once, one per core, in worker processes.

Each variant of the duty-cycle study is a whole virtual-HAN simulation that
shares nothing with the others, and a simulation is single-threaded Python:
the only way to use a second core is a second process.  :func:`run_parallel`
runs picklable jobs in a ``concurrent.futures.ProcessPoolExecutor`` and gives
their results in the jobs' order, the same as running them one after another.

The workers report back over a queue: the virtual seconds each job has run
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

import multiprocessing
import os
import queue as queues
import signal
import threading
import _thread
from collections.abc import Callable, Sequence
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


def _init_worker(reports: Any, stop: Any) -> None:
    global _reports, _stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # between jobs: Ctrl-C is the parent's to handle
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
    _thread.interrupt_main(signal.SIGINT)


def _run_job(index: int, job: Job) -> Any:
    """In a worker: run ``job``, reporting its progress; None if it was stopped
    (Ctrl-C on the terminal, or the parent's word)."""

    def progress(done: float, total: float) -> None:
        _reports.put(("progress", index, done, total))

    def started() -> None:
        _reports.put(("started", index, 0.0, 0.0))

    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a job stops on Ctrl-C as in the foreground
        if _stopping:
            return None
        return job(progress, started)
    except KeyboardInterrupt:
        return None
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_parallel(jobs: Sequence[Job], *, workers: int, progress: PartProgress | None = None,
                 started: Callable[[], None] | None = None, order: Sequence[int] | None = None) -> list[Any]:
    """Run ``jobs`` on ``workers`` processes; their results, in the jobs' order.

    ``order`` is the order to hand them out in (the longest first keeps every
    core busy to the end).  ``progress(index, done, total)`` hears each job's
    progress, ``started()`` each job's start.  Ctrl-C stops every job and
    raises :class:`Interrupted` with the results of those that had finished.
    A job's own exception is raised here once the pool has stopped.
    """
    context = multiprocessing.get_context()
    reports = context.Queue()
    stop = context.Event()
    results: list[Any] = [None] * len(jobs)
    finished = [False] * len(jobs)

    def drain() -> None:
        while True:
            try:
                kind, index, done, total = reports.get_nowait()
            except queues.Empty:
                return
            if kind == "started":
                if started is not None:
                    started()
            elif progress is not None:
                progress(index, done, total)

    pool = ProcessPoolExecutor(max_workers=max(1, min(workers, len(jobs))), mp_context=context,
                               initializer=_init_worker, initargs=(reports, stop))
    futures: dict[Future[Any], int] = {}
    try:
        for i in (order if order is not None else range(len(jobs))):
            futures[pool.submit(_run_job, i, jobs[i])] = i
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
            drain()
            for future in done:
                results[futures[future]] = future.result()
                finished[futures[future]] = True
    except BaseException as exc:  # Ctrl-C, or a job that failed: stop the others now
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while we stop
        try:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)
            drain()
        finally:
            signal.signal(signal.SIGINT, previous)
        if not isinstance(exc, KeyboardInterrupt):
            raise
        for future, i in futures.items():
            if future.done() and not future.cancelled() and future.exception() is None and not finished[i]:
                results[i] = future.result()
                finished[i] = results[i] is not None
        raise Interrupted([r if f else None for r, f in zip(results, finished)]) from None
    pool.shutdown(wait=True)
    drain()
    return results
