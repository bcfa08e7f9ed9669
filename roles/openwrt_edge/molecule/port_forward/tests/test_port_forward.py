"""What a user of the port_forward mode relies on: the router's firewall forwards 443 (and 80)
from the WAN to the ingress address, the forwards made by hand survive, the firewall picked the
change up once, and the HAProxy of an earlier haproxy-mode run no longer listens.

The router is a container without Python (OpenWrt's real uci and dnsmasq init, docs/testing.md)
whose /etc/init.d/firewall stub writes what a reload installed to /var/run/firewall.redirects
(no packets are filtered or translated).
Commands run over podman's own exec, like the role's.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
ROUTERS = AnsibleRunner(INVENTORY).get_hosts("openwrt_routers")

testinfra_hosts = [f"podman://{name}" for name in ROUTERS]

# The scenario's catalogue (molecule.yml): the external ingress address, 443 and 80 forwarded.
INGRESS = "192.0.2.10"
FORWARDS = {"https": 443, "http": 80}


def shown(host):
    return host.check_output("uci -X show firewall").splitlines()


def log(host):
    return host.run("cat /var/log/initd.log").stdout.splitlines()


# --------------------------------------------------------------------------- the uci firewall


@pytest.mark.parametrize(("scheme", "port"), FORWARDS.items())
def test_each_public_port_is_forwarded_to_the_ingress(host, scheme, port):
    section = f"firewall.homelab_forward_{scheme}"
    lines = shown(host)
    expected = [
        f"{section}=redirect",
        f"{section}.name='homelab {scheme} to the ingress'",
        f"{section}.target='DNAT'",
        f"{section}.src='wan'",
        f"{section}.src_dport='{port}'",
        f"{section}.dest='lan'",
        f"{section}.dest_ip='{INGRESS}'",
        f"{section}.dest_port='{port}'",
        f"{section}.proto='tcp'",
    ]
    assert sorted(line for line in lines if line.startswith(f"{section}=") or
                  line.startswith(f"{section}.")) == sorted(expected)  # fmt: skip


def test_forwards_made_by_hand_stay_and_the_retired_one_is_gone(host):
    lines = shown(host)
    assert "firewall.nas_ssh.dest_ip='192.0.2.51'" in lines
    assert any(line.endswith(".name='game server'") for line in lines)
    assert host.run("uci -q get firewall.homelab_forward_old").rc == 1
    # The rest of the firewall configuration is untouched.
    assert any(line.endswith(".name='wan'") for line in lines)
    assert host.check_output("uci changes") == ""


def test_the_firewall_was_reloaded_once_and_installed_the_forwards(host):
    # converge: one reload; the idempotence run must not add any.
    assert log(host).count("firewall reload") == 1
    installed = host.check_output("cat /var/run/firewall.redirects").splitlines()
    assert f"homelab_forward_https wan tcp 443 -> {INGRESS}:443 (homelab https to the ingress)" in (
        installed
    )
    assert f"homelab_forward_http wan tcp 80 -> {INGRESS}:80 (homelab http to the ingress)" in (
        installed
    )
    assert "nas_ssh wan tcp 2222 -> 192.0.2.51:22 (nas ssh)" in installed
    assert not [line for line in installed if line.startswith("homelab_forward_old ")]


# --------------------------------------------------------------------------- no HAProxy


def test_the_haproxy_of_the_earlier_run_was_stopped_and_disabled(host):
    assert "haproxy stop" in log(host)
    assert host.run("/etc/init.d/haproxy running").rc != 0
    assert host.run("/etc/init.d/haproxy enabled").rc != 0
    assert host.run("pgrep -x haproxy").rc != 0
    # Its configuration stays for a switch back to haproxy mode, but is not rewritten here.
    assert "acl sni_" in host.file("/etc/haproxy.cfg").content_string


def test_lan_names_still_resolve_on_the_router(host):
    router_ip = host.check_output("ip -4 -o addr show eth0").split()[3].split("/")[0]
    dig = "dig @{} {} A +short +time=2 +tries=2"
    assert host.check_output(dig.format(router_ip, "app1.example.com")) == INGRESS
    assert host.check_output(dig.format(router_ip, "wiki.example.com")) == "192.0.2.20"
    # OpenWrt's dnsmasq init reloads by asking procd (the ubus stub) to signal dnsmasq; the
    # entries did not change since prepare, so converge did not reload it.
    assert log(host).count("procd signal dnsmasq") == 0


# --------------------------------------------------------------------------- check mode


def converge(*args):
    """Run the scenario's converge.yml against the same router; returns the result."""
    path = Path(__file__).resolve().parents[1] / "converge.yml"
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(
        [Path(sys.executable).parent / "ansible-playbook", "-i", INVENTORY, str(path), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_check_mode_on_the_converged_router_sees_nothing_to_do(host):
    proc = converge("--check", "--diff")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    recap = next(line for line in output.splitlines() if line.startswith(ROUTERS[0]))
    assert " changed=0 " in recap, output
    assert log(host).count("firewall reload") == 1


# --------------------------------------------------------------------------- refused inputs


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "openwrt_edge_platform=debian",
            "homelab_router_mode 'port_forward' is applied as uci firewall redirects, which only "
            "OpenWrt has",
        ),
        (
            "openwrt_edge_haproxy=true",
            "openwrt_edge_haproxy is true, but homelab_router_mode is 'port_forward'",
        ),
    ],
    ids=["debian-router", "haproxy-next-to-the-forward"],
)
def test_refused_before_anything_changes(host, extra, message):
    before = host.check_output("uci -X show firewall; cat /var/log/initd.log")
    proc = converge("-e", extra)
    output = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0, output
    assert message in output
    assert host.check_output("uci -X show firewall; cat /var/log/initd.log") == before
