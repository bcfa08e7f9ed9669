# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write files of the offline plan on the controller, in-process (no module is executed)."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

from ansible_collections.spitikos.homelab.plugins.module_utils._host_files import replace_file

ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    "files": {"type": "dict", "required": True},
}
FILE_MODE = 0o644
DIR_MODE = 0o755


def check_files(files):
    """Return {relative path: text} for ``files``, or raise listing every bad entry.

    A path may start with ``/`` (a host path, placed under the destination); it may not climb
    out of the destination or be empty. Every content must be text.
    """
    problems = []
    checked = {}
    for raw_path, content in files.items():
        path = str(raw_path)
        parts = path.strip("/").split("/")
        if not path.strip("/") or any(part in ("", ".", "..") for part in parts):
            problems.append(f"files: path '{path}' must name a file below dest, without '..'")
            continue
        if not isinstance(content, str):
            problems.append(
                f"files['{path}'] must be text, got {type(content).__name__}"
                " (render it with the template lookup or to_json first)"
            )
            continue
        relative = "/".join(parts)
        if relative in checked:
            problems.append(f"files: path '{path}' is given twice")
            continue
        checked[relative] = content
    if problems:
        raise ValueError(problems)
    return checked


def read_text(path):
    """The current text of ``path``, or None when it is missing or not a regular file."""
    try:
        with open(path, "rb") as handle:
            return to_text(handle.read(), errors="surrogate_or_strict")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def write_text(path, content):
    """Write ``content`` to ``path`` atomically (a temporary file renamed over it)."""
    os.makedirs(os.path.dirname(path), mode=DIR_MODE, exist_ok=True)
    replace_file(
        path,
        to_bytes(content, errors="surrogate_or_strict"),
        lambda temporary: os.chmod(temporary, FILE_MODE),
        prefix=".plan-",
    )


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        dest = args["dest"]
        try:
            files = check_files(args["files"])
        except ValueError as exc:
            raise AnsibleActionFail("; ".join(exc.args[0])) from None
        if os.path.exists(dest) and not os.path.isdir(dest):
            raise AnsibleActionFail(f"dest '{dest}' exists and is not a directory")

        in_the_way = [r for r in sorted(files) if os.path.isdir(os.path.join(dest, r))]
        if in_the_way:
            raise AnsibleActionFail(
                "files: these paths are directories below dest: " + ", ".join(in_the_way)
            )

        changed = []
        diffs = []
        for relative in sorted(files):
            path = os.path.join(dest, relative)
            before = read_text(path)
            content = files[relative]
            if before == content:
                continue
            changed.append(relative)
            if self._task.diff:
                diffs.append(
                    {
                        "before_header": path if before is not None else "(absent)",
                        "after_header": path,
                        "before": before or "",
                        "after": content,
                    }
                )
            if not self._task.check_mode:
                write_text(path, content)

        result.update(changed=bool(changed), dest=dest, written=changed, files=len(files))
        if diffs:
            result["diff"] = diffs
        return result
