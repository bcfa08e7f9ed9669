# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validate the service catalogue and return the derived plan (runs on the controller only)."""

from __future__ import annotations

import json

import yaml
from ansible.errors import AnsibleActionFail, AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.spitikos.homelab.plugins.module_utils._catalogue import (
    INVENTORY_GROUPS,
    SETTINGS,
    CatalogueError,
    build_plan,
    plan_files,
)
from ansible_collections.spitikos.homelab.plugins.plugin_utils._preflight import (
    inventory_problems,
)

MANIFEST_HEADER = (
    "# Managed by spitikos.homelab from homelab_services: local edits are overwritten.\n"
)

ARGUMENT_SPEC = {
    "settings": {"type": "dict", "default": {}},
    "files": {"type": "bool", "default": False},
    "vars_host": {"type": "str"},
    "check_roles": {"type": "bool", "default": False},
}


def render_file(fmt, data):
    """The text of one plan file: sorted keys, stable order, trailing newline."""
    if fmt == "json":
        return json.dumps(data, indent=2, sort_keys=True) + "\n"
    return MANIFEST_HEADER + yaml.safe_dump_all(
        data, default_flow_style=False, sort_keys=True, explicit_start=True, width=4096
    )


def _problems_message(problems):
    """The role variable problems in the catalogue error's layout; empty without problems."""
    if not problems:
        return ""
    count = len(problems)
    head = f"the role variables have {count} error{'s' if count != 1 else ''}"
    return "\n" + head + ":\n" + "\n".join(f"- {p}" for p in problems)


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        if task_vars is None:
            task_vars = {}
        result = super().run(tmp, task_vars)
        del tmp

        args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)[1]
        unknown = sorted(str(k) for k in args["settings"] if k not in SETTINGS)
        if unknown:
            result["failed"] = True
            result["msg"] = (
                f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(SETTINGS))}"
            )
            return result

        settings = self._read_settings(task_vars, args["vars_host"])
        settings.update(args["settings"])
        inventory = self._read_inventory(task_vars)

        role_problems = self._role_problems(task_vars) if args["check_roles"] else []
        try:
            plan = build_plan(settings, inventory)
        except CatalogueError as exc:
            result["failed"] = True
            result["errors"] = exc.errors + role_problems
            result["msg"] = str(exc) + _problems_message(role_problems)
            if exc.warnings:
                result["warnings"] = exc.warnings
            return result
        if role_problems:
            result["failed"] = True
            result["errors"] = role_problems
            result["msg"] = _problems_message(role_problems).lstrip("\n")
            return result

        # A JSON round trip leaves plain built-in types only (no templating wrappers).
        plan = json.loads(json.dumps(plan))
        result["changed"] = False
        result["homelab_plan"] = plan
        if plan["warnings"]:
            result["warnings"] = list(plan["warnings"])
        if args["files"]:
            result["homelab_plan_files"] = {
                path: render_file(fmt, data) for path, (fmt, data) in plan_files(plan).items()
            }
        return result

    def _read_settings(self, task_vars, vars_host):
        if vars_host:
            hostvars = task_vars.get("hostvars", {})
            if vars_host not in hostvars:
                raise AnsibleActionFail(f"vars_host '{vars_host}' is not a host of the inventory")
            source = hostvars[vars_host]
        else:
            source = task_vars
        settings = {}
        for name in SETTINGS:
            if name in source:
                settings[name] = self._templar.template(source[name])
        return settings

    def _role_problems(self, task_vars):
        """Every role variable of every host, checked against the roles' argument specs."""
        groups = {name: [str(h) for h in hosts] for name, hosts in task_vars["groups"].items()}
        hostvars = task_vars.get("hostvars") or {}

        def read(host, names):
            source = hostvars.get(host, task_vars)
            found = {}
            for name in names:
                if name in source:
                    try:
                        found[name] = json.loads(json.dumps(self._templar.template(source[name])))
                    except AnsibleError:
                        # It needs facts or a later play's results: the role checks it itself.
                        continue
            return found

        return inventory_problems(groups, read)

    def _read_inventory(self, task_vars):
        groups = task_vars.get("groups") or {}
        hostvars = task_vars.get("hostvars") or {}
        inventory = {"groups": {}, "hostvars": {}}
        for group in INVENTORY_GROUPS:
            inventory["groups"][group] = [str(h) for h in groups.get(group, [])]
        for host in inventory["groups"]["k3s_servers"]:
            if host in hostvars and "ansible_host" in hostvars[host]:
                address = self._templar.template(hostvars[host]["ansible_host"])
                inventory["hostvars"][host] = {"ansible_host": address}
        return inventory
