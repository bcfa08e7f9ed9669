"""The collection as a user gets it from Galaxy: built, installed into an empty path, usable."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(*cmd: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(BIN / cmd[0]), *cmd[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run("ansible-galaxy", "collection", "build", "--output-path", str(out), str(REPO), cwd=out)
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    tarball = out / f"spitikos-homelab-{version}.tar.gz"
    assert tarball.is_file()
    return tarball


@pytest.fixture(scope="module")
def installed(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dest = tmp_path_factory.mktemp("collections")
    # --no-deps: the dependencies (ansible.posix, community.general) come from the `ansible`
    # package already installed beside ansible-core; Galaxy itself is not reachable.
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(dest))
    run(
        "ansible-galaxy",
        "collection",
        "install",
        "--no-deps",
        "-p",
        str(dest),
        str(built),
        cwd=dest,
        env=env,
    )
    return dest


def test_tarball_ships_the_collection_and_nothing_of_the_workshop(built: Path) -> None:
    with tarfile.open(built) as tar:
        names = set(tar.getnames())
    for needed in (
        "MANIFEST.json",
        "FILES.json",
        "meta/runtime.yml",
        "README.md",
        "LICENSE",
        "playbooks/site.yml",
        "roles/common/meta/argument_specs.yml",
    ):
        assert needed in names or f"./{needed}" in names, needed
    leaked = [
        n
        for n in names
        if n.split("/")[0] in {".ci", ".venv", ".cache", ".git", "scripts", "bench"}
        or "__pycache__" in n
        or n.endswith((".pyc", ".tar.gz"))
    ]
    assert leaked == []


def test_installed_collection_resolves_its_playbooks_and_roles(
    installed: Path, tmp_path: Path
) -> None:
    root = installed / "ansible_collections" / "spitikos" / "homelab"
    assert (root / "MANIFEST.json").is_file()
    inventory = tmp_path / "hosts.yml"
    inventory.write_text("all:\n  children:\n    k3s_servers:\n      hosts:\n        pi:\n")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(installed), ANSIBLE_HOME=str(tmp_path))
    # Run from an empty directory so no ansible.cfg or checkout is involved.
    proc = run(
        "ansible-playbook",
        "spitikos.homelab.site",
        "-i",
        str(inventory),
        "--list-tasks",
        cwd=tmp_path,
        env=env,
    )
    assert "spitikos.homelab.common : Install the base packages" in proc.stdout
    doc = run("ansible-doc", "-t", "role", "spitikos.homelab.common", cwd=tmp_path, env=env)
    assert "common_timezone" in doc.stdout
