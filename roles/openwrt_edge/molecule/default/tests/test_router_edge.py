"""What a user of the router edge relies on: TLS reaches the right place by its SNI name, LAN
names resolve to the ingress address, hand-made entries survive, nothing reloads needlessly,
and a broken HAProxy configuration never replaces a working one.

The router is a container without Python: OpenWrt's real uci and /etc/init.d/dnsmasq driving
Debian's real dnsmasq, Debian's haproxy behind the opkg and init stubs, ubus stubbed as procd
(tests/router, docs/testing.md); the node serves TLS with its own certificate per name on 443
(ingress) and 8443 (default backend). Commands run over podman's own exec, like the role's.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
RUNNER = AnsibleRunner(INVENTORY)
ROUTERS = RUNNER.get_hosts("openwrt_routers")
NODES = RUNNER.get_hosts("k3s_servers")

testinfra_hosts = [f"podman://{name}" for name in ROUTERS]


def address(host):
    """The container's IPv4 address on podman's network."""
    return host.check_output("ip -4 -o addr show eth0").split()[3].split("/")[0]


@pytest.fixture(scope="module")
def node():
    return testinfra.get_host(f"podman://{NODES[0]}")


@pytest.fixture(scope="module")
def router_ip():
    return address(testinfra.get_host(f"podman://{ROUTERS[0]}"))


@pytest.fixture(scope="module")
def ingress_ip(node):
    return address(node)


@pytest.fixture
def subject(node, router_ip):
    def get(name):
        """The certificate subject a TLS client asking for NAME gets from the router's :443."""
        command = (
            f"openssl s_client -connect {router_ip}:443 -servername {name} </dev/null 2>/dev/null"
            " | openssl x509 -noout -subject"
        )
        return node.check_output(command).replace(" ", "")

    return get


def reloads(host, service):
    """How often SERVICE was reloaded: the haproxy init stub logs "haproxy reload"; OpenWrt's
    dnsmasq init reloads by asking procd (the ubus stub) to signal dnsmasq."""
    log = host.run("cat /var/log/initd.log").stdout.splitlines()
    return log.count("procd signal dnsmasq" if service == "dnsmasq" else f"{service} reload")


# --------------------------------------------------------------------------- the router itself


def test_the_router_has_no_python(host):
    assert host.run("command -v python3 || command -v python").rc != 0
    assert host.file("/etc/openwrt_release").exists


def test_haproxy_was_installed_through_opkg_and_runs(host):
    assert host.check_output("opkg list-installed haproxy").startswith("haproxy - ")
    assert host.run("/etc/init.d/haproxy enabled").rc == 0
    assert host.run("/etc/init.d/haproxy running").rc == 0
    check = host.run("haproxy -c -f /etc/haproxy.cfg")
    assert check.rc == 0, check.stderr


def test_the_configuration_routes_every_public_host_by_sni(host, ingress_ip):
    config = host.file("/etc/haproxy.cfg").content_string
    assert "tcp-request inspect-delay 5s" in config
    assert "tcp-request content accept if { req_ssl_hello_type 1 }" in config
    for name in ("app1", "app2", "vault"):
        assert f"acl sni_{name}.example.com req_ssl_sni -i {name}.example.com" in config
        assert f"use_backend k8s_ingress if sni_{name}.example.com" in config
    assert "wiki.example.com" not in config  # LAN only: never reachable from the Internet
    assert f"server k8s_ingress {ingress_ip}:443 check" in config
    assert "default_backend default_backend" in config


# --------------------------------------------------------------------------- traffic


def test_a_public_name_reaches_the_ingress_with_its_sni_intact(subject):
    # The ingress stand-in answers app1's certificate only when the client asked for app1.
    assert subject("app1.example.com") == "subject=CN=app1.example.com"
    assert subject("app2.example.com") == "subject=CN=k8s-ingress"


def test_an_unknown_name_reaches_the_default_backend(subject):
    assert subject("unknown.example.org") == "subject=CN=default-backend"
    # A LAN-only name is unknown to the router's public side as well.
    assert subject("wiki.example.com") == "subject=CN=default-backend"


def test_prometheus_metrics_are_served_on_the_stats_address(node, router_ip):
    url = f"http://{router_ip}:8404/metrics"
    # The node has Python (the router has not): fetch the page from there.
    fetch = f"import urllib.request; print(urllib.request.urlopen('{url}').read().decode())"
    metrics = node.check_output(f'python3 -c "{fetch}"')
    assert 'haproxy_backend_status{proxy="k8s_ingress",state="UP"} 1' in metrics
    assert 'haproxy_backend_status{proxy="default_backend",state="UP"} 1' in metrics


