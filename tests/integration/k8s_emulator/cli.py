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
import json
from pathlib import Path

from emulator_process import start_background, stop_background

from . import K8sEmulator


def seeded(seed: dict) -> K8sEmulator:
    emulator = K8sEmulator()
    emulator.groups.extend(g for g in seed.get("groups", []) if g not in emulator.groups)
    for path, states in seed.get("objects", {}).items():
        emulator.put(path, *states)
    for path, text in seed.get("texts", {}).items():
        emulator.put_text(path, text)
    return emulator.start()


def start(args) -> int:
    seed = json.loads(Path(args.seed).read_text()) if args.seed else {}
    kubeconfig = Path(args.kubeconfig).resolve() if args.kubeconfig else None

    def make():
        emulator = seeded(seed)
        state = {"url": emulator.url, "token": emulator.token}
        if kubeconfig is not None:
            emulator.kubeconfig(kubeconfig)
            kubeconfig.chmod(0o600)
            state["kubeconfig"] = str(kubeconfig)
        return emulator, state

    def report_of(emulator):
        return {"requests": len(emulator.requests), "writes": emulator.writes}

    return start_background(Path(args.state_file), args.log, make, report_of)


def _problems(report: dict) -> str | None:
    if not report["writes"]:
        return None
    return f"writes were sent to a read-only API: {report['writes']}"


def stop(args) -> int:
    return stop_background(Path(args.state_file), {"requests": 0, "writes": []}, _problems)


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
