#!/usr/bin/python
# Copyright (c) spitikos.homelab contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudflare_dns_records_info
short_description: List the DNS records of a Cloudflare zone
version_added: 0.1.0
description:
  - Returns the DNS records of one zone, optionally only one name, one type, or only the records
    that carry the ownership marker of M(spitikos.homelab.cloudflare_dns_records).
author:
  - spitikos maintainers (@spitikos)
extends_documentation_fragment:
  - spitikos.homelab._cloudflare_auth
  - spitikos.homelab._attributes
  - spitikos.homelab._attributes.INFO_MODULE
options:
  zone:
    description:
      - The zone, by name (V(example.com)) or by id.
    type: str
    required: true
  name:
    description:
      - Only records with this fully qualified name.
    type: str
  type:
    description:
      - Only records of this type.
    type: str
    choices: [A, AAAA, CNAME, MX, NS, PTR, TXT, CAA, SRV, HTTPS, SVCB, URI]
  owned_only:
    description:
      - Only records that carry the ownership marker.
    type: bool
    default: false
seealso:
  - module: spitikos.homelab.cloudflare_dns_records
"""

EXAMPLES = r"""
- name: Records this collection manages in the zone
  spitikos.homelab.cloudflare_dns_records_info:
    zone: example.com
    owned_only: true
  delegate_to: localhost
  register: owned

- name: What points at api.example.com
  spitikos.homelab.cloudflare_dns_records_info:
    zone: example.com
    name: api.example.com
  delegate_to: localhost
"""

RETURN = r"""
zone:
  description: The zone.
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
  description: The records found, sorted by name, type and content.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Record id.
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
      description: Whether the record is proxied.
      type: bool
    ttl:
      description: Time to live, 1 meaning automatic.
      type: int
    priority:
      description: MX priority, when the record has one.
      type: int
    comment:
      description: The record's comment (empty string when there is none).
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
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spitikos.homelab.plugins.module_utils._cloudflare import (
    cloudflare_argument_spec,
    run_module,
)
from ansible_collections.spitikos.homelab.plugins.module_utils._reconcile import (
    normalize_fqdn,
    public_record,
    record_from_api,
)

TYPES = ["A", "AAAA", "CNAME", "MX", "NS", "PTR", "TXT", "CAA", "SRV", "HTTPS", "SVCB", "URI"]


def argument_spec():
    spec = cloudflare_argument_spec()
    spec.update(
        zone={"type": "str", "required": True},
        name={"type": "str"},
        type={"type": "str", "choices": TYPES},
        owned_only={"type": "bool", "default": False},
    )
    return spec


def run(module, client):
    params = module.params
    zone = client.get_zone(params["zone"])
    found = client.list_dns_records(
        zone["id"], zone["name"], name=normalize_fqdn(params["name"]), rtype=params["type"]
    )
    records = [public_record(record_from_api(r)) for r in found]
    if params["owned_only"]:
        records = [r for r in records if r["owned"]]
    records.sort(key=lambda r: (r["name"], r["type"], r["content"] or ""))
    return {"changed": False, "zone": {"id": zone["id"], "name": zone["name"]}, "records": records}


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
