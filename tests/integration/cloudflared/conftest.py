"""The real cloudflared (built from its public source) judging what the collection plans.

- ``cloudflared``: the binary, through ``oracles.require`` (a failure under CI when missing);
- ``planned``: ``playbooks/plan.yml`` run once per (inventory, extra vars), returning the plan
  directory;
- ``module_utils``: the collection's module_utils, imported from this checkout;
- ``fake_edge``: ``tests/harness/fake_edge.py`` on a free port (``connector.FakeEdge``).
"""

from __future__ import annotations

import importlib
import sys

import oracles
import pytest
from connector import FakeEdge


@pytest.fixture(scope="session")
def cloudflared():
    return oracles.require("cloudflared")


@pytest.fixture(scope="session")
def module_utils(collections_path):
    """``module_utils(NAME)``: the collection's plugins/module_utils/NAME, from this checkout."""
    if str(collections_path) not in sys.path:
        sys.path.insert(0, str(collections_path))

    def load(name):
        return importlib.import_module(
            f"ansible_collections.spitikos.homelab.plugins.module_utils.{name}"
        )

    return load


@pytest.fixture(scope="session")
def planned(run_playbook, tmp_path_factory):
    """``planned(inventory, **extra_vars)``: the plan directory of that inventory (cached)."""
    done = {}

    def get(inventory, **extra):
        key = (inventory, tuple(sorted(extra.items())))
        if key not in done:
            out = tmp_path_factory.mktemp("plan") / "out"
            args = ["-i", inventory, "-e", f"plan_dir={out}"]
            for name, value in sorted(extra.items()):
                args += ["-e", f"{name}={value}"]
            result = run_playbook("playbooks/plan.yml", *args)
            assert result.returncode == 0, result.stdout + result.stderr
            done[key] = out
        return done[key]

    return get


@pytest.fixture
def fake_edge(tmp_path):
    edge = FakeEdge(tmp_path / "edge")
    edge.directory.mkdir()
    edge.start()
    yield edge
    edge.stop()
