"""spitikos.homelab.homelab_files through ansible-playbook, on the local host.

Bad input, check mode, a real run, an unchanged re-run, diff mode and the secret kept out of the
output even at -vvv: the rhythm every module of the collection follows.
"""

from __future__ import annotations

import os
import stat

import pytest

SECRET = "s3cret-join-token-4711"


@pytest.fixture
def run_files(run_task):
    """Run one homelab_files task with ``files``; returns (returncode, task result, output)."""

    def run(files, *flags):
        return run_task("spitikos.homelab.homelab_files", {"files": files}, *flags)

    return run


def snapshot(root):
    found = {}
    for path in sorted(root.rglob("*")):
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            found[path.name] = ("link", os.readlink(path))
        elif stat.S_ISREG(info.st_mode):
            found[path.name] = (oct(stat.S_IMODE(info.st_mode)), path.read_text())
        else:
            found[path.name] = ("dir", oct(stat.S_IMODE(info.st_mode)))
    return found


def service_files(root):
    return [
        {"path": str(root / "etc"), "state": "directory", "mode": "0755"},
        {"path": str(root / "etc" / "config.yaml"), "content": "a: 1\n", "mode": "0644"},
        {"path": str(root / "etc" / "env"), "secret_content": f"TOKEN={SECRET}\n", "mode": "0600"},
        {"path": str(root / "kubectl"), "state": "link", "src": "/bin/true", "keep_files": True},
    ]


def test_bad_input_names_each_entry_and_changes_nothing(run_files, tmp_path):
    root = tmp_path / "host"
    root.mkdir()
    rc, result, output = run_files(
        [
            {"path": str(root / "ok"), "content": "x"},
            {"path": str(root / "missing" / "a"), "content": "x"},
            {"path": str(root / "b"), "content": "x", "mode": "rw"},
        ]
    )
    assert rc != 0, output
    assert result["problems"] == [
        f"files[1] ({root}/missing/a): the directory {root}/missing does not exist",
        f"files[2] ({root}/b): mode 'rw' is not an octal mode such as '0644'",
    ]
    assert list(root.iterdir()) == []


def test_content_and_secret_content_are_exclusive(run_files, tmp_path):
    rc, result, output = run_files(
        [{"path": str(tmp_path / "a"), "content": "x", "secret_content": "not-this-one"}]
    )
    assert rc != 0, output
    assert not (tmp_path / "a").exists()
    assert "mutually exclusive: content|secret_content" in result["msg"]


def test_check_create_rerun_and_diff(run_files, tmp_path):
    root = tmp_path / "host"
    root.mkdir()

    rc, result, output = run_files(service_files(root), "--check", "--diff")
    assert rc == 0, output
    assert result["changed"] is True
    assert result["changed_paths"] == [f["path"] for f in service_files(root)]
    assert list(root.iterdir()) == []

    rc, result, output = run_files(service_files(root))
    assert rc == 0, output
    assert result["changed"] is True
    assert snapshot(root) == {
        "etc": ("dir", "0o755"),
        "config.yaml": ("0o644", "a: 1\n"),
        "env": ("0o600", f"TOKEN={SECRET}\n"),
        "kubectl": ("link", "/bin/true"),
    }

    rc, result, output = run_files(service_files(root), "--diff")
    assert rc == 0, output
    assert result["changed"] is False
    assert result["changed_paths"] == []

    changed = service_files(root)
    changed[1]["content"] = "a: 2\n"
    changed[2]["secret_content"] = "TOKEN=another-secret-0815\n"
    rc, result, output = run_files(changed, "--diff")
    assert rc == 0, output
    assert result["changed_paths"] == [changed[1]["path"], changed[2]["path"]]
    assert result["diff"][0]["before"] == "a: 1\n"
    assert result["diff"][0]["after"] == "a: 2\n"
    assert result["diff"][1]["before"] == "(secret content, not shown: old)\n"
    assert result["diff"][1]["after"] == "(secret content, not shown: new)\n"
    assert "another-secret-0815" not in output
    assert SECRET not in output


