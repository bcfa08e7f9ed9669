"""A small inventory for ``playbooks/plan.yml``: one k3s server and one router, and a catalogue.

The hosts point at an unroutable documentation address on a closed port; the plan never
connects to them.
"""

from __future__ import annotations

HOSTS = """\
---
all:
  children:
    k3s_servers:
      hosts:
        pi:
    openwrt_routers:
      hosts:
        gw:
"""


def write_inventory(root, catalogue):
    """Write the inventory under ``root`` with ``catalogue`` (YAML text) as group_vars/all."""
    root.mkdir(parents=True)
    (root / "hosts.yml").write_text(HOSTS)
    (root / "host_vars").mkdir()
    for host in ("pi", "gw"):
        (root / "host_vars" / f"{host}.yml").write_text(
            "---\nansible_host: 192.0.2.1\nansible_port: 1\nansible_connection: ssh\n"
        )
    (root / "group_vars" / "all").mkdir(parents=True)
    (root / "group_vars" / "all" / "catalogue.yml").write_text(catalogue)
    return root
