"""Progress bars for long work, drawn on a terminal only.

The long-running code below the command line (a simulation, the MP184
comparison, a replay) takes a plain callback, ``progress(done, total)``, and
knows nothing of terminals.  :func:`progress_bar` makes that callback: a rich
bar on standard error when it is a terminal, and None otherwise, so a pipe or a
file gets no bars and the work no calls to make.  The bar is transient: it is
gone when the work ends, leaving the output as it was.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from han_emu.frames.record import RawFrame

Progress = Callable[[float, float], None]
"""``progress(done, total)``, in whatever unit the work counts (seconds of virtual time, bytes)."""

UPDATES = 500
"""A bar is redrawn at most this many times over the work: updating rich costs
far more than the comparison that skips it."""


def on_terminal(stream: TextIO | None = None) -> bool:
    """Whether ``stream`` (standard error by default) is a terminal a bar can be drawn on."""
    stream = sys.stderr if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def _bars(stream: TextIO) -> Any:
    """A transient rich progress display on ``stream``: description, bar,
    percentage, time elapsed and time left."""
    from rich.console import Console
    from rich.progress import BarColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
               TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn())
    return Bar(*columns, console=Console(file=stream), transient=True, redirect_stdout=False)


@contextmanager
def progress_bar(description: str, *, stream: TextIO | None = None,
                 enabled: bool = True) -> Iterator[Progress | None]:
    """A progress callback drawing a bar on ``stream`` (standard error) while the
    ``with`` block runs; None when the stream is no terminal or not ``enabled``."""
    stream = sys.stderr if stream is None else stream
    if not enabled or not on_terminal(stream):
        yield None
        return
    with _bars(stream) as bar:
        task = bar.add_task(description, total=None)
        next_at = 0.0

        def update(done: float, total: float) -> None:
            nonlocal next_at
            if done < next_at and done < total:
                return
            next_at = done + total / UPDATES
            bar.update(task, completed=done, total=total)

        update.bar, update.task = bar, task  # type: ignore[attr-defined]
        yield update


PartProgress = Callable[[int, float, float], None]
"""``progress(part, done, total)``: how far one part of the work has got."""


@contextmanager
def progress_bars(description: str, parts: Sequence[str], *, stream: TextIO | None = None,
                  enabled: bool = True) -> Iterator[PartProgress | None]:
    """A bar for the whole work (``description``) and one under it for each of
    its ``parts``, which may run at once (simulations in worker processes):
    the callback hears ``(part index, done, total)``.  None when the stream is
    no terminal or not ``enabled``, like :func:`progress_bar`."""
    stream = sys.stderr if stream is None else stream
    if not enabled or not on_terminal(stream):
        yield None
        return
    with _bars(stream) as bar:
        whole = bar.add_task(description, total=None)
        tasks = [bar.add_task(f"  {part}", total=None) for part in parts]
        done = [0.0] * len(parts)
        totals = [0.0] * len(parts)
        next_at = [0.0] * len(parts)

        def update(part: int, so_far: float, total: float) -> None:
            done[part], totals[part] = so_far, total
            if so_far < next_at[part] and so_far < total:
                return
            next_at[part] = so_far + total / UPDATES
            bar.update(tasks[part], completed=so_far, total=total)
            whole_total = max(totals) * len(parts) if all(totals) else None
            bar.update(whole, completed=sum(done), total=whole_total)

        yield update


BIG_CAPTURE = 1 << 20
"""A capture from this size on gets a bar while it is read (a smaller one is read in a blink)."""


@contextmanager
def capture_progress(path: str | Path, on_frame: Callable[[RawFrame], None] | None = None, *,
                     output: TextIO | None = None) -> Iterator[Callable[[RawFrame], None] | None]:
    """The ``on_frame`` hook for reading the capture at ``path``: ``on_frame`` and,
    for a big file, a bar of the bytes read.  The bar is left out when the
    output goes to the terminal too: the lines scrolling by are progress enough."""
    try:
        size = Path(path).stat().st_size
    except OSError:
        size = 0
    big = size >= BIG_CAPTURE and not on_terminal(output or sys.stdout)
    with progress_bar(f"reading {Path(path).name}", enabled=big) as progress:
        if progress is None:
            yield on_frame
            return

        def hook(raw: RawFrame) -> None:
            if on_frame is not None:
                on_frame(raw)
            progress(raw.offset, size)

        yield hook
        progress(size, size)


StatusProgress = Callable[[float, float, str], None]
"""``progress(done, total, text)``: a bar whose description changes as the work goes."""


@contextmanager
def status_bar(description: str, *, stream: TextIO | None = None,
               enabled: bool = True) -> Iterator[StatusProgress | None]:
    """:func:`progress_bar` whose text the callback sets each time (a conformance
    run's step and its checks passed, failed and pending); None off a terminal."""
    with progress_bar(description, stream=stream, enabled=enabled) as update:
        if update is None:
            yield None
            return
        bar, task = update.bar, update.task  # type: ignore[attr-defined]

        def show(done: float, total: float, text: str) -> None:
            bar.update(task, completed=done, total=total, description=text)

        yield show
