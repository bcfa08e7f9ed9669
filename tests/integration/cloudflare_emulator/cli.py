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
import json
import os
import secrets
from pathlib import Path

from emulator_process import serve_until_signalled, start_background, stop_background

from .server import CloudflareEmulator


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


def start(args) -> int:
    seed = load_seed(args.seed)
    token = args.token or "cf-emulator-" + secrets.token_hex(16)

    def make():
        emulator = seeded(seed, token, args.port)
        return emulator, state_of(emulator)

    return start_background(Path(args.state_file), args.log, make, report_of)


def _problems(report: dict) -> str | None:
    if not report["validation_errors"]:
        return None
    return "requests or responses broke the API description:\n" + "\n".join(
        report["validation_errors"]
    )


def stop(args) -> int:
    return stop_background(Path(args.state_file), {"calls": {}, "validation_errors": []}, _problems)


def serve(args) -> int:
    emulator = seeded(load_seed(args.seed), args.token or "cf-emulator", args.port)
    print(json.dumps(state_of(emulator)), flush=True)
    serve_until_signalled(emulator)
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
