"""The tunnel credentials file is 0600 from the moment it exists, whatever the umask.

Every file-system call that could give the file a mode is wrapped; after each one, when the
credentials file holds the secret, its mode is recorded. Only 0600 may ever be seen.
"""

from __future__ import annotations

import os
import stat
from types import SimpleNamespace

import pytest

from ansible_collections.spitikos.homelab.plugins.modules import cloudflare_tunnel as module

CREDENTIALS = {"AccountTag": "a" * 32, "TunnelID": "t", "TunnelSecret": "c2VjcmV0"}


@pytest.fixture
def seen_modes(monkeypatch, tmp_path):
    path = tmp_path / "tunnel.json"
    seen = []

    def watch(name):
        original = getattr(os, name)

        def wrapped(*args, **kwargs):
            result = original(*args, **kwargs)
            if path.exists() and CREDENTIALS["TunnelSecret"] in path.read_text():
                seen.append(stat.S_IMODE(path.stat().st_mode))
            return result

        monkeypatch.setattr(os, name, wrapped)

    for name in ("rename", "replace", "chmod", "fchmod", "link", "symlink"):
        watch(name)
    old_umask = os.umask(0)
    yield path, seen
    os.umask(old_umask)


def fake_module():
    # What AnsibleModule.atomic_move does for a new file: rename, then 0666 & ~umask.
    def atomic_move(src, dest):
        os.rename(src, dest)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(dest, 0o666 & ~umask)

    return SimpleNamespace(check_mode=False, atomic_move=atomic_move)


def test_a_new_credentials_file_is_never_wider_than_0600(seen_modes):
    path, seen = seen_modes
    assert module.write_credentials_file(fake_module(), str(path), CREDENTIALS) is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert seen, "no file-system call was observed"
    assert set(seen) == {0o600}


def test_replacing_credentials_keeps_0600(seen_modes):
    path, seen = seen_modes
    path.write_text("{}")
    os.chmod(path, 0o644)
    seen.clear()
    assert module.write_credentials_file(fake_module(), str(path), CREDENTIALS) is True
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert set(seen) == {0o600}
    assert module.write_credentials_file(fake_module(), str(path), CREDENTIALS) is False
