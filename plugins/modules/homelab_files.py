#!/usr/bin/python
# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: homelab_files
short_description: Keep a host's files, directories and links as given, in one task
version_added: 0.1.0
description:
  - Compares every entry of O(files) with the host and changes what differs, in one module run.
    The roles of this collection write all of a host's configuration with a single task, so an
    unchanged re-run asks each host once instead of once or more per file.
  - Every entry is checked before anything is changed; all bad entries are reported at once.
  - Files are written through a temporary file in the same directory, renamed over the old one.
options:
  files:
    description:
      - The entries, applied in the order given; a directory created by one entry may hold the
        files of later ones.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: The absolute, normalised path on the host.
        type: str
        required: true
      state:
        description:
          - V(file) writes O(files[].content) or O(files[].secret_content).
          - V(directory) creates the directory (not its parents).
          - V(link) makes O(files[].path) a symbolic link to O(files[].src).
          - V(absent) removes a file or link; a directory is refused.
        type: str
        choices: [file, directory, link, absent]
        default: file
      content:
        description: The text of a file.
        type: str
      secret_content:
        description:
          - The text of a file that holds a secret. It is kept out of logs and diffs, which
            only say that it changed.
        type: str
      mode:
        description:
          - The permissions, as an octal string such as V('0644'), or as an integer, which is
            the mode itself, as in M(ansible.builtin.file). An unquoted C(0644) in YAML is read
            as the integer 420, which is mode 0644. Symbolic modes are refused.
          - Not given, an existing file keeps its mode and a new one gets the umask's default.
        type: raw
      owner:
        description: The owning user's name. Not given, left as it is.
        type: str
      group:
        description: The owning group's name. Not given, left as it is.
        type: str
      src:
        description: Where a link points.
        type: str
      require_src:
        description: Refuse a link whose O(files[].src) does not exist.
        type: bool
        default: false
      create:
        description:
          - For a file, V(false) leaves a missing file missing and only keeps the content and
            attributes of an existing one.
        type: bool
        default: true
      hold:
        description:
          - Compare the entry but do not change it. A path that differs is reported in
            RV(held_paths) instead, for a later task to write, for example once a service that
            validates the file is ready. A held entry does not make the task changed.
        type: bool
        default: false
      keep_files:
        description:
          - For a link, leave a regular file found at O(files[].path) alone (it is reported in
            RV(kept_paths)) rather than replacing it with the link.
        type: bool
        default: false
      label:
        description:
          - Names the entry in error messages, for example the variable it comes from.
            Defaults to its index and path.
        type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: >-
      Reports what would change and changes nothing. An O(files[].owner) or O(files[].group)
      that does not exist yet counts as a change then, since an earlier task of a real run
      would have created it.
  diff_mode:
    support: full
    details: >-
      One diff per changed entry: the old and new text of a file, or the old and new type,
      mode, owner and link target.
  idempotent:
    description:
      - When run again with the same entries, the task reports no change.
    support: full
  platform:
    platforms: posix
notes:
  - Text is written as UTF-8. SELinux contexts and extended attributes are not managed.
seealso:
  - module: ansible.builtin.copy
  - module: ansible.builtin.file
author:
  - spitikos maintainers (@spitikos)
"""

EXAMPLES = r"""
- name: Write a service's directory, configuration, secret and unit at once
  spitikos.homelab.homelab_files:
    files:
      - path: /etc/example
        state: directory
        owner: root
        group: root
        mode: "0755"
      - path: /etc/example/config.yaml
        content: "{{ lookup('ansible.builtin.template', 'config.yaml.j2') }}"
        mode: "0644"
      - path: /etc/example/token
        secret_content: "{{ example_token }}\n"
        mode: "0600"
      - path: /usr/local/bin/example-ctl
        state: link
        src: /usr/local/bin/example
        keep_files: true
  register: example_files
  notify: Restart example
"""

RETURN = r"""
changed_paths:
  description:
    - The paths that changed, or would change in check mode, in the order given.
    - When an entry fails to apply, the paths changed before it (and C(changed) is true when
      there are any).
  returned: always
  type: list
  elements: str
  sample:
    - /etc/example/config.yaml
failed_path:
  description: The path of the entry that failed to apply; the entries after it were not tried.
  returned: failure while applying
  type: str
  sample: /etc/example/example.conf
held_paths:
  description: Paths of O(files[].hold) entries that differ from the host, left as they are.
  returned: always
  type: list
  elements: str
  sample:
    - /etc/example/pool.yaml
kept_paths:
  description: Paths of O(files[].keep_files) links left alone because a regular file is there.
  returned: always
  type: list
  elements: str
  sample:
    - /usr/local/bin/example-ctl
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spitikos.homelab.plugins.module_utils._host_files import (
    ApplyError,
    HostFilesError,
    apply_changes,
    check_entries,
    plan_entries,
)

ENTRY = {
    "path": {"type": "str", "required": True},
    "state": {
        "type": "str",
        "choices": ["file", "directory", "link", "absent"],
        "default": "file",
    },
    "content": {"type": "str"},
    "secret_content": {"type": "str", "no_log": True},
    "mode": {"type": "raw"},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "src": {"type": "str"},
    "require_src": {"type": "bool", "default": False},
    "create": {"type": "bool", "default": True},
    "hold": {"type": "bool", "default": False},
    "keep_files": {"type": "bool", "default": False},
    "label": {"type": "str"},
}


def main():
    module = AnsibleModule(
        argument_spec={
            "files": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": ENTRY,
                "mutually_exclusive": [("content", "secret_content")],
            },
        },
        supports_check_mode=True,
    )
    try:
        entries = check_entries(module.params["files"], check_mode=module.check_mode)
        planned, kept = plan_entries(entries)
    except HostFilesError as exc:
        module.fail_json(msg=str(exc), problems=exc.problems)
    changes = [change for change in planned if not change["entry"]["hold"]]
    held = [change["entry"]["path"] for change in planned if change["entry"]["hold"]]
    if not module.check_mode:
        try:
            apply_changes(changes)
        except ApplyError as exc:
            # The entries applied before the failing one are reported as changed, by path.
            module.fail_json(
                msg=str(exc),
                changed=bool(exc.applied),
                changed_paths=exc.applied,
                failed_path=exc.path,
                held_paths=held,
                kept_paths=kept,
            )
    result = {
        "changed": bool(changes),
        "changed_paths": [change["entry"]["path"] for change in changes],
        "held_paths": held,
        "kept_paths": kept,
    }
    if module._diff:
        result["diff"] = [change["diff"] for change in changes]
    module.exit_json(**result)


if __name__ == "__main__":
    main()
