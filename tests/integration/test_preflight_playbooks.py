"""A wrong role variable stops the site and the plan in their first play, before any host.

A copy of inventories/home gets role-variable mistakes on several hosts. Every host points at a
closed port on loopback, so a play that went past the preflight would show the hosts as
unreachable in the recap. The plan, the site in check mode and the site for real must each
list every mistake at once, write nothing and contact no host.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_BIN = Path(sys.executable).parent
RECAP = re.compile(r"^(\S+)\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)
MISTAKES = {
    "k3s_servers": {"k3s_server_disable": "traefik", "k3s_server_node_labels": "role=edge"},
    "k3s_agents": {"k3s_agent_node_taints": ["dedicated=gpu"]},
    "cloudflared": {"cloudflared_mode": "docker"},
    "openwrt_routers": {"openwrt_edge_haproxy_ingress_servers": "10.0.0.11"},
    "all": {"homelab_k3s_version": "latest"},
}
MESSAGES = [
    "pi1: k3s_server_disable must be a list, got a string 'traefik'; write it as [traefik]",
    "pi1: k3s_server_node_labels must be a mapping, got a string 'role=edge'",
    "pi1: homelab_k3s_version (for k3s_server_version) 'latest' is not a k3s release tag",
    "pi2: homelab_k3s_version (for k3s_agent_version) 'latest' is not a k3s release tag",
    "pi3: k3s_agent_node_taints[0] 'dedicated=gpu' is not key[=value]:Effect",
    "pi1: value of cloudflared_mode must be one of: host, pod, got: docker",
    "gw: openwrt_edge_haproxy_ingress_servers must be a list, got a string '10.0.0.11'",
]


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    root = tmp_path_factory.mktemp("inventory") / "home"
    shutil.copytree(REPO / "inventories" / "home", root)
    for group, mistakes in MISTAKES.items():
        (root / "group_vars" / group).mkdir(exist_ok=True)
        (root / "group_vars" / group / "mistakes.yml").write_text(yaml.safe_dump(mistakes))
    # Every host answers nowhere (host variables, above the example's own addresses): a play
    # that reached one would report it unreachable.
    for host in ("pi1", "pi2", "pi3", "gw"):
        (root / "host_vars" / host / "nowhere.yml").write_text(
            yaml.safe_dump({"ansible_host": "127.0.0.1", "ansible_port": 9})
        )
    # Only pi3 of the agents gets the bad taint, as a host variable.
    (root / "group_vars" / "k3s_agents" / "mistakes.yml").unlink()
    (root / "host_vars" / "pi3" / "mistakes.yml").write_text(yaml.safe_dump(MISTAKES["k3s_agents"]))
    return root


def test_the_inventory_points_every_host_at_a_closed_loopback_port(inventory, ansible_env):
    proc = subprocess.run(
        [str(ANSIBLE_BIN / "ansible-inventory"), "-i", str(inventory), "--list"],
        env=ansible_env,
        capture_output=True,
        text=True,
        check=True,
    )
    hostvars = json.loads(proc.stdout)["_meta"]["hostvars"]
    found = {h: (v["ansible_host"], v["ansible_port"]) for h, v in hostvars.items()}
    assert found == dict.fromkeys(("pi1", "pi2", "pi3", "gw"), ("127.0.0.1", 9))


@pytest.mark.parametrize(
    "command",
    [
        ["playbooks/plan.yml", "-e", "plan_dir={out}"],
        ["site.yml", "--check", "--diff"],
        ["site.yml"],
    ],
    ids=["plan", "site-check", "site"],
)
def test_every_mistake_is_named_before_any_host_is_touched(
    run_playbook, inventory, tmp_path, command
):
    out = tmp_path / "plan"
    args = [part.format(out=out) for part in command]
    proc = run_playbook(args[0], "-i", inventory, *args[1:])
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    for message in MESSAGES:
        assert message in output, message
    recap = {h: (int(c), int(u), int(f)) for h, c, u, f in RECAP.findall(output)}
    assert recap == {"localhost": (0, 0, 1)}, output
    assert not out.exists()
