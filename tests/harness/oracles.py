"""Finds the real programs the tests use as judges, and says plainly when one is missing.

An oracle is a real program that can judge what the collection produces: cloudflared built from
its source, OpenWrt's uci, helm with the published charts, HAProxy and dnsmasq in the router
image, podman for the system containers. ``scripts/oracles`` (run by ``scripts/setup``) builds or
fetches the ones that do not come from Debian and links them into ``.cache/oracles/bin``.

A test that needs one calls :func:`require`. When the oracle is missing, the test fails under
``CI=true`` (a test layer that could only skip has proven nothing) and is skipped elsewhere, in
both cases naming what is missing and how to get it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ORACLE_BIN = REPO / ".cache" / "oracles" / "bin"
HOW = {
    "cloudflared": "scripts/oracles cloudflared builds it from ../shared/src",
    "uci": "scripts/oracles uci builds it from ../shared/src",
    "helm": "scripts/oracles helm fetches it",
    "kubectl": "scripts/oracles helm fetches it",
    "podman": "scripts/setup installs it",
}


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(what: str) -> None:
    """Fail under CI, skip elsewhere, naming what is missing."""
    message = f"oracle missing: {what}"
    if in_ci():
        pytest.fail(f"{message} (CI=true: a missing oracle is a failure)", pytrace=False)
    pytest.skip(message)


def find(name: str) -> Path | None:
    """The program NAME: $SPITIKOS_ORACLE_<NAME>, .cache/oracles/bin/NAME, or PATH."""
    override = os.environ.get(f"SPITIKOS_ORACLE_{name.upper()}")
    candidates = [Path(override)] if override else []
    candidates.append(ORACLE_BIN / name)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def require(name: str) -> Path:
    """The program NAME, or a failure (CI) or skip (elsewhere) saying how to get it."""
    path = find(name)
    if path is None:
        missing(f"{name} ({HOW.get(name, 'install it')})")
    return path


def require_image(image: str) -> None:
    """A podman image built by scripts/setup, with podman itself and root."""
    require("podman")
    if os.geteuid() != 0:
        missing(f"root, for rootful podman and the image {image}")
    found = subprocess.run(["podman", "image", "exists", image], check=False)
    if found.returncode != 0:
        missing(f"the podman image {image} (scripts/setup builds it)")


def require_module(name: str):
    """Import a Python module the tests judge with (for example kubernetes_validate)."""
    try:
        return __import__(name)
    except ImportError:
        missing(f"the Python module {name} (requirements/test.txt)")
