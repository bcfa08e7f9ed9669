"""Run the router action plugins against a local shell standing in for the router.

``router`` gives a directory (``root``) with ``etc/config`` and a ``bin`` holding ``uci``:
OpenWrt's real uci built by scripts/oracles (tests that use it call ``oracles.require("uci")``),
pointed at that directory with ``-c`` for the configuration and ``-t`` for the staged changes
(``-P`` would make ``commit`` do nothing). ``run_router_action`` builds an action plugin whose
commands run under ``/bin/sh`` there instead of over a connection (with their standard input,
when the plugin gives one), and records them.
"""

from __future__ import annotations

import os
import subprocess
from types import SimpleNamespace
from unittest.mock import MagicMock

import oracles
import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.template import Templar


@pytest.fixture
def router(tmp_path):
    uci = oracles.find("uci")
    root = tmp_path / "router"
    (root / "etc" / "config").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "tmp").mkdir()  # uci makes its save directory, but not the parents of it
    wrapper = root / "bin" / "uci"
    if uci is not None:
        wrapper.write_text(
            f'#!/bin/sh\nexec "{uci}" -c "{root}/etc/config" -t "{root}/tmp/.uci" "$@"\n'
        )
        wrapper.chmod(0o755)
    return SimpleNamespace(root=root, uci=wrapper, commands=[], stdins=[])


@pytest.fixture
def run_router_action(router):
    def run(action_class, args, check_mode=False, diff=False, fail_on=None, replies=None):
        task = MagicMock()
        task.args = dict(args)
        task.async_val = 0
        task.check_mode = check_mode
        task.diff = diff
        task.action = "spitikos.homelab.router"
        loader = DataLoader()
        action = action_class(
            task, MagicMock(), PlayContext(), loader, Templar(loader=loader), MagicMock()
        )

        def execute(command, sudoable=True, in_data=None, **kwargs):
            router.commands.append(command)
            router.stdins.append(in_data)
            if fail_on and fail_on in command:
                return {"rc": 1, "stdout": "", "stderr": "injected failure\n"}
            for needle, reply in (replies or {}).items():
                if needle in command:
                    return dict(reply)
            env = dict(os.environ, PATH=f"{router.root / 'bin'}:{os.environ['PATH']}")
            proc = subprocess.run(
                ["/bin/sh", "-c", command],
                cwd=router.root,
                env=env,
                input=in_data or b"",
                capture_output=True,
                check=False,
            )
            return {
                "rc": proc.returncode,
                "stdout": proc.stdout.decode(),
                "stderr": proc.stderr.decode(),
            }

        action._low_level_execute_command = execute
        return action.run(task_vars={})

    return run
