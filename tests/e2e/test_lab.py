"""The whole site on the local lab (docs/lab.md), end to end, for each edge.

Tunnel edge (inventories/lab): the lab is brought up from nothing (podman system containers
reached over SSH, the nodes as a user with sudo and the router as root; the Cloudflare and
Kubernetes API emulators; the k3s and ingress stand-ins; the real cloudflared dialling a fake
edge), ``site.yml`` converges it, a second converge must change nothing on any host, and a catalogue
change run with ``--check --diff`` must show exactly that change and leave the emulated zone and
the hosts' files as they were. Router edge (inventories/lab-router): a fresh lab, two converges,
then TLS through the router's HAProxy must reach the ingress by SNI name. Each lab is torn down
when its class is done; an already running lab is torn down first: the test owns it.

Run it alone (it takes minutes and root, for rootful podman):

    .venv/newest/bin/python -m pytest tests/e2e -m e2e
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))

import lab  # tests/lab/lab.py, the code behind scripts/lab
import oracles

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _lab_images():
    """The lab needs root, podman, the images scripts/setup builds (the lab derives its own
    from them) and the real cloudflared."""
    for image in lab.BASE_IMAGES:
        oracles.require_image(image)
    oracles.require("cloudflared")


HOSTS = ("gw", "localhost", "pi1", "pi2")
RECAP = re.compile(
    r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.MULTILINE
)
NEW_SERVICE = {
    "name": "docs",
    "host": "docs.example.com",
    "expose": "public",
    "protocol": "http",
    "namespace": "docs",
    "port": 80,
}
# What a change to the catalogue may touch, and nothing else: the files and records that name it.
# Host files whose content the site controls, hashed before and after the check run.
WATCHED = {
    "pi1": "/etc/rancher /etc/cloudflared /etc/systemd/system /usr/local/bin"
    " /var/lib/rancher/k3s/server/manifests /etc/timezone /etc/systemd/journald.conf.d",
    "pi2": "/etc/rancher /etc/systemd/system /usr/local/bin /etc/timezone",
    "gw": "/etc/config /etc/haproxy.cfg",
}
TIMINGS: dict[str, float] = {}


def recap(output: str) -> dict[str, dict[str, int]]:
    found = {
        host: {"ok": int(ok), "changed": int(ch), "unreachable": int(un), "failed": int(fa)}
        for host, ok, ch, un, fa in RECAP.findall(output)
    }
    assert set(found) == set(HOSTS), output[-3000:]
    return found


def changed_sections(output: str) -> dict[str, list[str]]:
    """Task header -> the diff lines (+/-) of every task or handler that reported a change."""
    sections: dict[str, list[str]] = {}
    title, lines = None, []
    for line in [*output.splitlines(), "TASK [end]"]:
        if line.startswith(("TASK [", "RUNNING HANDLER [")):
            if title and any(x.startswith("changed: [") for x in lines):
                sections[title] = [
                    x for x in lines if x[:1] in "+-" and not x.startswith(("+++", "---"))
                ]
            title, lines = line.split("]")[0] + "]", []
        else:
            lines.append(line)
    return sections


def host_files() -> dict[str, str]:
    return {
        host: lab.exec_in(
            host,
            f"find {paths} -type f 2>/dev/null | sort | xargs sha256sum; uci changes 2>/dev/null"
            if host == "gw"
            else f"find {paths} -type f 2>/dev/null | sort | xargs sha256sum;"
            " systemctl show -p MainPID k3s k3s-agent cloudflared lab-ingress",
            check=False,
        )
        for host, paths in WATCHED.items()
    }


def cloudflare_state() -> dict:
    return {"records": lab.zone_records(), "tunnels": lab.tunnels()}


@pytest.fixture(scope="module", autouse=True)
def timings():
    yield TIMINGS
    print("\nlab timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in TIMINGS.items()))


def bring_up(edge):
    lab.down()
    started = time.monotonic()
    assert lab.up(converge_too=False, edge_name=edge) == 0
    TIMINGS[f"{edge}: up"] = time.monotonic() - started


def tear_down(edge):
    started = time.monotonic()
    assert lab.down() == 0, "an emulator saw a request that broke its API description"
    TIMINGS[f"{edge}: down"] = time.monotonic() - started


def converge_first(edge):
    proc = lab.converge([], capture=True)
    TIMINGS[f"{edge}: first converge"] = proc.seconds
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-2000:]
    return proc


def check_first_converge(proc):
    for host, counts in recap(proc.stdout).items():
        assert counts["failed"] == 0
        assert counts["unreachable"] == 0
        if host != "localhost":
            assert counts["changed"] > 0, host


def check_second_converge(edge):
    proc = lab.converge([], capture=True)
    TIMINGS[f"{edge}: second converge"] = proc.seconds
    assert proc.returncode == 0, proc.stdout[-5000:]
    counts = recap(proc.stdout)
    assert {host: c["changed"] for host, c in counts.items()} == dict.fromkeys(HOSTS, 0), (
        changed_sections(proc.stdout)
    )


# ------------------------------------------------------------------------------- tunnel edge


@pytest.fixture(scope="class")
def tunnel_lab():
    bring_up("tunnel")
    try:
        yield converge_first("tunnel")
    finally:
        tear_down("tunnel")


@pytest.mark.usefixtures("tunnel_lab")
class TestTunnelEdge:
    def test_the_first_converge_succeeds_on_every_host(self, tunnel_lab):
        check_first_converge(tunnel_lab)

    def test_a_second_converge_changes_nothing(self):
        check_second_converge("tunnel")

    def test_the_lab_holds_what_the_catalogue_says(self):
        check_tunnel_lab()

    def test_a_catalogue_change_in_check_mode_shows_only_that_change(self, tmp_path):
        check_a_catalogue_change(tmp_path)


# ------------------------------------------------------------------------------- router edge


@pytest.fixture(scope="class")
def router_lab():
    bring_up("router")
    try:
        yield converge_first("router")
    finally:
        tear_down("router")


@pytest.mark.usefixtures("router_lab")
class TestRouterEdge:
    def test_the_first_converge_succeeds_on_every_host(self, router_lab):
        check_first_converge(router_lab)

    def test_a_second_converge_changes_nothing(self):
        check_second_converge("router")

    def test_the_router_routes_tls_by_sni_to_the_ingress(self):
        facts = lab.collect()
        check_logins(facts)
        ingress = facts["ingress_address"]
        public = ("api.example.com", "www.example.com", "vault.example.com")
        assert facts["sni_routes"] == [
            f"use_backend k8s_ingress if sni_{n}" for n in sorted(public)
        ]
        assert facts["backends"] == [f"server k8s_ingress {ingress}:443 check"]
        # HAProxy passes TLS on untouched: the ingress stand-in answers with the name's own
        # certificate. A LAN-only name and an unknown one are refused (no default backend).
        assert facts["via_router"] == {
            **{name: f"subject=CN={name}" for name in public},
            "grafana.example.com": "",
            "unknown.example.org": "",
        }
        assert {r["name"]: r["content"] for r in facts["dns_records"] if r["type"] == "A"} == {
            **dict.fromkeys(public, "203.0.113.7"),
            "legacy.example.com": "192.0.2.10",
        }
        assert facts["lan_dns"] == dict.fromkeys([*public, "grafana.example.com"], ingress)


# ---------------------------------------------------------------------------------- checks


def check_logins(facts):
    """Ansible came in over SSH with the lab's key: the nodes as pi, made root by sudo, the
    router as root; each host's SSH server logged more key logins than the lab's own check."""
    assert facts["connection"] == "ssh"
    assert {host: login["as"] for host, login in facts["logins"].items()} == {
        "pi1": "pi -> root",
        "pi2": "pi -> root",
        "gw": "root",
    }
    for host, login in facts["logins"].items():
        assert login["accepted"] >= 2, (host, login)


def check_tunnel_lab():
    facts = lab.collect()
    check_logins(facts)
    records = {(r["name"], r["type"]): r for r in facts["dns_records"]}
    tunnel_id = facts["tunnels"][0]["id"]
    for name in ("api", "www", "ssh"):
        record = records[(f"{name}.example.com", "CNAME")]
        assert record["content"] == f"{tunnel_id}.cfargotunnel.com"
        assert record["proxied"] is True
    lan = records[("grafana.example.com", "A")]
    assert (lan["content"], lan["proxied"]) == (facts["ingress_address"], False)
    # The hand-made record is left alone.
    assert records[("legacy.example.com", "A")]["content"] == "192.0.2.10"
    assert [t["name"] for t in facts["tunnels"]] == ["lab"]

    rules = facts["tunnel_rules"]
    assert [r.get("hostname") for r in rules] == [
        "api.example.com",
        "ssh.example.com",
        "www.example.com",
        None,
    ]
    assert rules[0]["originRequest"]["http2Origin"] is True
    assert rules[-1]["service"] == "http_status:404"
    for name in ("api.example.com", "www.example.com"):
        assert facts["origins"][name] == f"ingress stand-in: host={name}"

    # The real cloudflared runs with the pinned protocol and dials the fake edge: its tunnel
    # connection is TLS over TCP for h2.cftunnel.com (HTTP/2), held open, never QUIC; the only
    # UDP it sends is the QUIC probe of its start-up connectivity pre-check, which is over
    # within seconds (the pre-check also opens one TLS connection, for probe.cftunnel.com).
    connector = facts["connector"]
    assert connector["active"] == "active"
    assert connector["protocol"] == "http2"
    assert connector["version"].startswith("cloudflared version 2026.8.2")
    seen = connector["edge"]
    assert seen["tcp"].get("h2.cftunnel.com", 0) >= 1, seen
    assert set(seen["tcp"]) <= {"h2.cftunnel.com", "probe.cftunnel.com"}, seen
    assert seen["tcp_open_now"] >= 1, seen
    assert seen["udp_last_after_s"] < 30, seen
    # Not registered: the fake edge speaks no tunnel protocol.
    assert connector["ready"].startswith("503 "), connector["ready"]
    assert facts["k3s"] == {
        "server": "active",
        "agent": "active",
        "manifests": facts["k3s"]["manifests"],
    }
    assert "homelab-ingress.yaml" in facts["k3s"]["manifests"]

    ingress = facts["ingress_address"]
    assert facts["lan_dns"] == {
        "api.example.com": ingress,
        "www.example.com": ingress,
        "ssh.example.com": "",  # the connector's own origin: nothing for the LAN to resolve
        "grafana.example.com": ingress,
    }
    for name in ("api.example.com", "grafana.example.com"):
        assert lab.tls_subject(ingress, name) == f"subject=CN={name}"


def check_a_catalogue_change(tmp_path):
    catalogue = yaml.safe_load((lab.INVENTORY / "group_vars" / "all" / "catalogue.yml").read_text())
    extra = tmp_path / "one-more-service.yml"
    extra.write_text(
        yaml.safe_dump({"homelab_services": [*catalogue["homelab_services"], NEW_SERVICE]})
    )
    files_before, cloudflare_before = host_files(), cloudflare_state()

    proc = lab.converge(["--check", "--diff", "-e", f"@{extra}"], capture=True)
    TIMINGS["tunnel: check --diff"] = proc.seconds
    assert proc.returncode == 0, proc.stdout[-5000:]

    sections = changed_sections(proc.stdout)
    diff = [line for lines in sections.values() for line in lines]
    assert any("docs.example.com" in line for line in diff), sections
    others = ("api.example.com", "www.example.com", "ssh.example.com", "grafana.example.com")
    assert not [line for line in diff if any(o in line for o in others)], sections
    counts = recap(proc.stdout)
    # The new name reaches the zone (controller), the tunnel rules and the routing objects
    # (pi1) and the router's LAN DNS (gw); the agent has nothing to do with it.
    assert counts["pi2"]["changed"] == 0, sections
    for host in ("localhost", "pi1", "gw"):
        assert counts[host]["changed"] > 0, (host, sections)

    # Check mode: nothing happened.
    assert cloudflare_state() == cloudflare_before
    assert host_files() == files_before
