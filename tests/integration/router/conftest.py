"""Make ``ansible_collections.spitikos.homelab`` importable for the router tests that drive the
collection's uci helpers against the real uci (as tests/unit/plugins/conftest.py does)."""

from __future__ import annotations

import atexit
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]

try:
    import ansible_collections.spitikos.homelab.plugins.module_utils  # noqa: F401
except ImportError:
    _root = Path(tempfile.mkdtemp(prefix="homelab-collections-"))
    atexit.register(shutil.rmtree, _root, ignore_errors=True)
    (_root / "ansible_collections" / "spitikos").mkdir(parents=True)
    (_root / "ansible_collections" / "spitikos" / "homelab").symlink_to(
        REPO, target_is_directory=True
    )
    sys.path.insert(0, str(_root))
    for _name in [m for m in sys.modules if m.startswith("ansible_collections.spitikos")]:
        del sys.modules[_name]