# --------------------------------------------------------------------------- LAN DNS


# The catalogue's hosts (molecule.yml): every one served by the ingress controller gets a LAN name.
PLANNED = ["app1.example.com", "app2.example.com", "vault.example.com", "wiki.example.com"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [(name, "ingress") for name in PLANNED]
    + [("printer.lan", "192.0.2.50"), ("nas.lan", "192.0.2.51")],
)
def test_lan_names_resolve_on_the_router(host, router_ip, ingress_ip, name, expected):
    # Real dnsmasq, configured by OpenWrt's own init from /etc/config/dhcp.
    answer = host.check_output(f"dig @{router_ip} {name} A +short +time=2 +tries=2")
    assert answer == (ingress_ip if expected == "ingress" else expected)


def test_openwrt_init_serves_the_domain_entries_as_hosts_lines(host, ingress_ip):
    # OpenWrt's init writes `config domain` sections to /tmp/hosts/ as "IP name" lines.
    hosts = host.check_output("cat /tmp/hosts/dhcp.*").splitlines()
    for name in PLANNED:
        assert f"{ingress_ip} {name}" in hosts
    assert "192.0.2.51 nas.lan" in hosts
    assert "addn-hosts=/tmp/hosts" in host.check_output("cat /var/etc/dnsmasq.conf.*")
    ours = {
        line.split("=", 1)[1].strip("'")
        for line in host.check_output("uci -X show dhcp").splitlines()
        if line.startswith("dhcp.homelab_") and ".name=" in line
    }
    assert ours == set(PLANNED)


def test_an_entry_that_left_the_catalogue_is_gone(host, router_ip):
    assert host.check_output(f"dig @{router_ip} retired.example.com A +short +time=2") == ""
    assert host.run("uci -q get dhcp.homelab_retired").rc == 1


def test_uci_holds_ours_and_every_hand_made_entry(host, ingress_ip):
    shown = host.check_output("uci -X show dhcp").splitlines()
    assert "dhcp.homelab_app1.name='app1.example.com'" in shown
    assert f"dhcp.homelab_wiki.ip='{ingress_ip}'" in shown
    assert "dhcp.nas.name='nas.lan'" in shown
    assert any(line.endswith(".name='printer.lan'") for line in shown)
    assert host.check_output("uci changes") == ""


# --------------------------------------------------------------------------- idempotence


def test_each_service_was_reloaded_once_by_the_first_run_only(host):
    # converge: one reload each; the idempotence run must not add any.
    assert reloads(host, "haproxy") == 1
    assert reloads(host, "dnsmasq") == 1


def playbook(name, *args):
    """Run one of the scenario's playbooks against the same containers; returns the result."""
    path = Path(__file__).resolve().parents[1] / name
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    return subprocess.run(
        [Path(sys.executable).parent / "ansible-playbook", "-i", INVENTORY, str(path), *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_check_mode_on_the_converged_router_sees_nothing_to_do(host):
    proc = playbook("converge.yml", "--check", "--diff")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    recap = next(line for line in output.splitlines() if line.startswith(ROUTERS[0]))
    assert " changed=0 " in recap, output
    assert reloads(host, "haproxy") == 1


# --------------------------------------------------------------------------- a broken config


def test_a_broken_configuration_fails_clearly_and_changes_nothing(host, subject):
    before = host.check_output("sha256sum /etc/haproxy.cfg")
    pid = host.check_output("cat /var/run/haproxy.pid")
    reloaded = reloads(host, "haproxy")
    proc = playbook("broken.yml")
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert "validation of the new /etc/haproxy.cfg failed; the file was left as it was" in output
    assert "this-is-not-a-directive" in output  # haproxy's own complaint is shown
    assert host.check_output("sha256sum /etc/haproxy.cfg") == before
    assert host.check_output("cat /var/run/haproxy.pid") == pid
    assert host.run("/etc/init.d/haproxy running").rc == 0
    assert reloads(host, "haproxy") == reloaded
    assert host.check_output("ls -a /etc | grep -c '^.haproxy.cfg' || true") == "0"
    assert subject("app1.example.com") == "subject=CN=app1.example.com"
