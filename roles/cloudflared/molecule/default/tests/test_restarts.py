"""A changed rule restarts the connector once; bad input is refused before anything is written;
the uninstall entry point removes everything (last, as it ends the converged state).

(An unchanged run restarting nothing is proven by test_cloudflared.py: after converge and the
idempotence run the connector was started exactly once.)

Runs the scenario's own playbooks against the converged container and compares what systemd and
cloudflared's journal say before and after. Runs after test_cloudflared.py (file order).
"""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from testinfra.utils.ansible_runner import AnsibleRunner

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
HOSTS = AnsibleRunner(INVENTORY).get_hosts("all")
testinfra_hosts = [f"podman://{name}" for name in HOSTS]
FILES = (
    "/etc/cloudflared/config.yml",
    "/etc/cloudflared/credentials.json",
    "/etc/systemd/system/cloudflared.service",
    "/etc/systemd/system/cloudflared.service.d/override.conf",
    "/usr/local/bin/cloudflared",
)


def playbook(name):
    """Run one of the scenario's playbooks against the same container; returns the result."""
    path = Path(__file__).resolve().parents[1] / name
    env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", ANSIBLE_PIPELINING="1")
    return subprocess.run(
        [Path(sys.executable).parent / "ansible-playbook", "-i", INVENTORY, str(path)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def recap(output):
    return next(line for line in output.splitlines() if line.startswith(HOSTS[0] + " "))


def state(host):
    """How often the connector was started, the current invocation, and the files' digests."""
    journal = host.check_output("journalctl -u cloudflared -o cat --no-pager").splitlines()
    digests = {}
    for path in FILES:
        found = host.file(path)
        digests[path] = hashlib.sha256(found.content).hexdigest() if found.exists else None
    return {
        # cloudflared logs "Starting tunnel tunnelID=..." once per start.
        "starts": sum(1 for line in journal if "Starting tunnel tunnelID=" in line),
        "invocation": host.check_output("systemctl show cloudflared -p InvocationID --value"),
        "started_at": host.check_output(
            "systemctl show cloudflared -p ExecMainStartTimestampMonotonic --value"
        ),
        "pid": host.check_output("systemctl show cloudflared -p MainPID --value"),
        "files": digests,
    }


@pytest.fixture
def converged(host):
    assert host.file("/etc/cloudflared/config.yml").exists, "the role has not converged here"
    assert host.service("cloudflared").is_running
    return host


def test_a_changed_rule_restarts_the_service_once(converged):
    before = state(converged)
    proc = playbook("change.yml")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    after = state(converged)
    assert after["starts"] == before["starts"] + 1
    assert after["invocation"] != before["invocation"]
    assert after["started_at"] != before["started_at"]
    assert after["pid"] != before["pid"]
    assert (
        after["files"]["/etc/cloudflared/config.yml"]
        != before["files"]["/etc/cloudflared/config.yml"]
    )
    assert {k: v for k, v in after["files"].items() if not k.endswith("config.yml")} == {
        k: v for k, v in before["files"].items() if not k.endswith("config.yml")
    }
    rules = yaml.safe_load(converged.file("/etc/cloudflared/config.yml").content_string)["ingress"]
    assert [r.get("hostname") for r in rules] == [
        "api.example.com",
        "blog.example.com",
        "ssh.example.com",
        "www.example.com",
        None,
    ]
    assert converged.service("cloudflared").is_running


def test_bad_input_is_refused_before_anything_is_written(converged):
    before = state(converged)
    proc = playbook("broken.yml")
    output = proc.stdout + proc.stderr
    # The playbook catches each refusal, prints it and fails unless all four were refused.
    assert proc.returncode == 0, output
    assert "missing id: " in output
    assert "the tunnel id is unknown: run the spitikos.homelab.cloudflare_tunnel role" in output
    assert (
        'ingress rule #1 of 2 {\\"service\\": \\"http_status:404\\"}: this rule matches every '
        "request, so the rules after it would never be used; the catch-all must come last"
    ) in output
    assert (
        "originRequest.http2Origin applies to http:// and https:// origins only, not to "
        "service 'tcp://10.0.0.30:8883'" in output
    )
    assert f"but cloudflared_artifact_sha256 is {'0' * 64};" in output
    assert state(converged) == before


def test_uninstall_removes_the_service_its_files_and_user(converged):
    proc = playbook("uninstall.yml")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output
    assert converged.run("systemctl cat cloudflared").rc != 0
    assert not converged.service("cloudflared").is_running
    for path in (*FILES, "/etc/cloudflared", "/etc/systemd/system/cloudflared.service.d"):
        assert not converged.file(path).exists, path
    assert not converged.user("cloudflared").exists
    again = playbook("uninstall.yml")
    assert again.returncode == 0, again.stdout + again.stderr
    assert " changed=0 " in recap(again.stdout), again.stdout
