# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make a uci configuration hold the desired sections, with no Python on the router.

Runs on the controller; the router only runs ``uci`` through the host's own connection.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

from ansible_collections.spitikos.homelab.plugins.module_utils._uci import (
    DEFAULT_MARKER,
    DEFAULT_PREFIX,
    UciError,
    batch_lines,
    normalize_sections,
    parse_show,
    plan_changes,
    render_show,
)
from ansible_collections.spitikos.homelab.plugins.plugin_utils import _router_shell as router_shell

ARGUMENT_SPEC = {
    "config": {"type": "str", "required": True},
    "sections": {
        "type": "list",
        "elements": "dict",
        "default": [],
        "options": {
            "name": {"type": "str"},
            "type": {"type": "str", "required": True},
            "match": {"type": "list", "elements": "str"},
            "options": {"type": "dict", "default": {}},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "replace": {"type": "bool", "default": False},
        },
        "mutually_exclusive": [["name", "match"]],
        "required_one_of": [["name", "match"]],
    },
    "named": {"type": "dict", "default": {}},
    "purge": {"type": "bool", "default": False},
    "purge_types": {"type": "list", "elements": "str", "default": []},
    "prefix": {"type": "str", "default": DEFAULT_PREFIX},
    "marker": {"type": "str", "default": DEFAULT_MARKER},
}


def named_sections(named):
    """Sections in the plan's uci/<config>.json form ({name: {".type": t, option: value}})."""
    sections = []
    for name, body in (named or {}).items():
        body = dict(body or {})
        stype = body.pop(".type", None)
        if not stype:
            raise UciError(f"named section {name!r} has no '.type'")
        sections.append({"name": name, "type": stype, "options": body, "replace": True})
    return sections


class _Failure(Exception):
    def __init__(self, message, **details):
        super().__init__(message)
        self.details = details


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars or {})
        del tmp
        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        config = args["config"]
        try:
            if not config.replace("_", "").replace("-", "").isalnum():
                raise _Failure(f"config {config!r} is not a uci configuration name")
            sections = list(args["sections"]) + named_sections(args["named"])
            desired = normalize_sections(sections, args["prefix"], args["marker"])
            result.update(self._reconcile(config, desired, args))
        except (_Failure, UciError) as exc:
            result["failed"] = True
            result["msg"] = str(exc)
            result.update(getattr(exc, "details", {}))
        return result

    # -------------------------------------------------------------------------------------
    def _sh(self, command, stdin=None):
        """Run a shell command on the router (no Python there); returns rc, stdout, stderr."""
        return router_shell.run(self, command, stdin)

    def _show(self, config):
        rc, out, err = self._sh(f"uci -X show {config}")
        if rc != 0:
            if "Entry not found" in err or "Entry not found" in out:
                raise _Failure(
                    f"uci configuration {config!r} does not exist on the router "
                    f"(/etc/config/{config})"
                )
            raise _Failure(f"uci -X show {config} failed (rc {rc})", stdout=out, stderr=err)
        return parse_show(out, config)

    def _plan(self, config, desired, args, current):
        return plan_changes(
            current,
            desired,
            prefix=args["prefix"],
            marker=args["marker"],
            purge=args["purge"],
            purge_types=args["purge_types"],
        )

    def _reconcile(self, config, desired, args):
        rc, out, _stderr = self._sh(f"uci -q changes {config}")
        if rc == 0 and out.strip():
            raise _Failure(
                f"uci configuration {config!r} has uncommitted changes made outside this task; "
                f"commit or revert them first (uci changes {config})",
                pending=out.splitlines(),
            )
        current = self._show(config)
        operations, after, warnings = self._plan(config, desired, args, current)
        lines = batch_lines(config, operations)
        out = {"changed": bool(operations), "commands": lines}
        if warnings:
            out["warnings"] = warnings
        if self._task.diff and operations:
            out["diff"] = {
                "before_header": f"uci {config}",
                "after_header": f"uci {config}",
                "before": render_show(config, current),
                "after": render_show(config, after),
            }
        if not operations or self._task.check_mode:
            return out
        self._apply(config, desired, args, lines)
        return out

    def _apply(self, config, desired, args, lines):
        # The batch goes on stdin: as part of the command line, a catalogue of a hundred names
        # outgrows what dropbear runs (9000 bytes), and a thousand what Linux passes to ssh as
        # one argument (128 KiB).
        rc, out, err = self._sh("uci batch", stdin="\n".join(lines) + "\n")
        # uci batch reports errors on stderr and still exits 0: read the result back instead.
        try:
            if rc != 0 or err.strip():
                raise _Failure(
                    f"uci batch on {config!r} failed; the staged changes were reverted",
                    stdout=out,
                    stderr=err,
                )
            left = self._plan(config, desired, args, self._show(config))[0]
            if left:
                raise _Failure(
                    f"uci batch on {config!r} did not give the desired sections; the staged "
                    "changes were reverted",
                    remaining=batch_lines(config, left),
                    stderr=err,
                )
            rc, out, err = self._sh(f"uci commit {config}")
            if rc != 0:
                raise _Failure(f"uci commit {config} failed", stdout=out, stderr=err)
        except _Failure:
            self._sh(f"uci -q revert {config}")
            raise
