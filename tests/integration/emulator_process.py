"""Run an API emulator as a background process of its own.

Shared by the command lines of the emulators (``python -m cloudflare_emulator`` and
``python -m k8s_emulator``, run from ``tests/integration``): ``start`` forks a detached server,
waits for its word, and prints the state file it wrote (mode 0600); ``stop`` ends it and prints
the report it left behind. Both are idempotent.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

STOP_TIMEOUT = 30


def write_private(path: Path, data: dict) -> None:
    """Write ``data`` as JSON, readable by the owner only, replacing the file at once."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    tmp.replace(path)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def report_path(state_file: Path) -> Path:
    return state_file.with_name(state_file.stem + ".report.json")


def serve_until_signalled(emulator, on_stop: Callable[[], None] | None = None) -> None:
    """Serve until SIGTERM or SIGINT, then stop the emulator and call ``on_stop``."""
    stop_event = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_event.set())
    try:
        while not stop_event.wait(0.5):
            pass
    finally:
        emulator.stop()
        if on_stop is not None:
            on_stop()


def start_background(
    state_file: Path,
    log: str | None,
    make: Callable[[], tuple[object, dict]],
    report_of: Callable[[object], dict],
) -> int:
    """Start a detached server unless one is alive; returns the caller's exit code.

    ``make`` runs in the server process and returns the started emulator and the state to
    publish; ``report_of`` gives what the server leaves behind for ``stop_background``.
    """
    state_file = state_file.resolve()
    current = read_state(state_file)
    if current and alive(current["pid"]):
        print(json.dumps(dict(current, changed=False)))
        return 0
    state_file.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        report_path(state_file).unlink()
    ready_r, ready_w = os.pipe()
    if os.fork():
        # the caller: wait for the server's word, then report its state
        os.close(ready_w)
        with os.fdopen(ready_r) as ready:
            word = ready.read()
        if word != "ready":
            print(f"the emulator did not start: {word or 'no answer'}", file=sys.stderr)
            return 1
        print(json.dumps(dict(read_state(state_file), changed=True)))
        return 0
    # the first child: detach from the caller (setsid), then fork the server itself
    os.close(ready_r)
    os.setsid()
    if os.fork():
        os._exit(0)
    log_fd = os.open(log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    try:
        emulator, state = make()
        write_private(state_file, dict(state, pid=os.getpid()))
    except Exception as exc:  # reported to the caller, which exits non-zero
        os.write(ready_w, f"{type(exc).__name__}: {exc}".encode())
        os._exit(1)
    os.write(ready_w, b"ready")
    os.close(ready_w)

    def leave_report():
        write_private(report_path(state_file), report_of(emulator))
        with contextlib.suppress(FileNotFoundError):
            state_file.unlink()

    serve_until_signalled(emulator, leave_report)
    os._exit(0)


def stop_background(
    state_file: Path, empty_report: dict, problems: Callable[[dict], str | None]
) -> int:
    """Stop the server of ``state_file`` and print its report; non-zero when ``problems`` says."""
    state_file = state_file.resolve()
    current = read_state(state_file)
    if not current or not alive(current["pid"]):
        with contextlib.suppress(FileNotFoundError):
            state_file.unlink()
        print(json.dumps({"changed": False, "msg": "no emulator was running"}))
        return 0
    os.kill(current["pid"], signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while alive(current["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    if alive(current["pid"]):
        print(f"the emulator (pid {current['pid']}) did not stop", file=sys.stderr)
        return 1
    report = read_state(report_path(state_file)) or dict(empty_report)
    print(json.dumps(dict(report, changed=True)))
    problem = problems(report)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0
