#!/usr/bin/python
# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds the documentation only: the work is done by the action plugin of the same
# name, on the controller, through the host's own connection (the host needs no Python).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: openwrt_file
short_description: Put a file on a host without Python, validated before it replaces the old one
version_added: 0.1.0
description:
  - Makes O(dest) on the host hold O(content) (or the controller file O(src)), for hosts that
    have a POSIX shell but no Python, such as OpenWrt routers.
  - Compares the SHA-256 checksum of the file on the host (C(sha256sum)) with the new content
    and does nothing when they are equal.
  - Otherwise writes the new content to a temporary file next to O(dest) (through the shell
    with C(printf), so neither sftp nor scp is needed), sets its mode and owner, runs
    O(validate) on it, and only when that succeeds backs up the old file (O(backup)) and moves
    the new one over it with C(mv), an atomic rename. When validation fails, the temporary file
    is removed, O(dest) is left exactly as it was and the task fails with the validator's
    output.
  - Reloading the service that reads the file is left to a handler.
author:
  - spitikos maintainers (@spitikos)
extends_documentation_fragment:
  - spitikos.homelab._attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the current file and reports the change and the diff; O(validate) does not run.
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  dest:
    description:
      - Absolute path of the file on the host. Its directory must exist.
    type: path
    required: true
  content:
    description:
      - The file's content. Give O(content) or O(src).
    type: str
  src:
    description:
      - A file on the controller whose bytes become the content (looked up like the C(files/)
        of a role).
    type: path
  validate:
    description:
      - Command run on the host to check the new file before it is put in place; C(%s) is
        replaced by the temporary file's path, for example V(haproxy -c -f %s).
      - A non-zero exit code keeps the old file and fails the task.
    type: str
  backup:
    description:
      - Keep a copy of the old file as C(DEST.YYYY-MM-DD@HH:MM:SS~) before replacing it.
    type: bool
    default: false
  mode:
    description:
      - Permissions as an octal string such as V('0644').
      - When unset, an existing file keeps its mode and a new file gets V('0644').
    type: raw
  owner:
    description:
      - Owner of the file. When unset, an existing file keeps its owner; a new one belongs to
        the connecting user.
    type: str
  group:
    description:
      - Group of the file. When unset, an existing file keeps its group.
    type: str
notes:
  - Needs C(sh), C(printf), C(ls), C(sha256sum), C(chmod), C(mv) and C(cat) on the host, all part
    of OpenWrt's busybox. Meant for text files such as configuration files.
seealso:
  - module: spitikos.homelab.openwrt_uci
  - module: ansible.builtin.copy
    description: The same job on hosts with Python.
"""

EXAMPLES = r"""
- name: Write HAProxy's configuration, checked by HAProxy on the router first
  spitikos.homelab.openwrt_file:
    dest: /etc/haproxy.cfg
    content: "{{ lookup('ansible.builtin.template', 'haproxy.cfg.j2') }}"
    validate: haproxy -c -f %s
    backup: true
    mode: "0644"
  notify: Reload haproxy

- name: Copy a file from the controller
  spitikos.homelab.openwrt_file:
    src: files/banner
    dest: /etc/banner
"""

RETURN = r"""
dest:
  description: The path of the file on the host.
  returned: always
  type: str
  sample: /etc/haproxy.cfg
checksum:
  description: SHA-256 of the new content.
  returned: always
  type: str
mode:
  description: The mode the file has (or would have, in check mode).
  returned: always
  type: str
  sample: "0644"
backup_file:
  description: Where the old file was copied.
  returned: when O(backup) is set and an old file was replaced
  type: str
  sample: /etc/haproxy.cfg.2026-05-09@10:20:30~
validate_stderr:
  description: What the validator printed on stderr when it refused the new file.
  returned: failure of O(validate)
  type: str
validate_stdout:
  description: What the validator printed on stdout when it refused the new file.
  returned: failure of O(validate)
  type: str
validate_rc:
  description: The validator's exit code when it refused the new file.
  returned: failure of O(validate)
  type: int
"""
