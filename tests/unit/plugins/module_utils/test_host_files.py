"""The engine of homelab_files: checks, plan and apply, on a temporary directory."""

from __future__ import annotations

import grp
import os
import pwd
import stat

import pytest

from ansible_collections.spitikos.homelab.plugins.module_utils._host_files import (
    SECRET_AFTER,
    SECRET_BEFORE,
    ApplyError,
    HostFilesError,
    apply_changes,
    check_entries,
    plan_entries,
)

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def converge(entries, check_mode=False):
    """Check, plan and (unless check mode) apply; returns (changed paths, kept, diffs)."""
    checked = check_entries(entries, check_mode=check_mode)
    changes, kept = plan_entries(checked)
    if not check_mode:
        apply_changes(changes)
    return [c["entry"]["path"] for c in changes], kept, [c["diff"] for c in changes]


def tree(root):
    """Every path below root with its type, mode and content or target."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            found[str(path)] = ("link", os.readlink(path))
        elif stat.S_ISDIR(info.st_mode):
            found[str(path)] = ("dir", oct(stat.S_IMODE(info.st_mode)))
        else:
            found[str(path)] = ("file", oct(stat.S_IMODE(info.st_mode)), path.read_text())
    return found


def layout(root):
    return [
        {"path": f"{root}/etc", "state": "directory", "mode": "0750"},
        {"path": f"{root}/etc/app.conf", "content": "port: 80\n", "mode": "0640"},
        {"path": f"{root}/etc/token", "secret_content": "t0ken-value\n", "mode": "0600"},
        {"path": f"{root}/ctl", "state": "link", "src": f"{root}/etc/app.conf"},
        {"path": f"{root}/old.conf", "state": "absent"},
    ]


def test_creates_the_layout_in_order_then_changes_nothing(tmp_path):
    (tmp_path / "old.conf").write_text("stale\n")
    changed, kept, _diffs = converge(layout(tmp_path))
    assert changed == [
        f"{tmp_path}/etc",
        f"{tmp_path}/etc/app.conf",
        f"{tmp_path}/etc/token",
        f"{tmp_path}/ctl",
        f"{tmp_path}/old.conf",
    ]
    assert kept == []
    assert tree(tmp_path) == {
        f"{tmp_path}/ctl": ("link", f"{tmp_path}/etc/app.conf"),
        f"{tmp_path}/etc": ("dir", "0o750"),
        f"{tmp_path}/etc/app.conf": ("file", "0o640", "port: 80\n"),
        f"{tmp_path}/etc/token": ("file", "0o600", "t0ken-value\n"),
    }
    assert converge(layout(tmp_path)) == ([], [], [])


def test_check_mode_reports_and_writes_nothing(tmp_path):
    (tmp_path / "old.conf").write_text("stale\n")
    before = tree(tmp_path)
    changed, _kept, diffs = converge(layout(tmp_path), check_mode=True)
    assert len(changed) == 5
    assert len(diffs) == 5
    assert tree(tmp_path) == before


def test_only_what_differs_changes(tmp_path):
    converge(layout(tmp_path))
    (tmp_path / "etc" / "app.conf").chmod(0o644)
    (tmp_path / "etc" / "token").write_text("other\n")
    changed, _kept, diffs = converge(layout(tmp_path))
    assert changed == [f"{tmp_path}/etc/app.conf", f"{tmp_path}/etc/token"]
    assert diffs[0]["before"] == "mode: 0644\nstate: file\n"
    assert diffs[0]["after"] == "mode: 0640\nstate: file\n"
    # A secret's old and new text stay out of the diff.
    assert diffs[1]["before"] == SECRET_BEFORE
    assert diffs[1]["after"] == SECRET_AFTER
    assert "other" not in str(diffs)
    assert "t0ken" not in str(diffs)
    assert (tmp_path / "etc" / "token").read_text() == "t0ken-value\n"


def test_text_diff_shows_old_and_new_content(tmp_path):
    target = tmp_path / "a.conf"
    target.write_text("one\n")
    _changed, _kept, diffs = converge([{"path": str(target), "content": "two\n"}])
    assert diffs == [
        {
            "before": "one\n",
            "after": "two\n",
            "before_header": str(target),
            "after_header": str(target),
        }
    ]


def test_a_file_without_mode_keeps_its_mode(tmp_path):
    target = tmp_path / "a.conf"
    target.write_text("one\n")
    target.chmod(0o604)
    converge([{"path": str(target), "content": "two\n"}])
    assert stat.S_IMODE(target.stat().st_mode) == 0o604
    assert target.read_text() == "two\n"


def test_owner_and_group_by_name(tmp_path):
    target = tmp_path / "a.conf"
    entry = {"path": str(target), "content": "x\n", "owner": USER, "group": GROUP}
    converge([entry])
    assert target.stat().st_uid == os.getuid()
    assert target.stat().st_gid == os.getgid()
    assert converge([entry]) == ([], [], [])


def test_keep_files_leaves_a_regular_file_but_replaces_a_link(tmp_path):
    binary = tmp_path / "tool"
    binary.write_text("#!/bin/sh\n")
    other = tmp_path / "kubectl"
    other.write_text("a kubectl of its own\n")
    stale = tmp_path / "crictl"
    stale.symlink_to(tmp_path / "elsewhere")
    entries = [
        {"path": str(other), "state": "link", "src": str(binary), "keep_files": True},
        {"path": str(stale), "state": "link", "src": str(binary), "keep_files": True},
    ]
    changed, kept, _diffs = converge(entries)
    assert changed == [str(stale)]
    assert kept == [str(other)]
    assert other.read_text() == "a kubectl of its own\n"
    assert os.readlink(stale) == str(binary)
    assert converge(entries) == ([], [str(other)], [])


def test_a_link_replaces_a_file_without_keep_files(tmp_path):
    target = tmp_path / "localtime"
    target.write_text("copied zone\n")
    zone = tmp_path / "zone"
    zone.write_text("TZif\n")
    changed, _kept, diffs = converge([{"path": str(target), "state": "link", "src": str(zone)}])
    assert changed == [str(target)]
    assert os.readlink(target) == str(zone)
    assert diffs[0]["before"].startswith("mode: ")
    assert "state: file" in diffs[0]["before"]
    assert diffs[0]["after"] == f"src: {zone}\nstate: link\n"


def test_a_new_directory_can_hold_later_entries_in_check_mode(tmp_path):
    entries = [
        {"path": f"{tmp_path}/d", "state": "directory"},
        {"path": f"{tmp_path}/d/e", "state": "directory"},
        {"path": f"{tmp_path}/d/e/f", "content": "x"},
    ]
    changed, _kept, _diffs = converge(entries, check_mode=True)
    assert len(changed) == 3
    assert not (tmp_path / "d").exists()


def test_unknown_owner_is_a_change_in_check_mode_only(tmp_path):
    entry = {"path": f"{tmp_path}/a", "content": "x", "owner": "no-such-user-here"}
    assert converge([entry], check_mode=True)[0] == [f"{tmp_path}/a"]
    with pytest.raises(HostFilesError, match="owner 'no-such-user-here' is not a user"):
        check_entries([entry])


BAD = {
    "relative path": (
        {"path": "etc/a", "content": "x"},
        "path 'etc/a' is not an absolute, normalised path",
    ),
    "dotted path": (
        {"path": "/etc/../a", "content": "x"},
        "path '/etc/../a' is not an absolute, normalised path",
    ),
    "bad mode": (
        {"path": "{root}/a", "content": "x", "mode": "0999"},
        "mode '0999' is not an octal mode such as '0644'",
    ),
    "symbolic mode": (
        {"path": "{root}/a", "content": "x", "mode": "u+x"},
        "mode 'u+x' is not an octal mode such as '0644'",
    ),
    "no content": ({"path": "{root}/a"}, "a file needs content or secret_content"),
    "content on a dir": (
        {"path": "{root}/d", "state": "directory", "content": "x"},
        "content is only for files, not state 'directory'",
    ),
    "link without src": ({"path": "{root}/l", "state": "link"}, "a link needs src"),
    "src on a file": (
        {"path": "{root}/a", "content": "x", "src": "/x"},
        "src is only for links, not state 'file'",
    ),
    "missing parent": (
        {"path": "{root}/nope/a", "content": "x"},
        "the directory {root}/nope does not exist",
    ),
    "file over a directory": ({"path": "{root}/sub", "content": "x"}, "{root}/sub is a directory"),
    "directory over a file": (
        {"path": "{root}/plain", "state": "directory"},
        "{root}/plain exists and is not a directory",
    ),
    "removing a directory": (
        {"path": "{root}/sub", "state": "absent"},
        "{root}/sub is a directory; only files and links are removed",
    ),
    "required source missing": (
        {"path": "{root}/l", "state": "link", "src": "/no/such/zone", "require_src": True},
        "/no/such/zone does not exist",
    ),
    "create on a directory": (
        {"path": "{root}/d", "state": "directory", "create": False},
        "create is only for files, not state 'directory'",
    ),
    "unknown group": (
        {"path": "{root}/a", "content": "x", "group": "no-such-grp"},
        "group 'no-such-grp' is not a group on this host",
    ),
}


@pytest.mark.parametrize(("entry", "message"), BAD.values(), ids=BAD.keys())
def test_bad_entries_are_named(tmp_path, entry, message):
    (tmp_path / "sub").mkdir()
    (tmp_path / "plain").write_text("x")
    entry = {k: v.format(root=tmp_path) if isinstance(v, str) else v for k, v in entry.items()}
    with pytest.raises(HostFilesError) as caught:
        check_entries([entry])
    assert caught.value.problems == [f"files[0] ({entry['path']}): {message.format(root=tmp_path)}"]


def test_every_problem_at_once_and_nothing_changed(tmp_path):
    entries = [
        {"path": f"{tmp_path}/good", "content": "x"},
        {"path": f"{tmp_path}/a", "content": "x", "mode": "9"},
        {"path": f"{tmp_path}/good", "content": "y"},
        {
            "path": "/etc/localtime",
            "state": "link",
            "src": "/usr/share/zoneinfo/Mars/Olympus",
            "require_src": True,
            "label": "common_timezone",
        },
    ]
    with pytest.raises(HostFilesError) as caught:
        check_entries(entries)
    assert caught.value.problems == [
        f"files[1] ({tmp_path}/a): mode '9' is not an octal mode such as '0644'",
        f"files[2] ({tmp_path}/good): path '{tmp_path}/good' is named twice",
        "common_timezone: /usr/share/zoneinfo/Mars/Olympus does not exist",
    ]
    assert list(tmp_path.iterdir()) == []


def test_removing_what_is_absent_changes_nothing(tmp_path):
    assert converge([{"path": f"{tmp_path}/gone", "state": "absent"}]) == ([], [], [])


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "a.conf"
    target.write_text("old\n")

    def refuse(*args, **kwargs):
        raise OSError(13, "Permission denied", str(target))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ApplyError, match="Permission denied") as failed:
        converge([{"path": str(target), "content": "new\n"}])
    assert failed.value.path == str(target)
    assert failed.value.applied == []
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.conf"]


def test_create_false_keeps_an_existing_file_and_leaves_a_missing_one_missing(tmp_path):
    (tmp_path / "old.yaml").write_text("kind: Pool\n")
    os.chmod(tmp_path / "old.yaml", 0o644)
    entries = [
        {"path": f"{tmp_path}/old.yaml", "content": "", "mode": "0600", "create": False},
        {"path": f"{tmp_path}/gone.yaml", "content": "", "create": False},
        # Not even its directory has to exist.
        {"path": f"{tmp_path}/nodir/x.yaml", "content": "", "create": False},
    ]
    changed, _kept, _diffs = converge(entries)
    assert changed == [f"{tmp_path}/old.yaml"]
    assert tree(tmp_path) == {f"{tmp_path}/old.yaml": ("file", "0o600", "")}
    assert converge(entries)[0] == []
