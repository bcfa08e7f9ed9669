"""The homelab_plan_write action plugin: texts in, files on the controller out."""

from __future__ import annotations

import stat
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.template import Templar

from ansible_collections.spitikos.homelab.plugins.action.homelab_plan_write import ActionModule


def run_write(dest, files, check_mode=False, diff=False):
    task = MagicMock()
    task.args = {"dest": str(dest), "files": files}
    task.async_val = 0
    task.check_mode = check_mode
    task.diff = diff
    task.action = "spitikos.homelab.homelab_plan_write"
    loader = DataLoader()
    action = ActionModule(
        task, MagicMock(), PlayContext(), loader, Templar(loader=loader), MagicMock()
    )
    return action.run(task_vars={})


def tree(root):
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_writes_host_paths_below_dest_and_reports_them(tmp_path):
    dest = tmp_path / "plan" / "hosts" / "pi1"
    result = run_write(
        dest, {"/etc/rancher/k3s/config.yaml": "a: 1\n", "etc/systemd/system/k3s.service": "x"}
    )
    assert result["changed"] is True
    assert result["written"] == ["etc/rancher/k3s/config.yaml", "etc/systemd/system/k3s.service"]
    assert tree(dest) == {
        "etc/rancher/k3s/config.yaml": "a: 1\n",
        "etc/systemd/system/k3s.service": "x",
    }
    mode = stat.S_IMODE((dest / "etc/rancher/k3s/config.yaml").stat().st_mode)
    assert mode == 0o644
    assert stat.S_IMODE((dest / "etc/rancher").stat().st_mode) == 0o755


def test_second_run_with_the_same_texts_changes_nothing(tmp_path):
    files = {"a/b.txt": "one\n", "c.txt": "two\n"}
    run_write(tmp_path, files)
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.txt")}
    result = run_write(tmp_path, files)
    assert result["changed"] is False
    assert result["written"] == []
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.txt")} == before


def test_only_the_changed_file_is_rewritten(tmp_path):
    run_write(tmp_path, {"a.txt": "one\n", "b.txt": "two\n"})
    result = run_write(tmp_path, {"a.txt": "one\n", "b.txt": "three\n"})
    assert result["written"] == ["b.txt"]
    assert tree(tmp_path) == {"a.txt": "one\n", "b.txt": "three\n"}


def test_check_mode_reports_and_writes_nothing(tmp_path):
    (tmp_path / "a.txt").write_text("old\n")
    result = run_write(tmp_path, {"a.txt": "new\n", "d/e.txt": "e\n"}, check_mode=True)
    assert result["changed"] is True
    assert result["written"] == ["a.txt", "d/e.txt"]
    assert tree(tmp_path) == {"a.txt": "old\n"}
    assert not (tmp_path / "d").exists()


def test_diff_mode_shows_before_and_after(tmp_path):
    (tmp_path / "a.txt").write_text("old\n")
    result = run_write(tmp_path, {"a.txt": "new\n", "b.txt": "b\n"}, diff=True)
    assert result["diff"] == [
        {
            "before_header": str(tmp_path / "a.txt"),
            "after_header": str(tmp_path / "a.txt"),
            "before": "old\n",
            "after": "new\n",
        },
        {
            "before_header": "(absent)",
            "after_header": str(tmp_path / "b.txt"),
            "before": "",
            "after": "b\n",
        },
    ]


def test_no_diff_without_diff_mode(tmp_path):
    assert "diff" not in run_write(tmp_path, {"a.txt": "new\n"})


def test_every_bad_entry_is_reported_and_nothing_is_written(tmp_path):
    files = {
        "good.txt": "fine\n",
        "../escape.txt": "x",
        "a/./b.txt": "x",
        "/": "x",
        "data.json": {"not": "text"},
        "/etc/twice.conf": "x",
        "etc/twice.conf": "y",
    }
    with pytest.raises(AnsibleActionFail) as failure:
        run_write(tmp_path / "plan", files)
    message = str(failure.value)
    assert "files: path '../escape.txt' must name a file below dest, without '..'" in message
    assert "files: path 'a/./b.txt' must name a file below dest, without '..'" in message
    assert "files: path '/' must name a file below dest, without '..'" in message
    assert "files['data.json'] must be text, got dict" in message
    assert "files: path 'etc/twice.conf' is given twice" in message
    assert not (tmp_path / "plan").exists()


def test_dest_that_is_a_file_is_refused(tmp_path):
    dest = tmp_path / "plan"
    dest.write_text("")
    with pytest.raises(AnsibleActionFail, match="exists and is not a directory"):
        run_write(dest, {"a.txt": "a"})


def test_a_directory_in_the_way_is_refused(tmp_path):
    (tmp_path / "a.txt").mkdir()
    with pytest.raises(AnsibleActionFail, match=r"these paths are directories below dest: a\.txt"):
        run_write(tmp_path, {"a.txt": "a"})
