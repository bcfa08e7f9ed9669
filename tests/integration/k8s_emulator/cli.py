"""Run the Kubernetes API emulator as a process of its own, seeded from a JSON file.

The module tests start the emulator in-process; the local lab (``scripts/lab``) runs Ansible in
processes of its own, so it needs one that outlives a command. From ``tests/integration``:

    python -m k8s_emulator start --state-file S --seed SEED.json --kubeconfig K [--log L]
    python -m k8s_emulator stop --state-file S

``start`` forks a background server on 127.0.0.1, waits until it answers, writes the state file
(mode 0600: pid, URL, token) and a kubeconfig pointing at it (context ``emulator``), and prints
the state as JSON. ``stop`` ends that server and prints the requests it refused (the emulator is
read-only: a write is a failure). Both are idempotent.

The seed file: each object is a script of states, one step per read (``null``: not found yet),
the last state staying, as ``K8sEmulator.put`` takes them.

    {"groups": ["helm.cattle.io/v1"],
     "objects": {"/apis/apps/v1/namespaces/ns/deployments/name": [null, {...}, {...}]},
     "texts": {"/api/v1/namespaces/ns/pods/p/log": "..."}}
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from . import K8sEmulator

STOP_TIMEOUT = 30


def seeded(seed: dict) -> K8sEmulator:
    emulator = K8sEmulator()
    emulator.groups.extend(g for g in seed.get("groups", []) if g not in emulator.groups)
    for path, states in seed.get("objects", {}).items():
        emulator.put(path, *states)
    for path, text in seed.get("texts", {}).items():
        emulator.put_text(path, text)
    return emulator.start()


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    tmp.replace(path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_state(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _report_path(state_file: Path) -> Path:
    return state_file.with_name(state_file.stem + ".report.json")


def start(args) -> int:
    state_file = Path(args.state_file).resolve()
    current = _read_state(state_file)
    if current and _alive(current["pid"]):
        print(json.dumps(dict(current, changed=False)))
        return 0
    state_file.parent.mkdir(parents=True, exist_ok=True)
    seed = json.loads(Path(args.seed).read_text()) if args.seed else {}
    kubeconfig = Path(args.kubeconfig).resolve() if args.kubeconfig else None
    ready_r, ready_w = os.pipe()
    if os.fork():
        os.close(ready_w)
        with os.fdopen(ready_r) as ready:
            word = ready.read()
        if word != "ready":
            print(f"the emulator did not start: {word or 'no answer'}", file=sys.stderr)
            return 1
        print(json.dumps(dict(_read_state(state_file), changed=True)))
        return 0
    os.close(ready_r)
    os.setsid()
    if os.fork():
        os._exit(0)
    log = os.open(args.log or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    try:
        emulator = seeded(seed)
        if kubeconfig is not None:
            emulator.kubeconfig(kubeconfig)
            kubeconfig.chmod(0o600)
        state = {"pid": os.getpid(), "url": emulator.url, "token": emulator.token}
        if kubeconfig is not None:
            state["kubeconfig"] = str(kubeconfig)
        _write_private(state_file, json.dumps(state, indent=2, sort_keys=True))
    except Exception as exc:  # reported to the caller, which exits non-zero
        os.write(ready_w, f"{type(exc).__name__}: {exc}".encode())
        os._exit(1)
    os.write(ready_w, b"ready")
    os.close(ready_w)
    stop_event = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop_event.set())
    try:
        while not stop_event.wait(0.5):
            pass
    finally:
        emulator.stop()
        report = {"requests": len(emulator.requests), "writes": emulator.writes}
        _write_private(_report_path(state_file), json.dumps(report))
        with contextlib.suppress(FileNotFoundError):
            state_file.unlink()
    os._exit(0)


def stop(args) -> int:
    state_file = Path(args.state_file).resolve()
    current = _read_state(state_file)
    if not current or not _alive(current["pid"]):
        with contextlib.suppress(FileNotFoundError):
            state_file.unlink()
        print(json.dumps({"changed": False, "msg": "no emulator was running"}))
        return 0
    os.kill(current["pid"], signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while _alive(current["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(current["pid"]):
        print(f"the emulator (pid {current['pid']}) did not stop", file=sys.stderr)
        return 1
    report = _read_state(_report_path(state_file)) or {"requests": 0, "writes": []}
    print(json.dumps(dict(report, changed=True)))
    if report["writes"]:
        print(f"writes were sent to a read-only API: {report['writes']}", file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m k8s_emulator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("start")
    command.add_argument("--state-file", required=True)
    command.add_argument("--seed", help="JSON file with the objects and their states")
    command.add_argument("--kubeconfig", help="where to write a kubeconfig for the emulator")
    command.add_argument("--log", help="where the server's own output goes")
    command = commands.add_parser("stop")
    command.add_argument("--state-file", required=True)
    args = parser.parse_args(argv)
    return {"start": start, "stop": stop}[args.command](args)
