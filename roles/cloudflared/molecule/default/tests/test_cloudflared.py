"""What a user of the cloudflared role relies on, checked inside the converged container.

The binary is the real cloudflared, built from its public source; it dials the fake edge that
prepare.yml runs in the container (README.md: a test-only drop-in points it there and relaxes
Type=notify, as the fake edge cannot register a tunnel). The expectations are written by hand
from the scenario's catalogue (molecule.yml).
"""

import json
import os

import yaml
from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = [
    f"podman://{name}"
    for name in AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("all")
]

TUNNEL_ID = "0b6f2b8e-3c7d-4b7a-9a53-3f4e8d2c1a90"
DROP_IN = "/etc/systemd/system/cloudflared.service.d/override.conf"
TEST_DROP_IN = "/etc/systemd/system/cloudflared.service.d/zz-fake-edge.conf"
EDGE_LOG = "/var/lib/fake-edge/edge.jsonl"
COMMAND = [
    "/usr/local/bin/cloudflared",
    "--no-autoupdate",
    "--config",
    "/etc/cloudflared/config.yml",
    "--metrics",
    "127.0.0.1:2000",
    "--protocol",
    "http2",
    "tunnel",
    "run",
]
INGRESS = "https://10.0.0.11:443"
CONFIG = {
    "tunnel": TUNNEL_ID,
    "credentials-file": "/etc/cloudflared/credentials.json",
    "ingress": [
        {
            "hostname": "api.example.com",
            "service": INGRESS,
            "originRequest": {
                "noTLSVerify": True,
                "originServerName": "api.example.com",
                "http2Origin": True,
            },
        },
        {"hostname": "ssh.example.com", "service": "ssh://127.0.0.1:22"},
        {
            "hostname": "www.example.com",
            "service": INGRESS,
            "originRequest": {"noTLSVerify": True, "originServerName": "www.example.com"},
        },
        {"service": "http_status:404"},
    ],
}


def show(host, prop):
    return host.check_output(f"systemctl show cloudflared -p {prop} --value")


def starts(host):
    """How often the connector started since boot: cloudflared logs this line once per start."""
    lines = host.check_output("journalctl -u cloudflared -o cat --no-pager").splitlines()
    return sum(1 for line in lines if f"Starting tunnel tunnelID={TUNNEL_ID}" in line)


def edge_events(host):
    """What the fake edge saw: one JSON line per TLS connection (opened, closed) and datagram."""
    return [json.loads(line) for line in host.file(EDGE_LOG).content_string.splitlines() if line]


def test_systemd_runs_the_drop_in_command_with_http2(host):
    exec_start = show(host, "ExecStart")
    assert "--protocol http2 tunnel run" in exec_start
    assert f"argv[]={' '.join(COMMAND)} ;" in exec_start


def test_the_drop_in_is_the_one_in_place(host):
    # The role's drop-in, then only the scenario's (which sets no ExecStart).
    assert show(host, "DropInPaths") == f"{DROP_IN} {TEST_DROP_IN}"
    assert "ExecStart" not in host.file(TEST_DROP_IN).content_string
    assert show(host, "FragmentPath") == "/etc/systemd/system/cloudflared.service"
    drop_in = host.file(DROP_IN).content_string
    assert "\nExecStart=\nExecStart=" in drop_in


def test_the_service_is_active_and_the_connector_got_the_command_line(host):
    service = host.service("cloudflared")
    assert service.is_running
    assert service.is_enabled
    assert show(host, "ActiveState") == "active"
    # The running process's own argv.
    pid = show(host, "MainPID")
    argv = host.file(f"/proc/{pid}/cmdline").content.decode().split("\0")[:-1]
    assert argv == COMMAND


def test_converge_started_the_service_once_and_the_idempotence_run_not_at_all(host):
    # Every file was new on the first run: one restart through the handler, none after, and
    # systemd never had to restart it (it did not exit).
    assert starts(host) == 1
    assert show(host, "NRestarts") == "0"


def test_the_connector_runs_as_the_service_user_and_serves_metrics(host):
    pid = show(host, "MainPID")
    uid = host.check_output(f"awk '/^Uid:/ {{print $2}}' /proc/{pid}/status")
    assert uid == host.check_output("id -u cloudflared")
    # /ready answers on the --metrics address; 503 with no connection, as the fake edge
    # cannot register the tunnel.
    ready = host.check_output(
        "python3 -c 'import urllib.request as u, urllib.error as e\n"
        'try: print(u.urlopen("http://127.0.0.1:2000/ready").read().decode())\n'
        "except e.HTTPError as x: print(x.read().decode())'"
    )
    assert json.loads(ready)["status"] == 503
    assert json.loads(ready)["readyConnections"] == 0


def test_the_connector_dialed_http2_over_tcp_tls_and_nothing_over_udp(host):
    events = edge_events(host)
    opened = [e for e in events if e["event"] == "open"]
    assert opened, "the connector never reached the fake edge"
    assert {(e["transport"], e["sni"], e["handshake"]) for e in opened} == {
        ("tcp", "h2.cftunnel.com", "ok")
    }
    assert [e for e in events if e["transport"] == "udp"] == []
    # The connection is held: the connector is still on it, waiting for the edge.
    closed = {e["connection"] for e in events if e["event"] == "close"}
    assert opened[-1]["connection"] not in closed


def test_the_service_user_is_a_system_account(host):
    user = host.user("cloudflared")
    assert user.exists
    assert user.uid < 1000
    assert user.shell == "/usr/sbin/nologin"
    assert user.group == "cloudflared"


def test_credentials_are_private_to_the_service_user(host):
    credentials = host.file("/etc/cloudflared/credentials.json")
    assert credentials.mode == 0o600
    assert credentials.user == "cloudflared"
    assert credentials.group == "cloudflared"
    data = json.loads(credentials.content_string)
    assert data["TunnelID"] == TUNNEL_ID
    assert set(data) == {"AccountTag", "TunnelID", "TunnelSecret"}
    directory = host.file("/etc/cloudflared")
    assert (directory.mode, directory.user, directory.group) == (0o750, "root", "cloudflared")


def test_config_yml_holds_the_tunnel_and_the_catalogue_rules(host):
    config = host.file("/etc/cloudflared/config.yml")
    assert config.mode == 0o640
    assert yaml.safe_load(config.content_string) == CONFIG


def test_the_installed_binary_is_the_pinned_release(host):
    binary = host.file("/usr/local/bin/cloudflared")
    assert binary.mode == 0o755
    assert binary.user == "root"
    assert host.check_output("/usr/local/bin/cloudflared --version").startswith(
        "cloudflared version 2026.8.2 "
    )