def test_the_secret_stays_out_of_verbose_output(run_files, tmp_path):
    root = tmp_path / "host"
    root.mkdir()
    rc, _result, output = run_files(service_files(root), "--diff", "-vvv")
    assert rc == 0, output
    assert "TOKEN=" not in output
    assert SECRET not in output
    assert (root / "etc" / "env").read_text() == f"TOKEN={SECRET}\n"


def test_a_file_kept_in_place_of_a_link_is_reported(run_files, tmp_path):
    root = tmp_path / "host"
    root.mkdir()
    (root / "kubectl").write_text("a kubectl of its own\n")
    rc, result, output = run_files(service_files(root))
    assert rc == 0, output
    assert result["kept_paths"] == [str(root / "kubectl")]
    assert (root / "kubectl").read_text() == "a kubectl of its own\n"


def test_held_entries_are_compared_but_left_for_a_later_task(run_files, tmp_path):
    root = tmp_path / "host"
    root.mkdir()
    (root / "pool.yaml").write_text("old pool\n")
    (root / "same.yaml").write_text("same\n")
    files = [
        {"path": str(root / "chart.yaml"), "content": "chart\n"},
        {"path": str(root / "pool.yaml"), "content": "new pool\n", "hold": True},
        {"path": str(root / "same.yaml"), "content": "same\n", "hold": True},
        {"path": str(root / "issuer.yaml"), "content": "issuer\n", "hold": True},
    ]
    rc, result, output = run_files(files)
    assert rc == 0, output
    assert result["changed_paths"] == [str(root / "chart.yaml")]
    assert result["held_paths"] == [str(root / "pool.yaml"), str(root / "issuer.yaml")]
    assert sorted(p.name for p in root.iterdir()) == ["chart.yaml", "pool.yaml", "same.yaml"]
    assert (root / "pool.yaml").read_text() == "old pool\n"

    # Held entries that match the host: no change, nothing held.
    (root / "pool.yaml").write_text("new pool\n")
    (root / "issuer.yaml").write_text("issuer\n")
    rc, result, output = run_files(files)
    assert rc == 0, output
    assert result["changed"] is False
    assert result["held_paths"] == []


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        # YAML reads an unquoted 0644 as the integer 420: the mode itself, as Ansible's file does.
        (420, 0o644),
        (0o600, 0o600),
        ("0640", 0o640),
        ("755", 0o755),
    ],
)
def test_modes_follow_ansible_rules_for_integers_and_strings(run_files, tmp_path, mode, expected):
    target = tmp_path / "file"
    rc, result, output = run_files([{"path": str(target), "content": "x\n", "mode": mode}])
    assert rc == 0, output
    assert stat.S_IMODE(target.stat().st_mode) == expected
    rc, result, output = run_files([{"path": str(target), "content": "x\n", "mode": mode}])
    assert rc == 0, output
    assert result["changed"] is False


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("u=rw", "mode 'u=rw' is not an octal mode such as '0644'"),
        ("0999", "mode '0999' is not an octal mode such as '0644'"),
        (70000, "mode 70000 is out of range; quote an octal mode such as '0644'"),
        (True, "mode True is not a mode; quote an octal mode such as '0644'"),
    ],
)
def test_bad_modes_are_refused_by_name(run_files, tmp_path, mode, message):
    target = tmp_path / "file"
    rc, result, output = run_files([{"path": str(target), "content": "x\n", "mode": mode}])
    assert rc != 0, output
    assert result["problems"] == [f"files[0] ({target}): {message}"]
    assert not target.exists()


def test_a_failure_part_way_reports_what_was_applied(run_files, tmp_path):
    """The first entry is written, the second fails as it is applied (no file can be made in
    /proc, even by root): the task fails, yet reports the first as changed and names the second."""
    written = tmp_path / "written.conf"
    refused = "/proc/spitikos-homelab-test.conf"
    rc, result, output = run_files(
        [
            {"path": str(written), "content": "a: 1\n", "mode": "0644"},
            {"path": refused, "content": "b: 2\n", "label": "the refused file"},
        ]
    )
    assert rc != 0, output
    assert result["changed"] is True
    assert result["changed_paths"] == [str(written)]
    assert result["failed_path"] == refused
    assert result["msg"].startswith("the refused file: ")
    assert written.read_text() == "a: 1\n"
