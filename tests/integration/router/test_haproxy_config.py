"""The HAProxy configurations the role renders pass `haproxy -c` of the real HAProxy.

The configurations come from playbooks/plan.yml (the role's own template) in several shapes;
the check runs in the test router image built by scripts/setup (Debian's haproxy 2.6).
"""

from __future__ import annotations

import json
import subprocess

import oracles
import pytest

IMAGE = "localhost/homelab-router:test"


@pytest.fixture(autouse=True)
def _router_image():
    oracles.require_image(IMAGE)


SHAPES = {
    "default-backend": [],
    "reject-unknown-names": ["-e", "homelab_router_default_backend="],
    "several-nodes-stats-extras": [
        "-e",
        json.dumps(
            {
                "openwrt_edge_haproxy_ingress_servers": ["10.0.0.11", "fd00::12"],
                "openwrt_edge_haproxy_stats_bind": ":8404",
                "openwrt_edge_haproxy_global_extra": ["nbthread 2"],
                "openwrt_edge_haproxy_frontend_extra": [
                    "tcp-request content reject if { src 192.0.2.9 }"
                ],
                "openwrt_edge_haproxy_health_checks": False,
            }
        ),
    ],
}


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_haproxy_accepts_the_rendered_configuration(run_playbook, tmp_path, shape):
    out = tmp_path / "plan"
    result = run_playbook(
        "playbooks/plan.yml",
        "-i",
        "inventories/examples/router-metallb",
        "-e",
        f"plan_dir={out}",
        *SHAPES[shape],
    )
    assert result.returncode == 0, result.stdout + result.stderr
    config = out / "hosts/gw/etc/haproxy.cfg"
    check = subprocess.run(
        [
            "podman",
            "run",
            "--rm",
            "-v",
            f"{config}:/tmp/haproxy.cfg:ro,Z",
            IMAGE,
            "sh",
            "-c",
            "opkg install haproxy >/dev/null && haproxy -c -f /tmp/haproxy.cfg",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr + config.read_text()
    assert "Configuration file is valid" in check.stdout
    assert "[WARNING]" not in check.stdout + check.stderr
