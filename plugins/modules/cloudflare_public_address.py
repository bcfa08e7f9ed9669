#!/usr/bin/python
# Copyright (c) spitikos.homelab contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudflare_public_address
short_description: Keep Cloudflare A records on the home's current public IPv4 address
version_added: 0.1.0
description:
  - For homes without a static address. Finds the current public IPv4 address, from an address
    source (O(address_source)) or from O(address), and makes each of the given names hold one
    A record with it.
  - Only records that carry the ownership marker (C(managed by spitikos.homelab)) in their
    comment are updated. An A record or CNAME without the marker at one of the names is an
    error that names it; nothing is changed then. Records of other types at those names, and
    every other record of the zone, are left alone.
  - A missing record is created with the marker in its comment. An owned record is updated in
    place by its id; a second owned A record, or an owned CNAME, at one of the names is deleted.
  - The address must be a public IPv4 address; a private, shared (carrier-grade NAT), loopback,
    link-local, documentation or otherwise reserved address is refused with an error naming
    where it came from.
  - All changes go in one batch request. A run with nothing to change makes two API requests
    (the zone lookup and one listing of the zone's records), plus one request to the address
    source.
author:
  - spitikos maintainers (@spitikos)
extends_documentation_fragment:
  - spitikos.homelab._cloudflare_auth
  - spitikos.homelab._attributes
attributes:
  check_mode:
    support: full
    details:
      - The address source is still asked (a read); the API is only read.
  diff_mode:
    support: full
    details:
      - One before/after pair per record created, updated or deleted.
  idempotent:
    support: full
    details:
      - As long as the public address stays the same.
options:
  zone:
    description:
      - The zone, by name (V(example.com)) or by id.
    type: str
    required: true
  records:
    description:
      - The names that follow the public address, all inside O(zone).
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description:
          - Fully qualified name of the A record (V(home.example.com)), or V(@) for the zone
            apex. No wildcard.
        type: str
        required: true
      proxied:
        description:
          - Whether Cloudflare proxies the traffic (orange cloud).
          - Unset leaves an existing record's value alone; new records are not proxied.
        type: bool
      ttl:
        description:
          - Time to live in seconds, V(1) meaning automatic. A short TTL lets an address change
            reach resolvers sooner.
          - Unset leaves an existing record's value alone; new records get V(1).
        type: int
      comment:
        description:
          - Text to keep beside the ownership marker in the record's comment.
          - A comment ending with the marker (V(service api; managed by spitikos.homelab), as
            the catalogue plan writes them) is taken without it.
          - Unset leaves the text of an existing owned record alone.
        type: str
  address:
    description:
      - The public IPv4 address to publish. When set, O(address_source) is not asked.
    type: str
  address_source:
    description:
      - An http or https URL that answers with the address the request came from, either as a
        plain-text body holding only the address (as V(https://api.ipify.org) or
        V(https://ipv4.icanhazip.com) do) or as Cloudflare's C(/cdn-cgi/trace) text, whose
        C(ip=) line is taken.
      - The default asks Cloudflare's trace endpoint on V(1.1.1.1) by address, so the request
        goes over IPv4 even on a dual-stack host. A source reached by a host name may answer
        over IPv6 with an IPv6 address, which is refused.
      - Ignored when O(address) is set.
    type: str
    default: https://1.1.1.1/cdn-cgi/trace
  address_timeout:
    description:
      - Seconds to wait for the address source's answer.
    type: float
    default: 10
notes:
  - The address source is asked once per run, without retries; when it fails, or answers with
    something that is not a public IPv4 address, the module fails before contacting the
    Cloudflare API, and the next run (from a timer) tries again.
  - Behind carrier-grade NAT the address the source sees is shared by many homes and does not
    reach the router; the router edge cannot work then.
  - To hand an existing record over to this module, add C(managed by spitikos.homelab) to its
    comment in the Cloudflare dashboard.
seealso:
  - module: spitikos.homelab.cloudflare_dns_records
  - name: Keeping the public records current
    description: The playbook C(spitikos.homelab.public_address) and a systemd timer for it.
    link: https://github.com/spitikos/homelab/blob/main/docs/cloudflare.md
"""

EXAMPLES = r"""
- name: Keep the public names on the home's current address
  spitikos.homelab.cloudflare_public_address:
    zone: example.com
    records:
      - name: home.example.com
      - name: api.example.com
        comment: service api
        ttl: 60
  delegate_to: localhost

- name: Ask another address source (plain-text answer)
  spitikos.homelab.cloudflare_public_address:
    zone: example.com
    address_source: https://api.ipify.org
    records:
      - name: home.example.com
  delegate_to: localhost

- name: Publish an address the router reported
  spitikos.homelab.cloudflare_public_address:
    zone: example.com
    address: "{{ router_wan_address }}"
    records:
      - name: home.example.com
  delegate_to: localhost
"""

RETURN = r"""
address:
  description: The public IPv4 address the records hold (or, in check mode, would hold).
  returned: success
  type: str
  sample: 81.2.69.160
address_source:
  description: The URL the address was read from; null when O(address) was given.
  returned: success
  type: str
  sample: https://1.1.1.1/cdn-cgi/trace
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
    - The A records as they are after the run, in the order of O(records).
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
      description: Record type, always C(A).
      type: str
    content:
      description: The address.
      type: str
    proxied:
      description: Whether the record is proxied.
      type: bool
    ttl:
      description: Time to live, 1 meaning automatic.
      type: int
    comment:
      description: The comment, ownership marker included.
      type: str
    tags:
      description: Tags, sorted.
      type: list
      elements: str
    owned:
      description: Whether the record carries the ownership marker (always true).
      type: bool
  sample:
    - id: 372e67954025e0ba6aaa6d586b9e0b59
      name: home.example.com
      type: A
      content: 81.2.69.160
      proxied: false
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
    created: []
    updated: [home.example.com A 81.2.69.160]
    deleted: []
"""

import http.client
from urllib.error import HTTPError, URLError

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.spitikos.homelab.plugins.module_utils._cloudflare import (
    carry_out_dns_plan,
    cloudflare_argument_spec,
    run_module,
)
from ansible_collections.spitikos.homelab.plugins.module_utils._public_address import (
    DEFAULT_SOURCE,
    MAX_BODY,
    address_from_body,
    desired_records,
    plan_public_records,
    public_ipv4,
    record_name_problems,
    source_problem,
)
from ansible_collections.spitikos.homelab.plugins.module_utils._reconcile import (
    InputError,
    normalize_desired_records,
    normalize_fqdn,
    record_from_api,
)

NOTHING_CHANGED = "nothing was changed"


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
                "proxied": {"type": "bool"},
                "ttl": {"type": "int"},
                "comment": {"type": "str"},
            },
        },
        address={"type": "str"},
        address_source={"type": "str", "default": DEFAULT_SOURCE},
        address_timeout={"type": "float", "default": 10},
    )
    return spec


def check_options(params):
    """Every problem of the options that needs no request, before any request is made."""
    zone = params["zone"].strip()
    problems = record_name_problems(
        params["records"], normalize_fqdn(zone) if "." in zone else None
    )
    if not params["records"]:
        problems.append("records is empty: give at least one name")
    if params["address"] is None:
        problem = source_problem(params["address_source"])
        if problem:
            problems.append(f"address_source {params['address_source']!r} {problem}")
    else:
        try:
            public_ipv4(params["address"], "option address")
        except ValueError as exc:
            problems.append(str(exc))
    if params["address_timeout"] <= 0:
        problems.append("address_timeout must be more than 0 seconds")
    if problems:
        raise InputError(f"Invalid options, {NOTHING_CHANGED}: " + "; ".join(problems), problems)


def read_source(url, timeout):
    """The body the address source answered with; InputError naming the source on failure."""
    what = f"Could not read the public address from address_source {url}"
    reason = "no answer"
    try:
        response = open_url(
            url,
            method="GET",
            timeout=timeout,
            headers={"Accept": "text/plain"},
            http_agent="spitikos.homelab cloudflare_public_address",
            follow_redirects="safe",
        )
        try:
            return response.read(MAX_BODY + 1)[:MAX_BODY]
        finally:
            response.close()
    except HTTPError as exc:
        reason = f"HTTP {exc.code} {exc.reason}".rstrip()
    except URLError as exc:
        reason = str(exc.reason)
    except (TimeoutError, OSError, UrlConnectionError, http.client.HTTPException) as exc:
        reason = str(exc) or type(exc).__name__
    raise InputError(f"{what}: {reason}; {NOTHING_CHANGED}", [f"address_source: {reason}"])


def current_address(params):
    """(address, source URL or None)."""
    if params["address"] is not None:
        return public_ipv4(params["address"], "option address"), None
    url = params["address_source"].strip()
    body = read_source(url, params["address_timeout"])
    origin = f"address_source {url}"
    try:
        text = address_from_body(body)
    except ValueError as exc:
        excerpt = body[:60].decode("utf-8", "replace")
        message = f"the answer of {origin} holds no address: {exc} (it began {excerpt!r})"
    else:
        try:
            return public_ipv4(text, origin), url
        except ValueError as exc:
            message = str(exc)
    raise InputError(f"Refusing to update the records, {NOTHING_CHANGED}: {message}", [message])


def run(module, client):
    params = module.params
    check_options(params)
    address, source = current_address(params)
    zone = client.get_zone(params["zone"].strip())
    # A zone given by id: its name is only known now, still before anything changes.
    problems = record_name_problems(params["records"], zone["name"])
    if not problems:
        desired, problems = normalize_desired_records(
            desired_records(params["records"], address), zone["name"]
        )
    if problems:
        raise InputError(
            f"Invalid records for zone {zone['name']}, {NOTHING_CHANGED}: " + "; ".join(problems),
            problems,
        )
    current = [record_from_api(r) for r in client.list_dns_records(zone["id"], zone["name"])]
    plan = plan_public_records(current, desired)
    result = carry_out_dns_plan(module, client, zone, plan)
    result.update(address=address, address_source=source)
    return result


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
