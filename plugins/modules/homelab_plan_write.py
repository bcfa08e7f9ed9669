# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds the documentation only: the work is done by the action plugin of the same
# name, on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: homelab_plan_write
short_description: Write files of the offline plan on the controller
version_added: 0.1.0
description:
  - Writes the given texts below a directory of the controller, in one task, creating the
    directories it needs. Used by C(playbooks/plan.yml) and the roles' C(plan.yml) task files,
    which render their files with the template lookup and hand them over here.
  - Runs in the controller's process; it never connects to a host, so a plan of a whole
    inventory costs one task per host instead of one module run per file.
  - A file whose text is already the same is left alone, so a second plan into the same
    directory reports no change.
  - Every bad entry of O(files) is reported at once, before anything is written.
options:
  dest:
    description:
      - The directory the paths of O(files) are relative to, on the controller.
    type: path
    required: true
  files:
    description:
      - The files to write, keyed by their path below O(dest). A leading C(/) is allowed (a
        path on a host, placed below O(dest)); C(..) and empty path components are refused.
      - Each value is the file's text.
    type: dict
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.conn
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  become:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Reports which files would change and writes nothing.
  connection:
    support: none
  delegation:
    support: none
    details: Writes on the controller whatever the delegation.
  diff_mode:
    support: full
  idempotent:
    description:
      - When run again with the same texts, the task reports no change.
    support: full
  platform:
    platforms: all
notes:
  - Files are written with mode C(0644) through a temporary file renamed over the old one;
    directories are created with mode C(0755).
  - Files present below O(dest) but not named in O(files) are left alone.
seealso:
  - module: spitikos.homelab.homelab_catalogue
author:
  - spitikos maintainers (@spitikos)
"""

EXAMPLES = r"""
- name: Write two rendered files into the plan directory of this host
  spitikos.homelab.homelab_plan_write:
    dest: "{{ plan_dir }}/hosts/{{ inventory_hostname }}"
    files:
      /etc/example/first.conf: "{{ lookup('ansible.builtin.template', 'first.conf.j2') }}"
      /etc/example/second.conf: "{{ lookup('ansible.builtin.template', 'second.conf.j2') }}"
"""

RETURN = r"""
dest:
  description: The directory the files were written below.
  returned: always
  type: str
  sample: /tmp/plan/hosts/pi1
files:
  description: How many files were given.
  returned: always
  type: int
  sample: 2
written:
  description: The paths (relative to O(dest)) whose text changed, or would change in check
    mode.
  returned: always
  type: list
  elements: str
  sample:
    - etc/example/first.conf
"""
