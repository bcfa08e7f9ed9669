#!/usr/bin/python
# Copyright (c) spitikos.homelab contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudflare_dns_records
short_description: Manage the DNS records of a Cloudflare zone as one desired set
version_added: 0.1.0
description:
  - Makes a Cloudflare zone hold the given DNS records, marking the records it writes with an
    ownership marker (C(managed by spitikos.homelab)) in their comment.
  - Records without the marker are never changed or deleted. A desired record whose name is taken
    by such a record (same type, or a CNAME on either side) is an error that names both records;
    nothing is changed then.
  - An owned record whose content changes is updated in place by its id, never duplicated. Text
    a person wrote beside the marker in the comment is kept.
  - All changes to the zone go in one batch request (several when more than 200 operations are
    needed). An unchanged run makes two requests, the zone lookup and one listing of the records
    (one per 5000 records).
  - With O(policy=sync), owned records that are no longer in O(records) are deleted as well.
author:
  - spitikos maintainers (@spitikos)
extends_documentation_fragment:
  - spitikos.homelab._cloudflare_auth
  - spitikos.homelab._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details:
      - One before/after pair per record created, updated or deleted.
  idempotent:
    support: full
options:
  zone:
    description:
      - The zone, by name (V(example.com)) or by id.
    type: str
    required: true
  records:
    description:
      - The records the zone should hold, all inside O(zone).
      - An empty list with O(policy=sync) deletes every owned record of the zone.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Fully qualified name of the record (V(api.example.com)), or V(@) for the zone apex.
        type: str
        required: true
      type:
        description:
          - Record type.
        type: str
        required: true
        choices: [A, AAAA, CNAME, MX, NS, PTR, TXT]
      content:
        description:
          - Address, target host name or text of the record.
        type: str
        required: true
      proxied:
        description:
          - Whether Cloudflare proxies the traffic (orange cloud). Only A, AAAA and CNAME.
          - Unset leaves an existing record's value alone; new records are not proxied.
        type: bool
      ttl:
        description:
          - Time to live in seconds, V(1) meaning automatic. Proxied records always use V(1).
          - Unset leaves an existing record's value alone; new records get V(1).
        type: int
      priority:
        description:
          - Priority of an MX record (required for MX, refused for other types).
        type: int
      comment:
        description:
          - Text to keep beside the ownership marker in the record's comment.
          - A comment that already ends with the marker (V(service api; managed by
            spitikos.homelab), as the catalogue plan writes them) is taken without it; the
            marker anywhere else is an error.
          - Unset leaves the text of an existing owned record alone; V('') removes it.
        type: str
      tags:
        description:
          - Tags of the record (C(name:value)); compared in any order.
          - Unset leaves an existing record's tags alone.
          - Cloudflare supports tags on paid plans only.
        type: list
        elements: str
  policy:
    description:
      - V(upsert-only) creates and updates owned records and deletes nothing, except an owned
        record that must make way for a desired one at the same name (a CNAME replacing A records,
        for example).
      - V(sync) also deletes owned records that are not in O(records).
    type: str
    choices: [upsert-only, sync]
    default: upsert-only
notes:
  - To hand an existing record over to this module, add C(managed by spitikos.homelab) to its
    comment in the Cloudflare dashboard.
seealso:
  - module: spitikos.homelab.cloudflare_dns_records_info
  - module: spitikos.homelab.cloudflare_tunnel
"""

EXAMPLES = r"""
- name: Point the public services at the tunnel, the LAN ones at the ingress address
  spitikos.homelab.cloudflare_dns_records:
    zone: example.com
    records:
      - name: api.example.com
        type: CNAME
        content: 6ff42ae2-765d-4adf-8112-31c55c1551ef.cfargotunnel.com
        proxied: true
      - name: grafana.example.com
        type: A
        content: 10.0.0.200
        proxied: false
        comment: LAN only
  delegate_to: localhost

- name: Also remove owned records that left the catalogue
  spitikos.homelab.cloudflare_dns_records:
    zone: example.com
    policy: sync
    records: "{{ homelab_dns_records }}"
  delegate_to: localhost
"""

RETURN = r"""
zone:
  description: The zone the records belong to.
  returned: success
  type: dict
  contains:
    id:
      description: Zone id.
      type: str
      sample: 023e105f4ecef8ad9ca31a8372d0c353
    name:
      description: Zone name.
      type: str
      sample: example.com
records:
  description:
    - The desired records as they are after the run, in the order given.
    - In check mode, the predicted records; records still to be created have no id.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Record id (null for a record check mode would create).
      type: str
    name:
      description: Fully qualified record name.
      type: str
    type:
      description: Record type.
      type: str
    content:
      description: Record content.
      type: str
    proxied:
      description: Whether the record is proxied (A, AAAA and CNAME only).
      type: bool
    ttl:
      description: Time to live, 1 meaning automatic.
      type: int
    priority:
      description: MX priority.
      type: int
    comment:
      description: The comment, ownership marker included.
      type: str
    tags:
      description: Tags, sorted.
      type: list
      elements: str
    owned:
      description: Whether the record carries the ownership marker.
      type: bool
  sample:
    - id: 372e67954025e0ba6aaa6d586b9e0b59
      name: api.example.com
      type: CNAME
      content: 6ff42ae2-765d-4adf-8112-31c55c1551ef.cfargotunnel.com
      proxied: true
      ttl: 1
      comment: managed by spitikos.homelab
      tags: []
      owned: true
changes:
  description: What was (or in check mode would be) created, updated and deleted.
  returned: success
  type: dict
  contains:
    created:
      description: Records created, as C(name type content).
      type: list
      elements: str
    updated:
      description: Records updated in place, as C(name type content) after the update.
      type: list
      elements: str
    deleted:
      description: Records deleted, as C(name type content).
      type: list
      elements: str
  sample:
    created: [api.example.com CNAME 6ff42ae2-765d-4adf-8112-31c55c1551ef.cfargotunnel.com]
    updated: []
    deleted: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spitikos.homelab.plugins.module_utils._cloudflare import (
    carry_out_dns_plan,
    cloudflare_argument_spec,
    run_module,
)
from ansible_collections.spitikos.homelab.plugins.module_utils._reconcile import (
    POLICIES,
    RECORD_TYPES,
    InputError,
    normalize_desired_records,
    plan_dns_changes,
    record_from_api,
)


def argument_spec():
    spec = cloudflare_argument_spec()
    spec.update(
        zone={"type": "str", "required": True},
        records={
            "type": "list",
            "elements": "dict",
            "required": True,
            "options": {
                "name": {"type": "str", "required": True},
                "type": {"type": "str", "required": True, "choices": list(RECORD_TYPES)},
                "content": {"type": "str", "required": True},
                "proxied": {"type": "bool"},
                "ttl": {"type": "int"},
                "priority": {"type": "int"},
                "comment": {"type": "str"},
                "tags": {"type": "list", "elements": "str"},
            },
        },
        policy={"type": "str", "choices": list(POLICIES), "default": "upsert-only"},
    )
    return spec


def run(module, client):
    zone = client.get_zone(module.params["zone"])
    desired, errors = normalize_desired_records(module.params["records"], zone["name"])
    if errors:
        raise InputError(f"Invalid records for zone {zone['name']}: " + "; ".join(errors), errors)
    current = [record_from_api(r) for r in client.list_dns_records(zone["id"], zone["name"])]
    plan = plan_dns_changes(current, desired, module.params["policy"])
    return carry_out_dns_plan(module, client, zone, plan)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
