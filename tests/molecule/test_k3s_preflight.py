"""Bad k3s input fails in the roles' preflight, before anything changes, naming the variable.

Runs the real roles with ansible-playbook against inventory hosts on a local connection, in
check mode: the preflight must stop the run (and would stop it before any task that writes).
No container is needed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLAYBOOK = """
- name: Servers
  hosts: k3s_servers
  gather_facts: true
  gather_subset: [min]
  roles:
    - role: spitikos.homelab.k3s_server
- name: Agents
  hosts: k3s_agents
  gather_facts: true
  gather_subset: [min]
  roles:
    - role: spitikos.homelab.k3s_agent
"""


def _inventory(servers, agents):
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    return {
        "all": {
            "vars": {**local, "k3s_server_arch": "amd64", "k3s_agent_arch": "amd64"},
            "children": {
                "k3s_servers": {"hosts": dict.fromkeys(servers)},
                "k3s_agents": {"hosts": dict.fromkeys(agents)},
            },
        }
    }


CASES = {
    "even number of servers": (
        ["cp1", "cp2"],
        [],
        {},
        "k3s_server_group holds 2 servers: embedded etcd needs an odd number",
    ),
    "agents without a server": (
        [],
        ["worker1", "worker2"],
        {},
        "k3s_agent_server_group: the 'k3s_servers' group names no k3s server",
    ),
    "tls-san that is neither host name nor address": (
        ["cp1"],
        [],
        {"k3s_server_tls_san": ["k3s.example.com", "https://k3s.example.com"]},
        "k3s_server_tls_san[1] 'https://k3s.example.com' is neither a host name nor an IP",
    ),
    "unknown architecture": (
        ["cp1"],
        [],
        {"k3s_server_arch": "riscv64"},
        "k3s_server_arch",
    ),
    "release tag without the k3s suffix": (
        ["cp1"],
        [],
        {"k3s_server_version": "v1.34.9"},
        "k3s_server_version 'v1.34.9' is not a k3s release tag",
    ),
}


def _check_run(tmp_path, servers, agents, extra):
    (tmp_path / "hosts.json").write_text(json.dumps(_inventory(servers, agents)))
    (tmp_path / "site.yml").write_text(PLAYBOOK)
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(REPO / ".cache" / "collections"),
        ANSIBLE_HOME=str(tmp_path / "home"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_STDOUT_CALLBACK="default",
    )
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible-playbook"),
            "-i",
            str(tmp_path / "hosts.json"),
            "--check",
            "-e",
            json.dumps(extra),
            str(tmp_path / "site.yml"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize(("servers", "agents", "extra", "message"), CASES.values(), ids=CASES)
def test_bad_input_fails_before_anything_changes(tmp_path, servers, agents, extra, message):
    returncode, output = _check_run(tmp_path, servers, agents, extra)
    assert returncode != 0, output
    assert message in " ".join(output.split()), output
    assert "changed=0" in output, output
    assert "changed=1" not in output, output


def test_every_problem_of_a_host_is_named_at_once(tmp_path):
    returncode, output = _check_run(tmp_path, [], ["worker1"], {"k3s_agent_version": "v1.34.9"})
    flat = " ".join(output.split())
    assert returncode != 0, output
    assert "k3s_agent_server_group: the 'k3s_servers' group names no k3s server" in flat, output
    assert "k3s_agent_version 'v1.34.9' is not a k3s release tag" in flat, output
    assert "changed=1" not in output, output
