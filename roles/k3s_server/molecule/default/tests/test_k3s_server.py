"""What a user of the k3s_server role relies on, on a single server running the k3s stand-in."""

import hashlib
import json
import os
import re
from pathlib import Path

import yaml
from testinfra.utils.ansible_runner import AnsibleRunner

testinfra_hosts = [
    f"podman://{name}"
    for name in AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("k3s_servers")
]
VERSION = "v1.34.9+k3s1"


def _own_names(host):
    hostname = host.check_output("hostname")
    address = host.check_output("ip -4 -o route get 1.1.1.1").split(" src ")[1].split()[0]
    return hostname, address


def _yaml(host, path):
    return yaml.safe_load(host.file(path).content_string)


def _starts(host):
    lines = host.file("/var/lib/homelab-standin/starts.log").content_string.splitlines()
    return [json.loads(line) for line in lines]


def test_config_yaml_is_rendered_from_the_variables(host):
    hostname, address = _own_names(host)
    assert _yaml(host, "/etc/rancher/k3s/config.yaml") == {
        "write-kubeconfig-mode": "0600",
        "node-name": hostname,
        # A single server keeps SQLite: no cluster-init, no server to join, no taint.
        "tls-san": sorted(["k3s.example.com", "10.0.0.10", hostname, address]),
        # ingress-nginx is the default controller, metallb is chosen in the inventory.
        "disable": ["servicelb", "traefik"],
        "node-label": ["homelab.spitikos.io/role=server"],
        "kubelet-arg": ["max-pods=50"],
    }


def test_secrets_and_config_are_private(host):
    for path in (
        "/etc/rancher/k3s/config.yaml",
        "/etc/systemd/system/k3s.service.env",
        "/etc/rancher/k3s/cluster-token",
    ):
        f = host.file(path)
        assert f.is_file, path
        assert (f.mode, f.user, f.group) == (0o600, "root", "root"), path


def test_the_pinned_binary_from_the_artifact_dir_is_installed(host):
    assert VERSION in host.check_output("/usr/local/bin/k3s --version")
    artifacts = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "artifacts" / VERSION
    expected = hashlib.sha256((artifacts / "k3s").read_bytes()).hexdigest()
    assert host.file("/usr/local/bin/k3s").sha256sum == expected
    assert host.file("/usr/local/bin/k3s").mode == 0o755
    for tool in ("kubectl", "crictl", "ctr"):
        assert host.file(f"/usr/local/bin/{tool}").linked_to == "/usr/local/bin/k3s"
    for script in ("k3s-uninstall.sh", "k3s-killall.sh"):
        assert host.file(f"/usr/local/bin/{script}").mode == 0o755, script


def test_the_unit_runs_the_server_with_its_environment(host):
    service = host.service("k3s")
    assert service.is_running
    assert service.is_enabled
    exec_start = host.check_output("systemctl show k3s -p ExecStart")
    assert "path=/usr/local/bin/k3s ; argv[]=/usr/local/bin/k3s server ;" in exec_start
    env_file = host.check_output("systemctl show k3s -p EnvironmentFiles")
    assert "/etc/systemd/system/k3s.service.env" in env_file
    main_pid = int(host.check_output("systemctl show k3s -p MainPID --value"))
    current = json.loads(host.file("/var/lib/homelab-standin/current.json").content_string)
    assert current["pid"] == main_pid
    assert current["argv"] == ["server"]
    assert current["version"] == VERSION
    assert current["env"]["NO_PROXY"] == "10.0.0.0/8,.example.com"


def test_the_join_token_is_generated_once_and_given_to_k3s(host):
    token = host.file("/etc/rancher/k3s/cluster-token").content_string.strip()
    assert re.fullmatch(r"[A-Za-z0-9]{48}", token)
    current = json.loads(host.file("/var/lib/homelab-standin/current.json").content_string)
    assert current["env"]["K3S_TOKEN"] == token
    # k3s itself writes the full token (with the CA hash) from the one it was given.
    assert host.file("/var/lib/rancher/k3s/server/token").content_string.strip().endswith(token)


def test_k3s_started_once_over_converge_and_idempotence(host):
    starts = _starts(host)
    assert len(starts) == 1, starts
    assert host.check_output("systemctl show k3s -p NRestarts --value") == "0"


def test_kubeconfig_is_merged_on_the_controller(host):
    path = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "kubeconfig"
    assert path.stat().st_mode & 0o777 == 0o600
    config = yaml.safe_load(path.read_text())
    clusters = {c["name"]: c["cluster"] for c in config["clusters"]}
    assert clusters["homelab-single"]["server"] == f"https://{host.backend.name}:6443"
    assert clusters["work"]["server"] == "https://work.example.net:6443"
    contexts = {c["name"]: c["context"] for c in config["contexts"]}
    assert contexts["homelab-single"] == {"cluster": "homelab-single", "user": "homelab-single"}
    assert "work" in contexts
    assert config["current-context"] == "work"
    users = {u["name"] for u in config["users"]}
    assert users == {"homelab-single", "work"}
