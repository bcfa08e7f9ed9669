"""Run the emulator as a process of its own, seeded from a JSON file.

Role scenarios (molecule) run Ansible in separate processes, so they cannot share an in-process
emulator the way the module tests do. From `tests/integration`:

    python -m cloudflare_emulator start --state-file S --seed SEED.json [--token T] [--port N]
    python -m cloudflare_emulator stop --state-file S
    python -m cloudflare_emulator serve --seed SEED.json [--token T] [--port N]

`start` forks a background server on 127.0.0.1, waits until it answers, writes the state file
(mode 0600: pid, base URL, token, account id, zone ids) and prints it as JSON. `stop` ends that
server, prints the requests it counted per endpoint and fails when any request or response broke
the API description. Both are idempotent: `start` with a live server reuses it, `stop` without
one does nothing. `serve` runs in the foreground until interrupted.

The seed file:

    {"account_id": "...",                                   # optional
     "zones": [{"name": "example.com",
                "records": [{"name": "legacy.example.com", "type": "A",
                             "content": "192.0.2.10", "comment": "hand-made"}]}],
     "tunnels": [{"name": "media", "remote": true}]}
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import sys
import threading
import time
from pathlib import Path

from .server import CloudflareEmulator

START_TIMEOUT = 30


def load_seed(path: str | Path | None) -> dict:
    if not path:
        return {}
    return json.loads(Path(path).read_text())


def seeded(seed: dict, token: str, port: int = 0) -> CloudflareEmulator:
    """A started emulator holding the seed's zones, records and tunnels."""
    emulator = CloudflareEmulator(token=token, account_id=seed.get("account_id"))
    for zone in seed.get("zones", []):
        created = emulator.add_zone(zone["name"], zone.get("id"))
        for record in zone.get("records", []):
            emulator.add_record(created["id"], **record)
    for tunnel in seed.get("tunnels", []):
        emulator.add_tunnel(tunnel["name"], remote=bool(tunnel.get("remote")))
    return emulator.start(port)


def state_of(emulator: CloudflareEmulator) -> dict:
    return {
        "pid": os.getpid(),
        "base_url": emulator.base_url,
        "token": emulator.token,
        "account_id": emulator.account_id,
        "zones": {zone["name"]: zone_id for zone_id, zone in emulator.zones.items()},
    }


def report_of(emulator: CloudflareEmulator) -> dict:
    return {
        "calls": emulator.call_summary(),
        "validation_errors": list(emulator.validation_errors),
    }


def _write_private(path: Path, data: dict) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
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


def _serve_until_signalled(emulator: CloudflareEmulator, state_file: Path | None) -> None:
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        if state_file is not None:
            _write_private(_report_path(state_file), report_of(emulator))
            with contextlib.suppress(FileNotFoundError):
                state_file.unlink()


def start(args) -> int:
    state_file = Path(args.state_file).resolve()
    current = _read_state(state_file)
    if current and _alive(current["pid"]):
        print(json.dumps(dict(current, changed=False)))
        return 0
    state_file.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        _report_path(state_file).unlink()
    seed = load_seed(args.seed)
    token = args.token or "cf-emulator-" + secrets.token_hex(16)
    ready_r, ready_w = os.pipe()
    if os.fork():
        # the caller: wait for the server's word, then report its state
        os.close(ready_w)
        with os.fdopen(ready_r) as ready:
            word = ready.read()
        if word != "ready":
            print(f"the emulator did not start: {word or 'no answer'}", file=sys.stderr)
            return 1
        print(json.dumps(dict(_read_state(state_file), changed=True)))
        return 0
    # the first child: detach from the caller (setsid), then fork the server itself
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
        emulator = seeded(seed, token, args.port)
        _write_private(state_file, state_of(emulator))
    except Exception as exc:  # reported to the caller, which exits non-zero
        os.write(ready_w, f"{type(exc).__name__}: {exc}".encode())
        os._exit(1)
    os.write(ready_w, b"ready")
    os.close(ready_w)
    _serve_until_signalled(emulator, state_file)
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
    deadline = time.monotonic() + START_TIMEOUT
    while _alive(current["pid"]) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(current["pid"]):
        print(f"the emulator (pid {current['pid']}) did not stop", file=sys.stderr)
        return 1
    report = _read_state(_report_path(state_file)) or {"calls": {}, "validation_errors": []}
    print(json.dumps(dict(report, changed=True)))
    if report["validation_errors"]:
        print(
            "requests or responses broke the API description:\n"
            + "\n".join(report["validation_errors"]),
            file=sys.stderr,
        )
        return 1
    return 0


def serve(args) -> int:
    emulator = seeded(load_seed(args.seed), args.token or "cf-emulator", args.port)
    print(json.dumps(state_of(emulator)), flush=True)
    _serve_until_signalled(emulator, None)
    print(json.dumps(report_of(emulator)))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloudflare_emulator", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "serve"):
        command = commands.add_parser(name)
        command.add_argument("--seed", help="JSON file with zones, records and tunnels")
        command.add_argument("--token", help="the API token clients must send (default: random)")
        command.add_argument("--port", type=int, default=0, help="default: a free port")
        if name == "start":
            command.add_argument("--state-file", required=True)
            command.add_argument("--log", help="where the server's own output goes")
    command = commands.add_parser("stop")
    command.add_argument("--state-file", required=True)
    args = parser.parse_args(argv)
    return {"start": start, "stop": stop, "serve": serve}[args.command](args)
