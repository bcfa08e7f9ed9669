"""Fixtures for the readiness module's tests: the Kubernetes API emulator and a module runner.

The module runs through ``ansible-playbook`` (the one beside the Python running pytest), with the
collection importable from the temporary ANSIBLE_COLLECTIONS_PATH the parent conftest builds, and
a kubeconfig pointing at the emulator.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from k8s_emulator import K8sEmulator

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


@pytest.fixture
def emulator():
    emu = K8sEmulator().start()
    try:
        yield emu
    finally:
        emu.stop()


@pytest.fixture
def run_module(ansible_env, emulator, tmp_path):
    """Run k8s_ready with ``args``; returns (returncode, result of the task, output)."""
    kubeconfig = emulator.kubeconfig(tmp_path / "kubeconfig")
    runs = []

    def run(args, check=False, kubeconfig_path=None):
        runs.append(1)
        task = {
            "name": "Wait",
            "spitikos.homelab.k8s_ready": {
                "kubeconfig": str(kubeconfig_path or kubeconfig),
                "interval": 0.05,
                **args,
            },
            "register": "result",
        }
        play = [
            {
                "name": "k8s_ready test",
                "hosts": "localhost",
                "gather_facts": False,
                "vars": {"ansible_python_interpreter": sys.executable},
                "tasks": [task],
            }
        ]
        path = tmp_path / f"play{len(runs)}.yml"
        path.write_text(json.dumps(play))
        cmd = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(path)]
        if check:
            cmd.append("--check")
        env = dict(ansible_env, ANSIBLE_STDOUT_CALLBACK="json", ANSIBLE_LOAD_CALLBACK_PLUGINS="1")
        env.pop("KUBECONFIG", None)
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=env, timeout=120, check=False
        )
        output = proc.stdout + proc.stderr
        try:
            report = json.loads(proc.stdout[proc.stdout.index("{") :])
            result = report["plays"][0]["tasks"][0]["hosts"]["localhost"]
        except (ValueError, KeyError, IndexError):
            result = None
        return proc.returncode, result, output

    return run
