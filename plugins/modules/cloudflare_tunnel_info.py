#!/usr/bin/python
# Copyright (c) spitikos.homelab contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudflare_tunnel_info
short_description: List the Cloudflare Tunnels of an account
version_added: 0.1.0
description:
  - Returns the live (not deleted) Cloudflare Tunnels of an account, or the one with a given
    name, with their CNAME target and, on request, their connections and remote configuration.
  - Never returns secrets (no token, no credentials).
author:
  - spitikos maintainers (@spitikos)
extends_documentation_fragment:
  - spitikos.homelab._cloudflare_auth
  - spitikos.homelab._attributes
  - spitikos.homelab._attributes.INFO_MODULE
options:
  account_id:
    description:
      - Cloudflare account id.
    type: str
    required: true
  name:
    description:
      - Only the tunnel with this name.
    type: str
  include_details:
    description:
      - Also read each tunnel's connections and, for remotely managed tunnels, the
        configuration (two more requests per tunnel).
    type: bool
    default: false
seealso:
  - module: spitikos.homelab.cloudflare_tunnel
"""

EXAMPLES = r"""
- name: Read the home lab tunnel
  spitikos.homelab.cloudflare_tunnel_info:
    account_id: 699d98642c564d2e855e9661899b7252
    name: homelab
    include_details: true
  delegate_to: localhost
  register: tunnel_info
"""

RETURN = r"""
tunnels:
  description: The tunnels found, oldest first.
  returned: success
  type: list
  elements: dict
  contains:
    id:
      description: Tunnel id.
      type: str
    name:
      description: Tunnel name.
      type: str
    mode:
      description: V(local) or V(remote).
      type: str
    status:
      description: C(inactive), C(healthy), C(degraded) or C(down).
      type: str
    created_at:
      description: When the tunnel was created.
      type: str
    cname_target:
      description: C(<id>.cfargotunnel.com).
      type: str
    connections:
      description: Connectors and their connections (O(include_details=true)).
      type: list
      elements: dict
      returned: when O(include_details=true)
    configuration:
      description: The remote configuration (O(include_details=true), remote tunnels).
      type: dict
      returned: when O(include_details=true) and the tunnel is managed remotely
  sample:
    - id: 6ff42ae2-765d-4adf-8112-31c55c1551ef
      name: homelab
      mode: remote
      status: healthy
      created_at: "2024-08-06T10:00:00Z"
      cname_target: 6ff42ae2-765d-4adf-8112-31c55c1551ef.cfargotunnel.com
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spitikos.homelab.plugins.module_utils._cloudflare import (
    cloudflare_argument_spec,
    run_module,
)


def argument_spec():
    spec = cloudflare_argument_spec()
    spec.update(
        account_id={"type": "str", "required": True},
        name={"type": "str"},
        include_details={"type": "bool", "default": False},
    )
    return spec


def describe(client, account, tunnel, details):
    remote = bool(tunnel.get("remote_config"))
    out = {
        "id": tunnel["id"],
        "name": tunnel.get("name"),
        "mode": "remote" if remote else "local",
        "status": tunnel.get("status"),
        "created_at": tunnel.get("created_at"),
        "cname_target": f"{tunnel['id']}.cfargotunnel.com",
    }
    if details:
        out["connections"] = client.list_tunnel_connections(
            account, tunnel["id"], tunnel.get("name")
        )
        if remote:
            config = client.get_tunnel_configuration(account, tunnel["id"], tunnel.get("name"))
            out["configuration"] = config.get("config") or {}
    return out


def run(module, client):
    params = module.params
    found = client.find_tunnels(params["account_id"], params["name"])
    tunnels = [describe(client, params["account_id"], t, params["include_details"]) for t in found]
    return {"changed": False, "tunnels": tunnels}


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    run_module(module, run)


if __name__ == "__main__":
    main()
