#!/usr/bin/python
# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds the documentation only: the work is done by the action plugin of the same
# name, on the controller, through the host's own connection (the router needs no Python).

from __future__ import annotations

DOCUMENTATION = r"""
---
module: openwrt_uci
short_description: Make an OpenWrt uci configuration hold the desired sections
version_added: 0.1.0
description:
  - Makes the uci configuration O(config) (a file under C(/etc/config)) on an OpenWrt router
    hold the given sections and options.
  - Runs on the controller and talks to the router over the host's own connection, so the
    router needs no Python; only C(uci) and C(/bin/sh). It reads the configuration with
    C(uci -X show), compares it on the controller, sends every change in one C(uci batch),
    reads the result back and commits once. When anything fails before the commit, the staged
    changes are reverted (C(uci revert)) and the file stays as it was.
  - Ownership. Named sections whose name starts with O(prefix), and anonymous sections this
    module created (they carry the option O(marker)), are the collection's. With O(purge), or
    O(sections[].state=absent), only those are deleted; sections made by hand are never changed
    unless a desired section names or matches them, and never deleted.
  - The module refuses to run while the configuration has uncommitted changes made by someone
    else (C(uci changes)), because its commit would publish them too.
  - The module does not reload services; notify a handler (for example
    C(/etc/init.d/dnsmasq reload)) when it reports a change.
author:
  - spitikos maintainers (@spitikos)
extends_documentation_fragment:
  - spitikos.homelab._attributes
attributes:
  check_mode:
    support: full
    details:
      - Reads the configuration and predicts the changes and the diff; changes nothing.
  diff_mode:
    support: full
    details:
      - Before and after are the configuration in C(uci show) form, anonymous sections shown
        as C(@type[n]).
  idempotent:
    support: full
options:
  config:
    description:
      - The uci configuration, for example V(dhcp). It must exist on the router.
    type: str
    required: true
  sections:
    description:
      - The desired sections. Sections of the configuration that are not listed are left alone,
        unless O(purge) is set and they are owned.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - The name of a named section (letters, digits and C(_)). Created when missing.
          - Give O(sections[].name) or O(sections[].match), not both.
        type: str
      type:
        description:
          - The section type, for example V(domain).
        type: str
        required: true
      match:
        description:
          - Identifies an anonymous section by the desired values of these options (for example
            V([name]) for a C(dhcp) C(domain)). The first section of O(sections[].type) whose
            options have those values is updated; when there is none, an anonymous section is
            added and marked with O(marker).
        type: list
        elements: str
      options:
        description:
          - Options of the section. A string, number or boolean sets an option (booleans become
            V(1) and V(0)); a list sets a list option; V(null), an empty string or an empty list
            removes the option (C(uci set) with an empty value deletes it).
          - A list of one element and a single option look the same in C(uci show) and are
            treated as equal.
        type: dict
        default: {}
      state:
        description:
          - V(absent) deletes the section if it is owned; a section made by hand is left in place
            with a warning.
        type: str
        choices: [present, absent]
        default: present
      replace:
        description:
          - Also remove options of the section that O(sections[].options) does not list (the
            ownership marker stays).
        type: bool
        default: false
  named:
    description:
      - Named sections in the form of the offline plan's C(hosts/<router>/uci/<config>.json),
        a mapping from section name to the section's options, with its type under the key
        C(.type).
      - Each becomes an entry of O(sections) with its name, the type from C(.type), the other
        keys as options, and O(sections[].replace=true).
    type: dict
    default: {}
  purge:
    description:
      - Delete owned sections that are not in O(sections) (limited to O(purge_types) when that
        is given). Sections made by hand are never deleted.
    type: bool
    default: false
  purge_types:
    description:
      - Section types O(purge) considers; empty means every type.
    type: list
    elements: str
    default: []
  prefix:
    description:
      - Named sections whose name starts with this text are owned by the collection.
      - An empty string makes no named section owned.
    type: str
    default: homelab_
  marker:
    description:
      - Option set to V(spitikos.homelab) on anonymous sections this module adds; it marks them
        as owned.
    type: str
    default: homelab_owner
notes:
  - Needs C(uci) and a POSIX shell on the target; no Python. Works over any connection that can
    run shell commands (C(ssh) with OpenWrt's dropbear, C(containers.podman.podman), ...).
  - Values cannot contain line breaks.
seealso:
  - name: The UCI system
    description: OpenWrt's documentation of uci and its configuration files.
    link: https://openwrt.org/docs/guide-user/base-system/uci
  - module: spitikos.homelab.openwrt_file
"""

EXAMPLES = r"""
- name: Answer LAN clients for the catalogue's hosts from the router's dnsmasq
  spitikos.homelab.openwrt_uci:
    config: dhcp
    sections:
      - name: homelab_api
        type: domain
        options:
          name: api.example.com
          ip: 10.0.0.200
        replace: true
    purge: true
    purge_types: [domain]
  notify: Reload dnsmasq

- name: Apply the uci sections of the offline plan
  spitikos.homelab.openwrt_uci:
    config: dhcp
    named: "{{ lookup('ansible.builtin.file', 'plan/hosts/gw/uci/dhcp.json') | from_json }}"
    purge: true
    purge_types: [domain]

- name: Keep an anonymous domain entry, found by its name
  spitikos.homelab.openwrt_uci:
    config: dhcp
    sections:
      - type: domain
        match: [name]
        options:
          name: printer.lan
          ip: 192.168.1.5

- name: Set options of an existing named section without owning it
  spitikos.homelab.openwrt_uci:
    config: dhcp
    sections:
      - name: lan
        type: dhcp
        options:
          leasetime: 12h
"""

RETURN = r"""
commands:
  description:
    - The C(uci batch) lines sent (in check mode, the lines that would be sent); the single
      C(uci commit) that follows is not listed.
  returned: always
  type: list
  elements: str
  sample:
    - "delete dhcp.homelab_old"
    - "set dhcp.homelab_api='domain'"
    - "set dhcp.homelab_api.name='api.example.com'"
    - "set dhcp.homelab_api.ip='10.0.0.200'"
pending:
  description: The uncommitted changes found on the router when the module refused to run.
  returned: failure, when the configuration had uncommitted changes
  type: list
  elements: str
remaining:
  description: The batch lines still needed after a batch that did not give the desired state.
  returned: failure
  type: list
  elements: str
"""
