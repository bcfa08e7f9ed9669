"""Agents join through k3s_server_api_address when the inventory sets it (the plan shows it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_agents_join_through_the_servers_api_address(run_playbook, tmp_path):
    """An HA cluster behind a virtual IP name: the agents' server URL is that name, not the
    first server's address."""
    root = tmp_path / "home"
    shutil.copytree(REPO / "inventories" / "home", root)
    (root / "group_vars" / "k3s_servers").mkdir(exist_ok=True)
    (root / "group_vars" / "k3s_servers" / "api.yml").write_text(
        yaml.safe_dump({"k3s_server_api_address": "k3s.home.example"})
    )
    out = tmp_path / "plan"
    proc = run_playbook("playbooks/plan.yml", "-i", root, "-e", f"plan_dir={out}")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for agent in ("pi2", "pi3"):
        config = yaml.safe_load((out / "hosts" / agent / "etc/rancher/k3s/config.yaml").read_text())
        assert config["server"] == "https://k3s.home.example:6443", agent
