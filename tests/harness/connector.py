"""Runs the planned cloudflared connector against tests/harness/fake_edge.py.

``Connector`` makes the connector ``playbooks/plan.yml`` planned for a host runnable here: the
``ExecStart`` and ``EnvironmentFile`` systemd would use (read from the planned unit and its
drop-in), placeholders filled with a made-up tunnel, the binary replaced by the oracle.
``FakeEdge`` runs the fake edge on a free port; its ``environment()`` is what points cloudflared
at it (the hidden ``--edge``/``--cacert`` settings as ``TUNNEL_EDGE``/``TUNNEL_CACERT``, so the
command line stays exactly the planned one). ``run_connector`` runs cloudflared until the edge
saw what a test waits for.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

FAKE_EDGE = Path(__file__).resolve().parent / "fake_edge.py"
UNIT = "etc/systemd/system/cloudflared.service"
DROP_IN = "etc/systemd/system/cloudflared.service.d/override.conf"
# Made-up tunnel identity standing in for the plan's placeholders.
ACCOUNT = "0123456789abcdef0123456789abcdef"


def systemd_service(plan_host: Path) -> dict:
    """``{exec_start: argv, environment_files: [...], type: ...}`` of the planned unit and its
    drop-in, read the way systemd merges them (an empty ``ExecStart=`` clears the list)."""
    exec_start, env_files, kind = [], [], None
    for path in (plan_host / UNIT, plan_host / DROP_IN):
        section = None
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", ";")):
                continue
            if line.startswith("["):
                section = line
                continue
            if section != "[Service]" or "=" not in line:
                continue
            key, value = (part.strip() for part in line.split("=", 1))
            if key == "ExecStart":
                exec_start = [shlex.split(value)] if value else []
            elif key == "EnvironmentFile":
                env_files.append(value)
            elif key == "Type":
                kind = value
    assert len(exec_start) == 1, exec_start
    return {"exec_start": exec_start[0], "environment_files": env_files, "type": kind}


class Connector:
    """The planned connector made runnable on this machine: placeholders filled in, files
    moved into a scratch directory, the binary replaced by the oracle."""

    def __init__(self, plan: Path, host: str, binary: Path, scratch: Path):
        self.scratch = scratch
        plan_host = plan / "hosts" / host
        service = systemd_service(plan_host)
        self.tunnel_id = str(uuid.uuid4())
        secret = base64.b64encode(os.urandom(32)).decode()
        self.env = {}
        for env_file in service["environment_files"]:
            for line in (plan_host / env_file.lstrip("/")).read_text().splitlines():
                if line and not line.startswith("#"):
                    name, value = line.split("=", 1)
                    if name == "TUNNEL_TOKEN":
                        assert value == "<tunnel-token>", "the plan must not hold a token"
                        token = {"a": ACCOUNT, "t": self.tunnel_id, "s": secret}
                        value = base64.b64encode(json.dumps(token).encode()).decode()
                    self.env[name] = value
        argv = list(service["exec_start"])
        argv[0] = str(binary)
        if "--config" in argv:
            at = argv.index("--config") + 1
            planned = plan_host / argv[at].lstrip("/")
            text = planned.read_text().replace("<tunnel-id>", self.tunnel_id)
            credentials = scratch / "credentials.json"
            credentials.write_text(
                json.dumps(
                    {"AccountTag": ACCOUNT, "TunnelID": self.tunnel_id, "TunnelSecret": secret}
                )
            )
            text = text.replace("/etc/cloudflared/credentials.json", str(credentials))
            (scratch / "config.yml").write_text(text)
            argv[at] = str(scratch / "config.yml")
        # Another process may hold the planned metrics port on this machine: any free port.
        if "--metrics" in argv:
            argv[argv.index("--metrics") + 1] = "127.0.0.1:0"
        self.argv = argv
        self.type = service["type"]

    def with_protocol(self, protocol):
        """The command line with ``--protocol``'s value replaced (it must be there)."""
        argv = list(self.argv)
        argv[argv.index("--protocol") + 1] = protocol
        return argv


class FakeEdge:
    def __init__(self, directory: Path):
        self.directory = directory
        self.log = directory / "edge.jsonl"
        self.ca = directory / "ca.pem"
        self.port = None
        self.process = None

    def start(self):
        for _attempt in range(20):
            port = free_port()
            self.log.unlink(missing_ok=True)
            self.process = subprocess.Popen(
                [sys.executable, str(FAKE_EDGE), "--port", str(port), "--log", str(self.log),
                 "--cert-dir", str(self.directory / "certs"), "--ca-out", str(self.ca)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            line = self.process.stdout.readline()
            if line.startswith("ready "):
                self.port = port
                return self
            self.process.wait(timeout=5)
        raise RuntimeError(f"the fake edge did not start: {self.process.stderr.read()}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def events(self):
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line]

    def reset(self):
        self.log.write_text("")

    def environment(self, prechecks=False):
        """What points cloudflared at this edge (the hidden --edge and --cacert settings)."""
        env = {"TUNNEL_EDGE": f"127.0.0.1:{self.port}", "TUNNEL_CACERT": str(self.ca)}
        if not prechecks:
            env["TUNNEL_NO_PRECHECKS"] = "true"
        return env


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            return port


def run_connector(argv, env, edge, scratch, until, at_most=15.0, grace=2.0):
    """Run cloudflared until ``until(events)`` holds (then ``grace`` seconds more) or
    ``at_most`` seconds passed; returns (edge events, cloudflared's log, still running)."""
    log_path = scratch / f"cloudflared-{time.monotonic_ns()}.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            argv,
            env={"PATH": "/usr/bin:/bin", "HOME": str(scratch), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=scratch,
        )
        try:
            deadline = time.monotonic() + at_most
            while time.monotonic() < deadline and process.poll() is None:
                if until(edge.events()):
                    time.sleep(grace)
                    break
                time.sleep(0.1)
            running = process.poll() is None
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return edge.events(), log_path.read_text(), running
