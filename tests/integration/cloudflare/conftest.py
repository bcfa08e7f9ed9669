"""Fixtures for the Cloudflare module tests: the emulator and a way to run modules as Ansible does.

Modules run through `ansible-playbook` (the one installed beside the Python running pytest), with
the collection made importable from a temporary ANSIBLE_COLLECTIONS_PATH that links to this
checkout, and with CLOUDFLARE_BASE_URL pointing at the emulator.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from cloudflare_emulator import CloudflareEmulator

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
FAST_RETRIES = {"api_retry_delay": 0.01, "api_timeout": 5}


@pytest.fixture(scope="session")
def api_token():
    return "cf-test-" + secrets.token_hex(20)


@pytest.fixture(scope="session")
def collections_path(tmp_path_factory):
    root = tmp_path_factory.mktemp("collections")
    namespace = root / "ansible_collections" / "spitikos"
    namespace.mkdir(parents=True)
    (namespace / "homelab").symlink_to(REPO, target_is_directory=True)
    return root


@pytest.fixture
def emulator(api_token):
    """A fresh emulator per test; any request or response that broke the API description fails
    the test at teardown."""
    emu = CloudflareEmulator(token=api_token).start()
    try:
        yield emu
    finally:
        emu.stop()
    assert emu.validation_errors == [], "\n".join(emu.validation_errors)


@pytest.fixture
def zone(emulator):
    return emulator.add_zone("example.com")


class AnsibleRunner:
    def __init__(self, workdir: Path, collections: Path, emulator, token: str):
        self.workdir = workdir
        self.collections = collections
        self.emulator = emulator
        self.token = token
        self.runs = 0

    def env(self, extra=None):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ANSIBLE_", "CLOUDFLARE_"))}
        env.update(
            {
                "ANSIBLE_COLLECTIONS_PATH": str(self.collections),
                "ANSIBLE_COLLECTIONS_PATHS": str(self.collections),
                "ANSIBLE_STDOUT_CALLBACK": "json",
                "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1",
                "ANSIBLE_NOCOLOR": "1",
                "ANSIBLE_RETRY_FILES_ENABLED": "0",
                "ANSIBLE_DEPRECATION_WARNINGS": "0",
                "ANSIBLE_LOCAL_TEMP": str(self.workdir / "tmp"),
                "ANSIBLE_REMOTE_TEMP": str(self.workdir / "tmp"),
                "ANSIBLE_HOME": str(self.workdir / "home"),
                "CLOUDFLARE_API_TOKEN": self.token,
                "CLOUDFLARE_BASE_URL": self.emulator.base_url,
            }
        )
        for key, value in (extra or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def playbook(self, tasks, check=False, diff=False, verbosity=0, env=None, extra_args=()):
        """Run tasks on localhost; returns (returncode, [task results], stdout+stderr)."""
        self.runs += 1
        play = [
            {
                "name": "Cloudflare module test",
                "hosts": "localhost",
                "gather_facts": False,
                "vars": {"ansible_python_interpreter": sys.executable},
                "tasks": tasks,
            }
        ]
        path = self.workdir / f"play{self.runs}.yml"
        path.write_text(json.dumps(play, indent=2))
        cmd = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(path)]
        if check:
            cmd.append("--check")
        if diff:
            cmd.append("--diff")
        if verbosity:
            cmd.append("-" + "v" * verbosity)
        cmd.extend(extra_args)
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            env=self.env(env),
            cwd=self.workdir,
            timeout=300,
            check=False,
        )
        output = proc.stdout + proc.stderr
        results = []
        if not verbosity:
            try:
                data = json.loads(proc.stdout)
            except ValueError as exc:
                raise AssertionError(f"ansible-playbook printed no JSON:\n{output}") from exc
            for task in data["plays"][0]["tasks"]:
                results.append(task["hosts"]["localhost"])
        return proc.returncode, results, output

    def module(self, name, args, check=False, diff=False, env=None, fast=True):
        """Run one module once; returns its result."""
        args = dict(FAST_RETRIES, **args) if fast else dict(args)
        task = {"name": f"Run {name}", f"spitikos.homelab.{name}": args}
        _rc, results, output = self.playbook([task], check=check, diff=diff, env=env)
        assert results, output
        return results[0]


@pytest.fixture
def ansible(tmp_path, collections_path, emulator, api_token):
    (tmp_path / "tmp").mkdir()
    (tmp_path / "home").mkdir()
    return AnsibleRunner(tmp_path, collections_path, emulator, api_token)
