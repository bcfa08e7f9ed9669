"""Upgrade and reset, through the collection's own playbooks, on the converged cluster.

Runs after test_k3s_cluster.py (pytest takes files in name order) and changes the nodes:
spitikos.homelab.upgrade to the second stand-in release (only the binary changes, each node
restarts once, the token stays), then spitikos.homelab.reset (everything the install created
is gone).
"""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
_RUNNER = AnsibleRunner(INVENTORY)
SERVERS = _RUNNER.get_hosts("k3s_servers")
AGENTS = _RUNNER.get_hosts("k3s_agents")
OLD, NEW = "v1.34.9+k3s1", "v1.35.8+k3s1"
KEPT = {
    "server": [
        "/etc/rancher/k3s/config.yaml",
        "/etc/systemd/system/k3s.service",
        "/etc/systemd/system/k3s.service.env",
        "/etc/rancher/k3s/cluster-token",
    ],
    "agent": [
        "/etc/rancher/k3s/config.yaml",
        "/etc/systemd/system/k3s-agent.service",
        "/etc/systemd/system/k3s-agent.service.env",
    ],
}


def _host(name):
    return testinfra.get_host(f"podman://{name}")


def _role(name):
    return "server" if name in SERVERS else "agent"


def _snapshot():
    """Per node: the sha256 of each file the upgrade must keep, the binary's, and the starts."""
    state = {}
    for name in SERVERS + AGENTS:
        host = _host(name)
        starts_file = host.file("/var/lib/homelab-standin/starts.log")
        starts = starts_file.content_string.splitlines() if starts_file.exists else []
        state[name] = {
            "kept": {p: host.file(p).sha256sum for p in KEPT[_role(name)]},
            "binary": host.file("/usr/local/bin/k3s").sha256sum,
            "starts": [json.loads(line) for line in starts],
        }
    return state


def _playbook(name, *extra):
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(Path(INVENTORY).parent),
            f"spitikos.homelab.{name}",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
    return proc.stdout


def _require_installed():
    for name in SERVERS + AGENTS:
        if not _host(name).file("/usr/local/bin/k3s").exists:
            pytest.fail(f"{name} has no k3s installed: the converge did not run")


def _upgrade_vars(version):
    artifacts = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "artifacts" / version
    return ["-e", f"homelab_k3s_version={version}", "-e", f"homelab_k3s_artifact_dir={artifacts}"]


def test_upgrade_changes_only_the_binary_and_restarts_each_node_once():
    _require_installed()
    before = _snapshot()
    output = _playbook("upgrade", *_upgrade_vars(NEW))
    after = _snapshot()
    expected = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "artifacts" / NEW / "k3s"
    new_binary = hashlib.sha256(expected.read_bytes()).hexdigest()
    for name in SERVERS + AGENTS:
        assert after[name]["kept"] == before[name]["kept"], name
        assert after[name]["binary"] == new_binary != before[name]["binary"], name
        assert after[name]["starts"][:-1] == before[name]["starts"], name
        last = after[name]["starts"][-1]
        assert last["version"] == NEW, name
        assert last["env"]["K3S_TOKEN"] == before[name]["starts"][-1]["env"]["K3S_TOKEN"], name
        assert NEW in _host(name).check_output("/usr/local/bin/k3s --version"), name
    # One node at a time, servers first: the plays' batches appear in that order.
    order = [line for line in output.splitlines() if line.startswith("PLAY [")]
    assert order[0].startswith("PLAY [Upgrade the k3s servers"), order
    assert sum(p.startswith("PLAY [Upgrade the k3s agents") for p in order) == len(AGENTS)
    # Servers' restarts happened before any agent's.
    server_time = max(after[s]["starts"][-1]["time"] for s in SERVERS)
    assert all(after[a]["starts"][-1]["time"] > server_time for a in AGENTS)


def test_reset_removes_what_the_install_created():
    _require_installed()
    _playbook("reset", "-e", f"homelab_reset={SERVERS[0]}")
    for name in SERVERS + AGENTS:
        host = _host(name)
        unit = "k3s" if name in SERVERS else "k3s-agent"
        for path in (
            "/usr/local/bin/k3s",
            "/usr/local/bin/kubectl",
            "/usr/local/bin/crictl",
            "/usr/local/bin/ctr",
            "/usr/local/bin/k3s-killall.sh",
            f"/usr/local/bin/{unit}-uninstall.sh",
            f"/etc/systemd/system/{unit}.service",
            f"/etc/systemd/system/{unit}.service.env",
            "/etc/rancher",
            "/var/lib/rancher",
        ):
            assert not host.file(path).exists, f"{name}: {path}"
        assert host.run(f"systemctl cat {unit}").rc != 0, name
        # The stand-in's process is gone with the unit.
        pid = json.loads(host.file("/var/lib/homelab-standin/current.json").content_string)["pid"]
        assert not host.file(f"/proc/{pid}").exists, name
