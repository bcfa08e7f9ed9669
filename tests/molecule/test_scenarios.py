"""Runs every role's molecule scenarios, and proves each verifier can fail.

Each scenario runs the full sequence its molecule.yml declares (create, converge, idempotence,
verify, destroy) on podman system containers built by scripts/setup. The second test starts the
same platforms from the bare base image, without the role, and runs the scenario's testinfra
verifier against them: a verifier that passes there would not notice a broken role.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import oracles
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(REPO.glob("roles/*/molecule/*/molecule.yml"))
IDS = [f"{p.parents[2].name}-{p.parent.name}" for p in SCENARIOS]

pytestmark = pytest.mark.molecule


@pytest.fixture(autouse=True)
def _podman():
    oracles.require_image("localhost/homelab-debian:12")


def _env(**extra: str) -> dict[str, str]:
    """The environment of this interpreter's virtualenv, whatever the caller's PATH was."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return dict(os.environ, PATH=path, PY_COLORS="0", ANSIBLE_FORCE_COLOR="0", **extra)


def _tail(text: str, lines: int = 150) -> str:
    return "\n".join(text.splitlines()[-lines:])


@pytest.mark.parametrize("molecule_yml", SCENARIOS, ids=IDS)
def test_scenario(molecule_yml: Path) -> None:
    scenario = molecule_yml.parent
    role_dir = scenario.parents[1]
    proc = subprocess.run(
        [sys.executable, "-m", "molecule", "test", "--scenario-name", scenario.name],
        cwd=role_dir,
        env=_env(NO_COLOR="1"),
        capture_output=True,
        text=True,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, _tail(output)
    # The idempotence step and the verifier both ran (a scenario that drops them proves little).
    assert "idempotence" in output
    assert " passed" in output, _tail(output)


def _bare_platforms(molecule_yml: Path, suffix: str) -> list[dict]:
    config = yaml.safe_load(molecule_yml.read_text())
    return [
        {"name": f"{p['name']}-{suffix}", "image": p["image"], "groups": p.get("groups", [])}
        for p in config["platforms"]
    ]


@pytest.mark.parametrize("molecule_yml", SCENARIOS, ids=IDS)
def test_verifier_fails_on_hosts_without_the_role(molecule_yml: Path, tmp_path: Path) -> None:
    tests_dir = molecule_yml.parent / "tests"
    if not tests_dir.is_dir():
        pytest.fail(f"{molecule_yml.parent} has no testinfra tests")
    platforms = _bare_platforms(molecule_yml, uuid.uuid4().hex[:8])
    inventory = {"all": {"hosts": {p["name"]: None for p in platforms}, "children": {}}}
    for p in platforms:
        for group in p["groups"]:
            inventory["all"]["children"].setdefault(group, {"hosts": {}})["hosts"][p["name"]] = None
    inventory_file = tmp_path / "inventory.yml"
    inventory_file.write_text(yaml.safe_dump(inventory))
    try:
        for p in platforms:
            subprocess.run(
                [
                    "podman",
                    "run",
                    "-d",
                    "--name",
                    p["name"],
                    "--systemd=always",
                    p["image"],
                    "/sbin/init",
                ],
                check=True,
                capture_output=True,
            )
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", str(tests_dir)],
            cwd=molecule_yml.parent,
            env=_env(MOLECULE_INVENTORY_FILE=str(inventory_file)),
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        for p in platforms:
            subprocess.run(
                ["podman", "rm", "-f", "-t", "0", p["name"]], capture_output=True, check=False
            )
    # pytest exits 1 when tests failed; 2-5 would mean the verifier could not even run.
    assert proc.returncode == 1, _tail(proc.stdout + proc.stderr)
    assert " failed" in proc.stdout
