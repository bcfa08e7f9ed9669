"""OpenWrt's own /etc/init.d/dnsmasq in the test router image turns uci dhcp into dnsmasq's
configuration, and Debian's real dnsmasq answers from it.

The image (scripts/setup) holds OpenWrt's uci and init script copied from ../shared/src; only
ubus (playing procd), PID 1, opkg and the firewall init are stubs. The container boots with its
PID 1 stub, which runs /etc/rc.d/S19dnsmasq boot as OpenWrt does.
"""

from __future__ import annotations

import subprocess
import time
import uuid

import oracles
import pytest

IMAGE = "localhost/homelab-router:test"


class Router:
    def __init__(self, name):
        self.name = name

    def sh(self, script, check=True):
        proc = subprocess.run(
            ["podman", "exec", "-i", self.name, "/bin/sh", "-c", script],
            capture_output=True,
            text=True,
            check=False,
        )
        if check:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def dig(self, name):
        return self.sh(f"dig @{self.address} {name} A +short +time=2 +tries=2").stdout.split()


@pytest.fixture(scope="module")
def router():
    oracles.require("podman")
    oracles.require_image(IMAGE)
    name = f"homelab-router-dns-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["podman", "run", "-d", "--name", name, IMAGE, "/sbin/init"],
        check=True,
        capture_output=True,
    )
    try:
        box = Router(name)
        deadline = time.monotonic() + 30
        while box.sh("pgrep -x dnsmasq", check=False).returncode != 0:
            assert time.monotonic() < deadline, box.sh("cat /var/log/*.log", check=False).stdout
            time.sleep(0.2)
        box.address = box.sh("ip -4 -o addr show eth0").stdout.split()[3].split("/")[0]
        yield box
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, check=False)


def test_the_image_runs_openwrt_uci_and_init(router):
    # OpenWrt's uci prints its own usage; the init script is OpenWrt's (procd, rc.common).
    usage = router.sh("uci 2>&1; true").stdout
    assert "-C <path>  set the search path for config override files" in usage
    init = router.sh("head -n 7 /etc/init.d/dnsmasq").stdout
    assert init.startswith("#!/bin/sh /etc/rc.common\n")
    assert "USE_PROCD=1" in init
    assert router.sh("readlink -f /bin/sh").stdout.strip() == "/usr/bin/busybox"
    assert router.sh("command -v python3 python", check=False).returncode != 0


def test_domain_sections_become_hosts_lines_that_dnsmasq_answers(router):
    router.sh(
        """uci batch <<'EOF'
set dhcp.homelab_api=domain
set dhcp.homelab_api.name='api.example.com'
set dhcp.homelab_api.ip='192.0.2.10'
add dhcp domain
set dhcp.@domain[-1].name='printer'
set dhcp.@domain[-1].ip='192.0.2.50'
set dhcp.multi=domain
add_list dhcp.multi.name='a.example.com'
add_list dhcp.multi.name='b.example.com'
set dhcp.multi.ip='192.0.2.60'
commit dhcp
EOF
/etc/init.d/dnsmasq reload"""
    )
    conf = router.sh("cat /var/etc/dnsmasq.conf.cfg01411c").stdout
    hosts = router.sh("cat /tmp/hosts/dhcp.cfg01411c").stdout.splitlines()
    # OpenWrt's init writes domain sections as hosts lines, not address= lines.
    assert "address=" not in conf
    assert "addn-hosts=/tmp/hosts" in conf.splitlines()
    assert "192.0.2.10 api.example.com" in hosts
    assert "192.0.2.60 a.example.com b.example.com" in hosts
    assert (
        "syntax check OK"
        in router.sh("dnsmasq --test -C /var/etc/dnsmasq.conf.cfg01411c 2>&1").stdout
    )
    assert router.dig("api.example.com") == ["192.0.2.10"]
    assert router.dig("a.example.com") == ["192.0.2.60"]
    assert router.dig("b.example.com") == ["192.0.2.60"]
    # A dot-less name also answers with the uci dnsmasq section's domain (expand-hosts).
    assert router.dig("printer.lan") == ["192.0.2.50"]


def test_a_removed_section_stops_answering_after_a_reload(router):
    router.sh("uci delete dhcp.homelab_api && uci commit dhcp")
    assert router.dig("api.example.com") == ["192.0.2.10"]  # not reloaded yet
    router.sh("/etc/init.d/dnsmasq reload")
    assert router.dig("api.example.com") == []
    assert router.dig("a.example.com") == ["192.0.2.60"]


def test_a_reload_with_an_unchanged_configuration_keeps_dnsmasq_running(router):
    # The stub plays procd: an instance whose command and files did not change is signalled
    # (SIGHUP rereads the hosts files), not restarted.
    before = router.sh("pgrep -x dnsmasq").stdout
    router.sh("/etc/init.d/dnsmasq reload")
    assert router.sh("pgrep -x dnsmasq").stdout == before
    log = router.sh("cat /var/log/initd.log").stdout.splitlines()
    assert log[-2:] == ["procd set dnsmasq", "procd signal dnsmasq"]
