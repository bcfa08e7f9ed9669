#!/usr/bin/python
# Copyright (c) spitikos.homelab contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cloudflare_tunnel
short_description: Create or adopt a Cloudflare Tunnel and manage its remote configuration
version_added: 0.1.0
description:
  - Creates a Cloudflare Tunnel (C(cfd_tunnel)) with the given name, or adopts the live tunnel
    that already has it, and returns its id and the CNAME target C(<id>.cfargotunnel.com).
  - In O(mode=local) the connector runs from a C(config.yml) and a credentials file; the module
    returns the credentials (C(AccountTag), C(TunnelID), C(TunnelSecret)). Cloudflare never hands
    a tunnel secret back, so for an existing tunnel the credentials come from O(credentials_file),
    from O(tunnel_secret), or from a new secret (O(rotate_secret=true)); without any of them
    adopting a local tunnel fails.
  - In O(mode=remote) the connector only needs the tunnel token, which the module returns; the
    ingress rules live in Cloudflare. The module reads the tunnel configuration, compares it with
    O(ingress) and O(origin_request), and writes it only when they differ.
  - O(state=absent) deletes the tunnel, but refuses while DNS records still point at it.
  - The O(credentials_file) content, RV(credentials) and RV(token) are secrets. Register them in
    a task that sets C(no_log) to V(true).
  - When the secret comes from O(tunnel_secret), Ansible masks it in the returned RV(credentials)
    (it is the value of a C(no_log) option); take it from the variable you passed, or let the
    module write O(credentials_file).
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
      - Shows the tunnel's name, mode and configuration; secrets are masked.
  idempotent:
    support: partial
    details:
      - O(rotate_secret=true) sets a new secret on every run.
