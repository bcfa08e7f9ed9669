"""spitikos.homelab.homelab_probe through ansible-playbook, on the local host.

What it reads must be what is there: a command's output and return code (127 when it cannot be
started), files with their exact bytes, users and groups from the host's databases, systemd
units as systemctl answers; in check mode too, and never a change.
"""

from __future__ import annotations

import base64
import grp
import os
import pwd
import sys

MODULE = "spitikos.homelab.homelab_probe"


def test_reads_commands_files_users_and_groups(run_task, tmp_path):
    secret = tmp_path / "token"
    secret.write_bytes(b"t0ken\n\x00binary")
    user = pwd.getpwuid(os.getuid())
    group = grp.getgrgid(user.pw_gid)
    rc, result, output = run_task(
        MODULE,
        {
            "commands": {
                "python": [sys.executable, "-c", "import sys; print('out'); sys.exit(3)"],
                "missing": [str(tmp_path / "no-such-binary"), "--version"],
            },
            "files": [str(secret), str(tmp_path / "absent")],
            "users": [user.pw_name, "no-such-user-here"],
            "groups": [group.gr_name, "no-such-group-here"],
        },
    )
    assert rc == 0, output
    assert result["changed"] is False
    assert result["commands"]["python"]["rc"] == 3
    assert result["commands"]["python"]["stdout"].strip() == "out"
    assert result["commands"]["missing"]["rc"] == 127
    assert base64.b64decode(result["files"][str(secret)]["content"]) == secret.read_bytes()
    assert result["files"][str(tmp_path / "absent")] == {"exists": False, "content": None}
    assert result["users"] == {
        user.pw_name: {
            "uid": user.pw_uid,
            "gid": user.pw_gid,
            "group": group.gr_name,
            "home": user.pw_dir,
            "shell": user.pw_shell,
        },
        "no-such-user-here": None,
    }
    assert result["groups"] == {group.gr_name: {"gid": group.gr_gid}, "no-such-group-here": None}


def test_check_mode_reads_too_and_changes_nothing(run_task, tmp_path):
    marker = tmp_path / "ran"
    rc, result, output = run_task(
        MODULE,
        {"commands": {"touch": ["touch", str(marker)]}, "files": [str(tmp_path / "x")]},
        "--check",
    )
    assert rc == 0, output
    # Commands run in check mode as well: the module's contract is that they only read.
    assert result["commands"]["touch"]["rc"] == 0
    assert marker.exists()
    assert result["changed"] is False


def test_a_command_that_is_not_a_list_is_refused(run_task):
    rc, result, output = run_task(
        MODULE, {"commands": {"version": "k3s --version", "empty": []}, "users": ["root"]}
    )
    assert rc != 0, output
    assert result["problems"] == [
        "commands.version: give the command as a non-empty list of arguments",
        "commands.empty: give the command as a non-empty list of arguments",
    ]


def test_the_secret_stays_out_of_the_output_with_no_log(run_task, tmp_path):
    secret = tmp_path / "token"
    secret.write_text("s3cret-probe-token-0815\n")
    rc, _result, output = run_task(MODULE, {"files": [str(secret)]}, "-vvv", task={"no_log": True})
    assert rc == 0, output
    assert "s3cret-probe-token-0815" not in output
    assert base64.b64encode(secret.read_bytes()).decode() not in output


SYSTEMCTL = """#!/bin/sh
# Stands in for systemctl: answers like systemd for one known unit, and for an unknown one
# prints nothing on stdout (its complaint goes to stderr).
case "$1 $2" in
  "is-enabled web") echo enabled ;;
  "is-active web") echo active ;;
  "is-enabled idle") echo disabled; exit 1 ;;
  "is-active idle") echo inactive; exit 3 ;;
  *) echo "Failed to get unit file state for $2.service" >&2; exit 4 ;;
esac
"""


def test_services_as_systemctl_answers(run_task, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(SYSTEMCTL)
    (bin_dir / "systemctl").chmod(0o755)
    path = f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"
    rc, result, output = run_task(
        MODULE, {"services": ["web", "idle", "ghost"]}, env={"PATH": path}
    )
    assert rc == 0, output
    assert result["services"] == {
        "web": {"enabled": "enabled", "active": "active"},
        "idle": {"enabled": "disabled", "active": "inactive"},
        "ghost": {"enabled": "unknown", "active": "unknown"},
    }
