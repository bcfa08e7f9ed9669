#!/usr/bin/python
# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: homelab_probe
short_description: Read what a role needs to know about a host, in one task
version_added: 0.1.0
description:
  - Runs read-only commands, reads files, asks systemd about units and looks up users and
    groups, all in one module run, and reports what it found. It never changes the host.
  - The roles of this collection ask each host once, at their start, and then run only the
    tasks whose work is not done yet, so that an unchanged re-run is quick.
options:
  commands:
    description:
      - Commands to run, by a name of your choosing, each given as its argument list (no
        shell). They must only read; the module does not check that they do.
      - A command that cannot be started reports return code 127.
    type: dict
    default: {}
  files:
    description:
      - Files to read. Set C(no_log) on the task when one of them holds a secret.
    type: list
    elements: path
    default: []
  services:
    description: systemd units to ask C(systemctl is-enabled) and C(systemctl is-active) about.
    type: list
    elements: str
    default: []
  users:
    description: User names to look up in the host's user database.
    type: list
    elements: str
    default: []
  groups:
    description: Group names to look up in the host's group database.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads, in check mode as in a real run.
  diff_mode:
    support: none
  idempotent:
    description:
      - The module never changes anything and always reports no change.
    support: full
  platform:
    platforms: posix
seealso:
  - module: ansible.builtin.slurp
  - module: ansible.builtin.getent
  - module: ansible.builtin.service_facts
author:
  - spitikos maintainers (@spitikos)
"""

EXAMPLES = r"""
- name: Look at the installed binary, its service and its token
  spitikos.homelab.homelab_probe:
    commands:
      version: [/usr/local/bin/example, --version]
    services: [example]
    files: [/etc/example/token]
    users: [example]
    groups: [example]
  register: example_probe
  no_log: true  # the token

- name: Start the service unless it runs already
  ansible.builtin.systemd_service:
    name: example
    enabled: true
    state: started
  when: >-
    example_probe.services.example.enabled != 'enabled'
    or example_probe.services.example.active != 'active'
"""

RETURN = r"""
commands:
  description: For each command, its return code and output.
  returned: always
  type: dict
  sample:
    version:
      rc: 0
      stdout: "example version 1.2.3\n"
      stderr: ""
files:
  description: For each file, whether it exists and its content, base64-encoded.
  returned: always
  type: dict
  sample:
    /etc/example/token:
      exists: true
      content: c2VjcmV0Cg==
services:
  description:
    - For each unit, what C(systemctl is-enabled) and C(systemctl is-active) print, such as
      V(enabled) or V(disabled), and V(active) or V(inactive); V(unknown) when it printed
      nothing (no such unit, or no systemctl).
  returned: always
  type: dict
  sample:
    example:
      enabled: enabled
      active: active
users:
  description: For each user, its entry, or null when there is no such user.
  returned: always
  type: dict
  sample:
    example:
      uid: 997
      gid: 997
      group: example
      home: /nonexistent
      shell: /usr/sbin/nologin
groups:
  description: For each group, its entry, or null when there is no such group.
  returned: always
  type: dict
  sample:
    example:
      gid: 997
"""

import base64
import grp
import pwd

from ansible.module_utils.basic import AnsibleModule


def run_command(module, argv):
    try:
        rc, out, err = module.run_command([str(part) for part in argv], handle_exceptions=False)
    except OSError as exc:
        return {"rc": 127, "stdout": "", "stderr": str(exc)}
    return {"rc": rc, "stdout": out, "stderr": err}


def read_file(path):
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return {"exists": False, "content": None}
    return {"exists": True, "content": base64.b64encode(data).decode("ascii")}


def unit_state(module, systemctl, unit):
    state = {}
    for question, key in (("is-enabled", "enabled"), ("is-active", "active")):
        _rc, out, _err = module.run_command([systemctl, question, unit])
        state[key] = out.strip().splitlines()[0] if out.strip() else "unknown"
    return state


def user_entry(name):
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    try:
        group = grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        group = None
    return {
        "uid": entry.pw_uid,
        "gid": entry.pw_gid,
        "group": group,
        "home": entry.pw_dir,
        "shell": entry.pw_shell,
    }


def group_entry(name):
    try:
        return {"gid": grp.getgrnam(name).gr_gid}
    except KeyError:
        return None


def main():
    module = AnsibleModule(
        argument_spec={
            "commands": {"type": "dict", "default": {}},
            "files": {"type": "list", "elements": "path", "default": []},
            "services": {"type": "list", "elements": "str", "default": []},
            "users": {"type": "list", "elements": "str", "default": []},
            "groups": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    params = module.params
    problems = [
        f"commands.{name}: give the command as a non-empty list of arguments"
        for name, argv in params["commands"].items()
        if not isinstance(argv, list) or not argv
    ]
    if problems:
        module.fail_json(msg="; ".join(problems), problems=problems)
    result = {
        "changed": False,
        "commands": {name: run_command(module, argv) for name, argv in params["commands"].items()},
        "files": {},
        "services": {},
        "users": {name: user_entry(name) for name in params["users"]},
        "groups": {name: group_entry(name) for name in params["groups"]},
    }
    for path in params["files"]:
        try:
            result["files"][path] = read_file(path)
        except OSError as exc:
            module.fail_json(msg=f"files: cannot read {path}: {exc.strerror or exc}")
    if params["services"]:
        systemctl = module.get_bin_path("systemctl")
        for unit in params["services"]:
            result["services"][unit] = (
                unit_state(module, systemctl, unit)
                if systemctl
                else {"enabled": "unknown", "active": "unknown"}
            )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