options:
  account_id:
    description:
      - Cloudflare account id the tunnel belongs to.
    type: str
    required: true
  name:
    description:
      - Name of the tunnel; unique among the account's live tunnels.
    type: str
    required: true
  state:
    description:
      - Whether the tunnel should exist.
    type: str
    choices: [present, absent]
    default: present
  mode:
    description:
      - V(local) for a tunnel configured by C(config.yml) on the connector, V(remote) for a
        tunnel configured through the API (C(config_src=cloudflare)).
      - The mode of an existing tunnel is not changed; a mismatch is an error.
    type: str
    choices: [local, remote]
    default: local
  tunnel_secret:
    description:
      - Base64 encoded secret of at least 32 bytes for a new local tunnel. Generated when unset.
      - For an existing local tunnel, the secret it was created with; the module builds the
        credentials from it (it cannot check it against Cloudflare).
    type: str
  credentials_file:
    description:
      - Path of a cloudflared credentials file on the host the module runs on.
      - Read when adopting a local tunnel (its C(TunnelID) must match); written (mode 0600) when
        the module creates the tunnel or sets a new secret, so that later runs find it.
    type: path
  rotate_secret:
    description:
      - Set a new secret on an existing local tunnel and return new credentials. Connectors using
        the old credentials stop working.
    type: bool
    default: false
  ingress:
    description:
      - O(mode=remote) only. The ingress rules, in order; the last one is the catch-all without
        O(ingress[].hostname) (or with V(*)) and without O(ingress[].path) (for example
        C(service=http_status:404)).
      - The rules are checked as cloudflared checks them, before anything is sent to Cloudflare,
        and a little more strictly (unknown C(originRequest) keys are refused, for example).
      - Unset leaves the tunnel's rules alone.
    type: list
    elements: dict
    suboptions:
      hostname:
        description:
          - Public host name the rule answers for.
        type: str
      path:
        description:
          - Regular expression the request path must match.
        type: str
      service:
        description:
          - Where cloudflared sends the traffic (V(https://10.0.0.200:443),
            V(ssh://127.0.0.1:22), V(http_status:404)...).
        type: str
        required: true
      origin_request:
        description:
          - cloudflared C(originRequest) settings for this rule, with cloudflared's own keys
            (C(noTLSVerify), C(http2Origin), C(originServerName)...).
          - The alias C(originRequest) lets the rules of the catalogue plan (cloudflared's own
            keys) be passed as they are.
        type: dict
        aliases: [originRequest]
  origin_request:
    description:
      - O(mode=remote) only. cloudflared C(originRequest) settings for every rule.
      - Unset leaves the tunnel's value alone.
    type: dict
  dns_zones:
    description:
      - O(state=absent) only. Zones (names or ids) searched for DNS records that point at the
        tunnel before it is deleted. Default is every zone the API token can read.
    type: list
    elements: str
seealso:
  - module: spitikos.homelab.cloudflare_tunnel_info
  - module: spitikos.homelab.cloudflare_dns_records
"""

EXAMPLES = r"""
- name: A remotely managed tunnel for the home lab
  spitikos.homelab.cloudflare_tunnel:
    account_id: 699d98642c564d2e855e9661899b7252
    name: homelab
    mode: remote
    ingress:
      - hostname: api.example.com
        service: https://10.0.0.200:443
        origin_request:
          noTLSVerify: true
          http2Origin: true
      - hostname: ssh.example.com
        service: ssh://127.0.0.1:22
      - service: http_status:404
  delegate_to: localhost
  no_log: true
  register: tunnel

- name: A locally managed tunnel whose secret is kept in the vault
  spitikos.homelab.cloudflare_tunnel:
    account_id: 699d98642c564d2e855e9661899b7252
    name: homelab
    tunnel_secret: "{{ vault_cloudflare_tunnel_secret }}"
  delegate_to: localhost
  no_log: true
  register: tunnel

- name: Remove the tunnel once no DNS record points at it
  spitikos.homelab.cloudflare_tunnel:
    account_id: 699d98642c564d2e855e9661899b7252
    name: homelab
    state: absent
    dns_zones: [example.com]
  delegate_to: localhost
"""

RETURN = r"""
tunnel:
  description:
    - The tunnel. In check mode, the predicted tunnel (no id when it would be created).
    - Empty after O(state=absent).
  returned: success
  type: dict
  contains:
    id:
      description: Tunnel id (UUID).
      type: str
      sample: 6ff42ae2-765d-4adf-8112-31c55c1551ef
    name:
      description: Tunnel name.
      type: str
      sample: homelab
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
      description: What DNS records for the tunnel's host names point at.
      type: str
      sample: 6ff42ae2-765d-4adf-8112-31c55c1551ef.cfargotunnel.com
cname_target:
  description: C(<id>.cfargotunnel.com), the CNAME target of the tunnel's public host names.
  returned: when O(state=present) and the tunnel exists (not in check mode before creation)
  type: str
  sample: 6ff42ae2-765d-4adf-8112-31c55c1551ef.cfargotunnel.com
credentials:
  description:
    - Content of the cloudflared credentials file (secret). O(mode=local) only.
  returned: >-
    when O(mode=local) and O(state=present); in check mode only for an existing tunnel whose
    secret is not being rotated
  type: dict
  contains:
    AccountTag:
      description: Account id.
      type: str
    TunnelID:
      description: Tunnel id.
      type: str
    TunnelSecret:
      description: The tunnel secret, base64 encoded.
      type: str
token:
  description: The token cloudflared runs the tunnel with (secret). O(mode=remote) only.
  returned: when O(mode=remote), O(state=present) and the tunnel exists (in check mode too)
  type: str
configuration:
  description: The tunnel configuration after the run (O(mode=remote)).
  returned: when O(mode=remote) and O(state=present)
  type: dict
  sample:
    ingress:
      - hostname: api.example.com
        service: https://10.0.0.200:443
        originRequest: {noTLSVerify: true, http2Origin: true}
      - service: http_status:404
"""

import base64
import binascii
import json
import os
import secrets
import tempfile

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.spitikos.homelab.plugins.module_utils._cloudflare import (
    cloudflare_argument_spec,
    run_module,
)
from ansible_collections.spitikos.homelab.plugins.module_utils._cloudflared import (
    ingress_problems,
)
from ansible_collections.spitikos.homelab.plugins.module_utils._reconcile import (
    InputError,
    diff_entry,
    normalize_fqdn,
)

CNAME_SUFFIX = ".cfargotunnel.com"
TUNNEL_FIELDS = ("name", "mode", "ingress", "originRequest")


def argument_spec():
    spec = cloudflare_argument_spec()
    spec.update(
        account_id={"type": "str", "required": True},
        name={"type": "str", "required": True},
        state={"type": "str", "choices": ["present", "absent"], "default": "present"},
        mode={"type": "str", "choices": ["local", "remote"], "default": "local"},
        tunnel_secret={"type": "str", "no_log": True},
        credentials_file={"type": "path"},
        rotate_secret={"type": "bool", "default": False},
        ingress={
            "type": "list",
            "elements": "dict",
            "options": {
                "hostname": {"type": "str"},
                "path": {"type": "str"},
                "service": {"type": "str", "required": True},
                "origin_request": {"type": "dict", "aliases": ["originRequest"]},
            },
        },
        origin_request={"type": "dict"},
        dns_zones={"type": "list", "elements": "str"},
    )
    return spec


# --------------------------------------------------------------------------- pure helpers
def cname_target(tunnel_id):
    return f"{tunnel_id}{CNAME_SUFFIX}"


def new_secret():
    return base64.b64encode(secrets.token_bytes(32)).decode()


def check_secret(secret):
    try:
        raw = base64.b64decode(secret, validate=True)
    except (binascii.Error, ValueError):
        return "tunnel_secret is not valid base64"
    if len(raw) < 32:
        return f"tunnel_secret must decode to at least 32 bytes (it has {len(raw)})"
    return None


def desired_rules(ingress):
    """The module's ingress option in cloudflared's keys, normalised."""
    if ingress is None:
        return None
    rules = []
    for rule in ingress:
        out = {}
        if rule.get("hostname"):
            out["hostname"] = rule["hostname"]
        if rule.get("path"):
            out["path"] = rule["path"]
        out["service"] = rule["service"]
        if rule.get("origin_request"):
            out["originRequest"] = rule["origin_request"]
        rules.append(out)
    return normalize_rules(rules)


def normalize_rules(rules):
    """Rules as compared: lower-case host names, empty values dropped."""
    out = []
    for rule in rules or []:
        norm = {}
        for key, value in rule.items():
            if value is None or value in ("", {}, []):
                continue
            norm[key] = normalize_fqdn(value) if key == "hostname" else value
        out.append(norm)
    return out


def credentials_for(account_id, tunnel_id, secret):
    return {"AccountTag": account_id, "TunnelID": tunnel_id, "TunnelSecret": secret}


def read_credentials_file(path, account_id, tunnel):
    """Credentials from a cloudflared credentials file, checked against the tunnel."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InputError(f"credentials_file {path} cannot be read as JSON: {exc}") from None
    if not isinstance(data, dict) or not data.get("TunnelSecret"):
        raise InputError(f"credentials_file {path} has no TunnelSecret")
    if data.get("TunnelID") != tunnel["id"]:
        raise InputError(
            f"credentials_file {path} belongs to tunnel {data.get('TunnelID')}, "
            f"not to tunnel {tunnel['name']} ({tunnel['id']})"
        )
    if data.get("AccountTag") not in (None, account_id):
        raise InputError(f"credentials_file {path} belongs to account {data.get('AccountTag')}")
    return credentials_for(account_id, tunnel["id"], data["TunnelSecret"])


def write_credentials_file(module, path, credentials):
    """Write the credentials (0600) unless the file already holds them; True if written."""
    try:
        with open(path, encoding="utf-8") as handle:
            if json.load(handle) == credentials:
                return False
    except (OSError, ValueError):
        pass
    if module.check_mode:
        return True
    directory = os.path.dirname(os.path.abspath(path))
    # mkstemp creates the file 0600, and a rename keeps that mode: the secret is never readable
    # by others, not even for a moment (atomic_move would give a new file 0666 & ~umask first).
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".cloudflared-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(credentials, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


def tunnel_view(tunnel, mode):
    if not tunnel:
        return {}
    view = {
        "id": tunnel.get("id"),
        "name": tunnel.get("name"),
        "mode": mode,
        "status": tunnel.get("status"),
        "created_at": tunnel.get("created_at"),
    }
    view["cname_target"] = cname_target(tunnel["id"]) if tunnel.get("id") else None
    return view


# --------------------------------------------------------------------------- the work
class TunnelRun:
    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.account = self.params["account_id"]
        self.name = self.params["name"]
        self.changed = False
        self.result = {}

    def validate(self):
        ingress = desired_rules(self.params["ingress"])
        # The same check as the cloudflared role's, which follows cloudflared's own.
        problems = [] if ingress is None else ingress_problems(ingress)
        if self.params["tunnel_secret"]:
            problem = check_secret(self.params["tunnel_secret"])
            if problem:
                problems.append(problem)
        if self.params["mode"] == "local" and (
            self.params["ingress"] is not None or self.params["origin_request"] is not None
        ):
            problems.append(
                "ingress and origin_request are for mode=remote; a local tunnel is "
                "configured by config.yml on the connector"
            )
        if problems:
            raise InputError(
                f"Invalid options for tunnel {self.name}: " + "; ".join(problems), problems
            )

    def find(self):
        found = self.client.find_tunnels(self.account, self.name)
        if len(found) > 1:
            ids = ", ".join(t["id"] for t in found)
            raise InputError(
                f"Several live tunnels are named {self.name} ({ids}); rename or delete all but one"
            )
        return found[0] if found else None

    def present(self, tunnel):
        mode = self.params["mode"]
        before = {"name": self.name, "mode": self.mode_of(tunnel)} if tunnel else {}
        secret = None
        if tunnel is None:
            self.changed = True
            if mode == "local":
                secret = self.params["tunnel_secret"] or new_secret()
            if self.module.check_mode:
                tunnel = {"id": None, "name": self.name, "status": "inactive"}
            else:
                tunnel = self.client.create_tunnel(
                    self.account,
                    self.name,
                    "cloudflare" if mode == "remote" else "local",
                    secret if mode == "local" else None,
                )
        elif self.mode_of(tunnel) != mode:
            raise InputError(
                f"Tunnel {self.name} ({tunnel['id']}) is managed "
                f"{self.mode_of(tunnel)}ly, not {mode}ly; Cloudflare cannot switch "
                "an existing tunnel back, so nothing was changed"
            )
        after = {"name": self.name, "mode": mode}
        if tunnel.get("id"):
            self.result["cname_target"] = cname_target(tunnel["id"])
        if mode == "local":
            self.local_credentials(tunnel, secret)
        else:
            config_before, config_after = self.remote_configuration(tunnel)
            before.update(config_before)
            after.update(config_after)
        self.result["tunnel"] = tunnel_view(tunnel, mode)
        if self.module._diff:
            self.result["diff"] = diff_entry(
                before, after, TUNNEL_FIELDS, header=f"tunnel {self.name}"
            )

    @staticmethod
    def mode_of(tunnel):
        return "remote" if tunnel.get("remote_config") else "local"

    def local_credentials(self, tunnel, secret):
        path = self.params["credentials_file"]
        creds = None
        made_up = secret is not None  # a new tunnel's secret: not Cloudflare's yet in check mode
        if secret is None and self.params["rotate_secret"]:
            secret = new_secret()
            made_up = True
            self.changed = True
            if not self.module.check_mode:
                self.client.update_tunnel_secret(self.account, tunnel["id"], self.name, secret)
        if secret is None and path:
            creds = read_credentials_file(path, self.account, tunnel)
        if secret is None and creds is None and self.params["tunnel_secret"]:
            secret = self.params["tunnel_secret"]
        if creds is None and secret is not None:
            creds = credentials_for(self.account, tunnel.get("id"), secret)
        if creds is None:
            raise InputError(
                f"Tunnel {self.name} ({tunnel['id']}) already exists and Cloudflare does not "
                "hand out the secret of an existing tunnel. Give credentials_file (the "
                "credentials JSON written when it was created), tunnel_secret, or "
                "rotate_secret=true to set a new secret."
            )
        if self.module.check_mode and not tunnel.get("id"):
            return
        if path and write_credentials_file(self.module, path, creds):
            self.changed = True
        # In check mode the credentials of an existing tunnel (read, not made up) are returned
        # too, so that a connector's check run compares its files with the real ones.
        if not self.module.check_mode or not made_up:
            self.result["credentials"] = creds

    def remote_configuration(self, tunnel):
        want_rules = desired_rules(self.params["ingress"])
        want_origin = self.params["origin_request"]
        current = {}
        if tunnel.get("id"):
            current = self.client.get_tunnel_configuration(self.account, tunnel["id"], self.name)
        config = dict(current.get("config") or {})
        have_rules = normalize_rules(config.get("ingress"))
        have_origin = config.get("originRequest") or None
        before = {"ingress": have_rules, "originRequest": have_origin}
        new = dict(config)
        if want_rules is not None:
            new["ingress"] = want_rules
        if want_origin is not None:
            new["originRequest"] = want_origin
        differs = (want_rules is not None and want_rules != have_rules) or (
            want_origin is not None and want_origin != (have_origin or {})
        )
        if differs:
            self.changed = True
            if not self.module.check_mode:
                config = (
                    self.client.put_tunnel_configuration(
                        self.account, tunnel["id"], self.name, new
                    ).get("config")
                    or new
                )
            else:
                config = new
        self.result["configuration"] = config
        # Read-only, so check mode asks for it too: a connector's check run needs it.
        if tunnel.get("id"):
            self.result["token"] = self.client.get_tunnel_token(
                self.account, tunnel["id"], self.name
            )
        after = {
            "ingress": normalize_rules(config.get("ingress")),
            "originRequest": config.get("originRequest") or None,
        }
        return before, after

    def absent(self, tunnel):
        self.result["tunnel"] = {}
        if tunnel is None:
            return
        target = cname_target(tunnel["id"])
        users = self.records_pointing_at(target)
        if users:
            raise InputError(
                f"Tunnel {self.name} ({tunnel['id']}) was not deleted: DNS records "
                f"still point at {target}: {', '.join(users)}. Remove them first.",
                users,
            )
        self.changed = True
        if not self.module.check_mode:
            self.client.delete_tunnel(self.account, tunnel["id"], self.name)
        if self.module._diff:
            self.result["diff"] = diff_entry(
                {"name": self.name, "mode": self.mode_of(tunnel)},
                {},
                TUNNEL_FIELDS,
                header=f"tunnel {self.name}",
            )

    def records_pointing_at(self, target):
        if self.params["dns_zones"]:
            zones = [self.client.get_zone(z) for z in self.params["dns_zones"]]
        else:
            zones = self.client.list_zones()
        users = []
        for zone in zones:
            for record in self.client.list_dns_records(zone["id"], zone["name"], content=target):
                if normalize_fqdn(record.get("content")) == target:
                    users.append(f"{record['name']} {record['type']} (zone {zone['name']})")
        return users


def run(module, client):
    work = TunnelRun(module, client)
    work.validate()
    tunnel = work.find()
    if module.params["state"] == "present":
        work.present(tunnel)
    else:
        work.absent(tunnel)
    return dict(changed=work.changed, **work.result)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=[("rotate_secret", "tunnel_secret")],
    )
    run_module(module, run)


if __name__ == "__main__":
    main()
