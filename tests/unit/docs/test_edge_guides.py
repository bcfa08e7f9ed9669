"""The edge guides in docs/edges/ and the example inventories they point to agree.

Each guide names an example inventory; that inventory must exist, pass the catalogue's checks
(the same ``build_plan`` the plan and the site run call) and have the guide's edge. Every
relative link of the guides, troubleshooting.md and variables.md must reach an existing file and
heading.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
GROUPS = ("k3s_servers", "k3s_agents", "cloudflared", "openwrt_routers")

# guide -> (its example inventory, that inventory's homelab_edge)
GUIDES = {
    "tunnel-host.md": ("inventories/home", "tunnel"),
    "tunnel-pod.md": ("inventories/examples/tunnel-pod", "tunnel"),
    "router-haproxy.md": ("inventories/examples/router-metallb", "router"),
    "router-port-forward.md": ("inventories/examples/router-port-forward", "router"),
    "lan-only.md": ("inventories/examples/lan-only", "none"),
}


def _catalogue():
    path = REPO / "plugins" / "module_utils" / "_catalogue.py"
    spec = importlib.util.spec_from_file_location("_homelab_catalogue_for_guides", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


catalogue = _catalogue()


def _vars(directory: Path) -> dict:
    merged: dict = {}
    for path in sorted(directory.glob("*.yml")):
        merged.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    return merged


def load_inventory(root: Path) -> tuple[dict, dict, dict]:
    """``(settings, inventory, group_vars)`` of a YAML inventory directory."""
    hosts = yaml.safe_load((root / "hosts.yml").read_text(encoding="utf-8"))
    children = hosts["all"]["children"]
    groups = {g: list((children.get(g) or {}).get("hosts") or {}) for g in GROUPS}
    hostvars = {}
    for host in sorted({h for members in groups.values() for h in members}):
        hostvars[host] = _vars(root / "host_vars" / host)
    group_vars = {g: _vars(root / "group_vars" / g) for g in (*GROUPS, "all")}
    settings = {k: v for k, v in group_vars["all"].items() if k in catalogue.SETTINGS}
    return settings, {"groups": groups, "hostvars": hostvars}, group_vars


@pytest.mark.parametrize("guide", sorted(GUIDES))
def test_guide_inventory_passes_the_catalogue(guide: str) -> None:
    inventory_dir, edge = GUIDES[guide]
    root = REPO / inventory_dir
    text = (REPO / "docs" / "edges" / guide).read_text(encoding="utf-8")
    assert f"`{inventory_dir}`" in text, f"{guide} does not name {inventory_dir}"
    settings, inventory, _group_vars = load_inventory(root)
    plan = catalogue.build_plan(settings, inventory)
    assert plan["settings"]["edge"] == edge
    assert plan["warnings"] == [], plan["warnings"]


def test_pod_example_runs_the_connector_in_a_pod_of_a_remote_tunnel() -> None:
    settings, inventory, group_vars = load_inventory(REPO / "inventories/examples/tunnel-pod")
    assert group_vars["cloudflared"]["cloudflared_mode"] == "pod"
    assert settings["homelab_tunnel_mode"] == "remote"
    assert inventory["groups"]["cloudflared"], "the role runs on the cloudflared group's hosts"


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown file (fenced blocks skipped)."""
    anchors = set()
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} (.+)", line)):
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            anchors.add(slug.replace(" ", "-"))
    return anchors


PAGES = ["troubleshooting.md", "variables.md", *(f"edges/{g}" for g in sorted(GUIDES))]


@pytest.mark.parametrize("page", PAGES)
def test_relative_links_resolve(page: str) -> None:
    path = REPO / "docs" / page
    links = re.findall(r"\]\((?!https?://)([^)\s]+)\)", path.read_text(encoding="utf-8"))
    broken = []
    for link in links:
        target, _hash, anchor = link.partition("#")
        file = (path.parent / target) if target else path
        if not file.exists() or (anchor and file.suffix == ".md" and anchor not in _anchors(file)):
            broken.append(link)
    assert broken == [], f"docs/{page} has links to missing files or headings: {broken}"
