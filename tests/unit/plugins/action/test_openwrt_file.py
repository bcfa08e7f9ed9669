"""openwrt_file against a local shell standing in for the router: check mode, create, unchanged,
diff, validation failures that keep the old file, backups, modes and odd bytes."""

from __future__ import annotations

import stat
import subprocess

import pytest

from ansible_collections.spitikos.homelab.plugins.action.openwrt_file import (
    ActionModule,
    parse_mode,
    printf_format,
    write_commands,
)

OLD = "global\n    maxconn 100\n"
NEW = "global\n    maxconn 200\n"
# A validator that refuses files containing the word "broken", like haproxy -c would.
VALIDATE = "! grep -q broken %s || { echo 'parse error in %s' >&2; exit 3; }"


@pytest.fixture
def dest(router):
    path = router.root / "haproxy.cfg"
    path.write_text(OLD)
    path.chmod(0o640)
    return path


def args(dest, **extra):
    return {"dest": str(dest), "content": NEW, "validate": VALIDATE, **extra}


def leftovers(dest):
    return sorted(p.name for p in dest.parent.iterdir() if p.name.startswith(f".{dest.name}"))


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        ("-rw-r--r--", "0644"),
        ("-rwxr-x---", "0750"),
        ("-rw-------", "0600"),
        ("-rwsr-xr-x", "4755"),
        ("drwxrwxrwt", "1777"),
        ("-rw-r-Sr--", "2644"),
    ],
)
def test_parse_mode(text, mode):
    assert parse_mode(text) == mode


def test_printf_format_escapes_what_printf_would_interpret():
    assert printf_format(b"50% off \\ 'q'\n\t\xff") == "50%% off \\134 'q'\\012\\011\\377"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"plain\n",
        bytes(range(256)),
        b"%s %d \\n '\"' $HOME `x`\n" * 3000,
        bytes(range(256)) * 400,
    ],
)
def test_write_commands_reproduce_the_bytes(tmp_path, data):
    target = tmp_path / "out"
    for command in write_commands(data, str(target)):
        # Dropbear, OpenWrt's SSH server, refuses commands longer than 9000 bytes.
        assert len(command.encode()) < 9000
        subprocess.run(["/bin/sh", "-c", command], check=True)
    assert target.read_bytes() == data
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_check_mode_reports_and_writes_nothing(run_router_action, router, dest):
    result = run_router_action(ActionModule, args(dest), check_mode=True, diff=True)
    assert result["changed"]
    assert result["diff"]["before"] == OLD
    assert result["diff"]["after"] == NEW
    assert dest.read_text() == OLD
    assert not any("grep" in c for c in router.commands)  # no validation in check mode
    assert leftovers(dest) == []


def test_create_then_unchanged(run_router_action, router):
    path = router.root / "new.cfg"
    first = run_router_action(ActionModule, args(path))
    assert first["changed"]
    assert path.read_text() == NEW
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert first["mode"] == "0644"
    again = run_router_action(ActionModule, args(path), diff=True)
    assert again["changed"] is False
    assert "diff" not in again
    assert leftovers(path) == []


def test_replacing_keeps_the_mode_and_can_back_up(run_router_action, dest):
    result = run_router_action(ActionModule, args(dest, backup=True))
    assert result["changed"]
    assert dest.read_text() == NEW
    assert stat.S_IMODE(dest.stat().st_mode) == 0o640
    backup = dest.parent / result["backup_file"].rsplit("/", 1)[1]
    assert backup.read_text() == OLD
    assert leftovers(dest) == []


def test_a_refused_file_leaves_the_old_one_in_place(run_router_action, dest):
    before = dest.stat()
    result = run_router_action(ActionModule, args(dest, content="broken\n", backup=True))
    assert result["failed"]
    assert result["msg"].startswith(f"validation of the new {dest} failed; the file was left")
    assert "parse error in" in result["msg"]
    assert result["validate_rc"] == 3
    assert dest.read_text() == OLD
    assert dest.stat().st_ino == before.st_ino
    assert leftovers(dest) == []
    assert "backup_file" not in result
    assert sorted(p.name for p in dest.parent.iterdir() if p.name.endswith("~")) == []


def test_only_the_mode_changes(run_router_action, dest):
    dest.write_text(NEW)
    result = run_router_action(ActionModule, args(dest, mode="0600"), diff=True)
    assert result["changed"]
    assert result["diff"]["before_header"].endswith("(mode 0640)")
    assert result["diff"]["after_header"].endswith("(mode 0600)")
    assert stat.S_IMODE(dest.stat().st_mode) == 0o600
    assert run_router_action(ActionModule, args(dest, mode=0o600))["changed"] is False


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"validate": "haproxy -c -f"}, "validate must contain %s"),
        ({"mode": "rw-r--r--"}, "is not an octal mode"),
    ],
)
def test_bad_input(run_router_action, dest, extra, message):
    result = run_router_action(ActionModule, args(dest, **extra))
    assert result["failed"]
    assert message in result["msg"]
    assert dest.read_text() == OLD


def test_a_directory_is_refused(run_router_action, router):
    result = run_router_action(ActionModule, args(router.root))
    assert result["failed"]
    assert result["msg"] == "dest is a directory"


def test_a_failed_move_cleans_up(run_router_action, dest):
    result = run_router_action(ActionModule, args(dest), fail_on="mv -f")
    assert result["failed"]
    assert result["msg"] == f"cannot move the new file to {dest}"
    assert dest.read_text() == OLD
    assert leftovers(dest) == []
