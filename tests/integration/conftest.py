"""Shared fixtures for tests that run Ansible itself against this checkout.

``collections_path`` is a temporary directory holding ``ansible_collections/spitikos/homelab``
as a link to the repository, so ``ansible-playbook`` finds the collection under test (and not an
installed copy). ``ansible_env`` is an environment for subprocesses using it; ``run_playbook``
runs a playbook from the repository with that environment; ``run_task`` runs one task on the
local host and returns its result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("collections")
    namespace = root / "ansible_collections" / "spitikos"
    namespace.mkdir(parents=True)
    (namespace / "homelab").symlink_to(REPO, target_is_directory=True)
    return root


@pytest.fixture(scope="session")
def ansible_env(collections_path, tmp_path_factory):
    env = dict(os.environ)
    env.update(
        {
            "ANSIBLE_COLLECTIONS_PATH": str(collections_path),
            "ANSIBLE_LOCAL_TEMP": str(tmp_path_factory.mktemp("ansible-tmp")),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "0",
            "ANSIBLE_HOST_KEY_CHECKING": "0",
            "PATH": f"{ANSIBLE_BIN}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    # A user's configuration must not change what the tests see.
    env.pop("ANSIBLE_CONFIG", None)
    return env


@pytest.fixture(scope="session")
def run_playbook(ansible_env):
    """Run ``ansible-playbook PLAYBOOK ARGS...`` from the repository root; returns the result."""

    def run(playbook, *args, timeout=300):
        command = [str(ANSIBLE_BIN / "ansible-playbook"), str(REPO / playbook), *map(str, args)]
        return subprocess.run(
            command,
            cwd=REPO,
            env=ansible_env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def run_task(ansible_env, tmp_path):
    """Run one task of ``module`` with ``args`` on the local host through ``ansible-playbook``;
    returns (returncode, the task's result or None, the whole output)."""
    runs = []

    def run(module, args, *flags, task=None, env=None):
        runs.append(1)
        play = [
            {
                "name": f"{module} test",
                "hosts": "localhost",
                "gather_facts": False,
                "vars": {"ansible_python_interpreter": sys.executable},
                "tasks": [{"name": "Task", module: args, "register": "result", **(task or {})}],
            }
        ]
        path = tmp_path / f"play{len(runs)}.json"
        path.write_text(json.dumps(play))
        env = dict(
            ansible_env,
            ANSIBLE_STDOUT_CALLBACK="json",
            ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
            **(env or {}),
        )
        command = [str(ANSIBLE_BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local"]
        proc = subprocess.run(
            [*command, str(path), *flags],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        try:
            report = json.loads(proc.stdout[proc.stdout.index("{") :])
            result = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError):
            result = None
        return proc.returncode, result, proc.stdout + proc.stderr

    return run
