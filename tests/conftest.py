"""Shared by every test layer under tests/.

- tests/harness is importable (``import oracles``).
- ``ansible_collections.spitikos.homelab`` is importable when pytest runs from a checkout.
  ansible-test runs the tests from an installed collection tree, where the import already works;
  a plain ``pytest`` run from the repository gets a temporary tree whose
  ``ansible_collections/spitikos/homelab`` links to this checkout.
"""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "harness"))


def _ensure_importable():
    try:
        import ansible_collections.spitikos.homelab.plugins.module_utils  # noqa: F401
    except ImportError:
        root = Path(tempfile.mkdtemp(prefix="homelab-collections-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        namespace = root / "ansible_collections" / "spitikos"
        namespace.mkdir(parents=True)
        (namespace / "homelab").symlink_to(REPO, target_is_directory=True)
        sys.path.insert(0, str(root))
        for name in [m for m in sys.modules if m.startswith("ansible_collections.spitikos")]:
            del sys.modules[name]


_ensure_importable()
