"""``han-emu ARGS`` run in the test's own process: :func:`han_emu.cli.main.main`,
the function the ``han-emu`` script calls, with a working directory, environment
variables, standard streams and a time limit of its own.

Starting Python and importing han-emu costs about a second of CPU per command.
Where a test checks what a command prints and its exit status, and not what only
a process of its own shows (a signal, a terminal, a kill, a lock held by another
process), the command runs here instead.  What a process of its own would print
on stderr is kept: warnings of the ``warnings`` module and log records that no
handler of the command takes (Python's last-resort handler) land on the
command's stderr, not in pytest's capture.
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

#: Seconds a command may take here before the test fails (a refusal that has to come at once).
LIMIT = 60.0

#: Warning categories a fresh interpreter does not show (its default filters).
_HIDDEN = (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning)


class Overran(BaseException):
    """The command ran past its time limit.  A BaseException, so that main(),
    which turns every Exception into one line, does not swallow it."""


def _stream(data: bytes = b"") -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", write_through=True)


def _text(stream: io.TextIOWrapper) -> str:
    stream.flush()
    return stream.buffer.getvalue().decode()  # type: ignore[attr-defined]


def run_main(argv: list[str | Path] | tuple[str | Path, ...], *, cwd: Path,
             env: Mapping[str, str | None] | None = None, stdin: bytes = b"",
             timeout: float = LIMIT) -> subprocess.CompletedProcess[str]:
    """``han-emu ARGV`` in ``cwd`` with ``env`` set (``None`` unsets a variable),
    ``stdin`` on standard input and standard output and error on pipes (not
    terminals); returned as :func:`subprocess.run` with ``text=True`` returns it.
    A command still running after ``timeout`` seconds fails the test."""
    from han_emu.cli.main import main

    args = [str(a) for a in argv]
    out, err, inp = _stream(), _stream(), _stream(stdin)
    saved_streams = sys.stdin, sys.stdout, sys.stderr
    saved_cwd = os.getcwd()
    saved_env = {k: os.environ.get(k) for k in (env or {})}
    root = logging.getLogger()
    saved_handlers = root.handlers[:]
    on_main_thread = threading.current_thread() is threading.main_thread()
    saved_alarm = None

    def overran(signum: int, frame: FrameType | None) -> None:
        raise Overran(f"han-emu {' '.join(args)}: still running after {timeout:g} s")

    code: int | str | None
    try:
        for key, value in (env or {}).items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        os.chdir(cwd)
        sys.stdin, sys.stdout, sys.stderr = inp, out, err
        root.handlers[:] = []  # as in a fresh interpreter: records nothing handles go to stderr
        if on_main_thread:
            saved_alarm = signal.signal(signal.SIGALRM, overran)
            signal.setitimer(signal.ITIMER_REAL, timeout)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                code = main(args)
            except SystemExit as exc:  # argparse's usage errors, --help and --version
                code = exc.code
            finally:
                if on_main_thread:
                    signal.setitimer(signal.ITIMER_REAL, 0)
        for w in caught:
            if not issubclass(w.category, _HIDDEN):
                err.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno, w.line))
    finally:
        if on_main_thread:
            signal.signal(signal.SIGALRM, signal.SIG_DFL if saved_alarm is None else saved_alarm)
        root.handlers[:] = saved_handlers
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): the message on stderr, status 1
        err.write(f"{code}\n")
        status = 1
    return subprocess.CompletedProcess(["han-emu", *args], status, _text(out), _text(err))
