"""One server and two agents: config.yaml per node, the units, and the shared join token."""

import json
import os

import pytest
import yaml
from testinfra.utils.ansible_runner import AnsibleRunner

_RUNNER = AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"])
SERVERS = _RUNNER.get_hosts("k3s_servers")
testinfra_hosts = [f"podman://{name}" for name in _RUNNER.get_hosts("all")]
TAINT = "node-role.kubernetes.io/control-plane:NoSchedule"
VERSION = "v1.34.9+k3s1"


def _is_server(host):
    return host.backend.name in SERVERS


def _unit(host):
    return "k3s" if _is_server(host) else "k3s-agent"


def _current(host):
    return json.loads(host.file("/var/lib/homelab-standin/current.json").content_string)


def _server_token():
    server = __import__("testinfra").get_host(f"podman://{SERVERS[0]}")
    return server.file("/etc/rancher/k3s/cluster-token").content_string.strip()


def test_config_yaml_per_node(host):
    hostname = host.check_output("hostname")
    config = yaml.safe_load(host.file("/etc/rancher/k3s/config.yaml").content_string)
    if _is_server(host):
        address = host.check_output("ip -4 -o route get 1.1.1.1").split(" src ")[1].split()[0]
        expected = {
            "write-kubeconfig-mode": "0600",
            "node-name": hostname,
            "tls-san": sorted([hostname, address]),
            "disable": ["traefik"],
            # One server and two agents: workloads go to the agents.
            "node-taint": [TAINT],
        }
    else:
        expected = {"server": "https://homelab-k3s-server:6443", "node-name": hostname}
        if host.backend.name == "homelab-k3s-agent1":
            expected["node-label"] = ["homelab.spitikos.io/disk=ssd"]
    assert config == expected


def test_unit_runs_the_right_mode_with_its_environment_file(host):
    unit = _unit(host)
    mode = "server" if _is_server(host) else "agent"
    assert host.service(unit).is_running
    assert host.service(unit).is_enabled
    exec_start = host.check_output(f"systemctl show {unit} -p ExecStart")
    assert f"argv[]=/usr/local/bin/k3s {mode} ;" in exec_start
    env_path = f"/etc/systemd/system/{unit}.service.env"
    assert env_path in host.check_output(f"systemctl show {unit} -p EnvironmentFiles")
    env_file = host.file(env_path)
    assert (env_file.mode, env_file.user) == (0o600, "root")
    assert host.file("/etc/rancher/k3s/config.yaml").mode == 0o600
    current = _current(host)
    assert current["argv"] == [mode]
    assert current["version"] == VERSION
    assert current["pid"] == int(host.check_output(f"systemctl show {unit} -p MainPID --value"))


def test_every_node_gets_the_first_servers_token(host):
    token = _server_token()
    assert len(token) == 48
    assert _current(host)["env"]["K3S_TOKEN"] == token
    # The node started once, during the first converge, with this same token: the second
    # converge (molecule's idempotence step) neither rotated it nor restarted anything.
    lines = host.file("/var/lib/homelab-standin/starts.log").content_string.splitlines()
    assert [json.loads(line)["env"]["K3S_TOKEN"] for line in lines] == [token]
    if not _is_server(host):
        # Only the first server keeps the token file.
        assert not host.file("/etc/rancher/k3s/cluster-token").exists


@pytest.mark.parametrize("script", ["k3s-uninstall.sh", "k3s-agent-uninstall.sh"])
def test_the_matching_uninstall_script_is_written(host, script):
    wanted = (script == "k3s-uninstall.sh") == _is_server(host)
    assert host.file(f"/usr/local/bin/{script}").exists is wanted
