"""playbooks/reset.yml touches no host unless ``homelab_reset`` names the cluster's first server.

The inventory's nodes point at a closed port on loopback: had the playbook gone past its
confirmation, each would show as unreachable in the recap.
"""

from __future__ import annotations

import re

import pytest
import yaml

RECAP = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


@pytest.fixture
def inventory(tmp_path):
    node = {"ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_connection": "ssh"}
    hosts = {
        "all": {
            "children": {
                "k3s_servers": {"hosts": {"srv1": node, "srv2": node}},
                "k3s_agents": {"hosts": {"agent1": node}},
                "cloudflared": {"hosts": {"srv1": None}},
            }
        }
    }
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(hosts))
    return path


def recap(output):
    return {
        host: (int(unreachable), int(failed)) for host, unreachable, failed in RECAP.findall(output)
    }


@pytest.mark.parametrize("extra", [[], ["-e", "homelab_reset=srv2"], ["-e", "homelab_reset=yes"]])
def test_reset_without_the_cluster_name_touches_nothing(run_playbook, inventory, extra):
    proc = run_playbook("playbooks/reset.yml", "-i", inventory, *extra)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "run it again with -e homelab_reset=srv1" in output
    assert "servers: srv1, srv2; agents: agent1; connectors: srv1" in output
    # Only the confirmation ran: no node was contacted.
    assert recap(output) == {"localhost": (0, 1)}, output


def test_reset_with_the_cluster_name_goes_ahead(run_playbook, inventory):
    proc = run_playbook("playbooks/reset.yml", "-i", inventory, "-e", "homelab_reset=srv1")
    output = proc.stdout + proc.stderr
    found = recap(output)
    assert found["localhost"] == (0, 0), output
    # Past the confirmation the playbook reaches for the nodes (here: a closed port).
    assert found["srv1"][0] == 1, output
