# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file holds the documentation only: the work is done by the action plugin of the same
# name, on the controller.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: homelab_catalogue
short_description: Validate the service catalogue and derive the homelab plan
version_added: 0.1.0
description:
  - Reads the service catalogue and topology variables (C(homelab_*)) of the current host,
    which O(settings) may override, validates them and derives, in one place, everything the
    other roles apply - Kubernetes Ingress objects (or Traefik routes), Cloudflare Tunnel ingress
    rules, Cloudflare DNS records, the router's HAProxy SNI map, LAN DNS entries and the k3s
    C(tls-san) list.
  - Every problem of the catalogue is reported at once, each naming the service and the field;
    the task then fails and nothing else is derived.
  - Runs on the controller only; it never connects to a host or calls an API.
  - The catalogue fields, rules and derivations are described in C(docs/catalogue.md) of the
    collection.
options:
  settings:
    description:
      - Values that take precedence over the host's C(homelab_*) variables, keyed by the full
        variable name (for example C(homelab_edge)).
      - Only the variables the catalogue knows are accepted (see C(docs/catalogue.md)).
    type: dict
    default: {}
  files:
    description:
      - Also return RV(homelab_plan_files), the text of every file of the offline plan
        directory, keyed by its path relative to that directory.
    type: bool
    default: false
  check_roles:
    description:
      - Also check every role variable of every host of the inventory, before anything else
        happens. For each host, the roles the site runs there are found by its groups
        (C(k3s_servers), C(k3s_agents), C(cloudflared), C(openwrt_routers); C(cluster_addons) on
        the first server; C(cloudflare_tunnel) and C(cloudflare_dns) on the controller), and every
        variable the inventory gives for one of their options is checked against the role's
        argument specification (type, choices, list elements) and the role rules that need no
        host (k3s release tags, node labels and taints, API certificate names).
      - A C(homelab_*) variable that feeds a role option (for example C(homelab_k3s_version) for
        C(k3s_server_version)) is checked as that option.
      - A string where a list or a mapping is expected is refused, naming the host and the
        variable, rather than converted, since the roles would read the string itself. The
        value of a secret option is never shown.
      - The problems are added to RV(errors), with the catalogue's, and the task fails.
    type: bool
    default: false
  vars_host:
    description:
      - Read the C(homelab_*) variables of this inventory host instead of the current host's
        (useful on C(localhost), which does not see group variables of other groups).
    type: str
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
    details: Nothing is changed in any mode; the plan is returned in check mode as well.
  connection:
    support: none
  delegation:
    support: none
    details: Runs on the controller whatever the delegation; only the variables read change.
  diff_mode:
    support: none
  idempotent:
    description:
      - When run again with the same variables, the task gives the same result.
    support: full
  platform:
    platforms: all
notes:
  - The plan is deterministic (stable order) and JSON-serialisable.
  - Warnings (for example a router edge without C(homelab_public_address)) are shown as task
    warnings and listed in RV(homelab_plan.warnings).
seealso:
  - name: Service catalogue reference
    description: Every field, rule and derivation.
    link: https://github.com/spitikos/homelab/blob/main/docs/catalogue.md
author:
  - spitikos maintainers (@spitikos)
"""

EXAMPLES = r"""
- name: Validate the catalogue and derive the plan
  spitikos.homelab.homelab_catalogue:
  register: __homelab_catalogue

- name: Show the tunnel ingress rules
  ansible.builtin.debug:
    var: __homelab_catalogue.homelab_plan.tunnel.ingress

- name: Plan a router edge instead of the inventory's edge, with the plan files
  spitikos.homelab.homelab_catalogue:
    settings:
      homelab_edge: router
      homelab_public_address: 203.0.113.7
    files: true
  register: __homelab_catalogue_router
"""

RETURN = r"""
homelab_plan:
  description: The derived plan.
  returned: success
  type: dict
  contains:
    version:
      description: Version of the plan's layout.
      type: int
      sample: 1
    settings:
      description: The normalised topology settings.
      type: dict
    inventory:
      description: The hosts of the groups C(k3s_servers), C(k3s_agents), C(cloudflared) and
        C(openwrt_routers), in inventory order.
      type: dict
    services:
      description: The normalised services, in catalogue order, with their defaults filled in
        and where they are served (C(ingress_class), C(ingress_address), C(tls_secret)).
      type: list
      elements: dict
    ingress_classes:
      description: The ingress classes and the LAN address each answers on.
      type: list
      elements: dict
    ingress_features:
      description: Controller features the catalogue needs (C(ssl_passthrough), C(grpc),
        C(oauth2)).
      type: dict
    k8s_objects:
      description: The Kubernetes objects routing the services (Ingress for ingress-nginx;
        Certificate, IngressRoute, IngressRouteTCP, Middleware and ServersTransport for
        Traefik).
      type: list
      elements: dict
    tunnel:
      description: The tunnel (C(name), C(id), C(mode), C(protocol), C(cname_target)) and its
        C(ingress) rules, in cloudflared's own keys, ending with the C(http_status:404)
        catch-all (just before it, with C(homelab_tunnel_wildcard=true), the rule for
        C(*.<homelab_domain>)). V(null) unless the edge is C(tunnel).
      type: dict
    dns_records:
      description: Cloudflare DNS records C({name, type, content, proxied, ttl, comment}),
        sorted by name and type. Never a wildcard.
      type: list
      elements: dict
      sample:
        - name: api.example.com
          type: CNAME
          content: <tunnel-id>.cfargotunnel.com
          proxied: true
          ttl: 1
          comment: "managed by spitikos.homelab: api"
    router:
      description: The router's C(mode) (C(homelab_router_mode)). With C(haproxy), its SNI
        map (C(sni_map)), C(backends), C(default_backend) and what happens to unknown names
        (C(unknown_sni) is C(default_backend) or C(reject)). With C(port_forward), the uci
        firewall C(redirects) (C(section) name and the redirect's options) forwarding the
        public ports to the ingress address. V(null) unless the edge is C(router).
      type: dict
    lan_dns:
      description: LAN DNS entries C({host, address, service}) for every host served by the
        ingress controller.
      type: list
      elements: dict
    metallb:
      description: The MetalLB pools, or V(null) with ServiceLB.
      type: dict
    tls_san:
      description: Extra names and addresses for the k3s API certificate.
      type: list
      elements: str
    coredns:
      description: The cluster DNS upstream, from C(homelab_cluster_dns_upstream) - the LAN
        resolver (C(upstream)), the zones forwarded to it (C(zones), C(homelab_domain) first)
        and the C(coredns-custom) ConfigMap in C(kube-system) (C(configmap)) whose C(*.server)
        key k3s' CoreDNS imports as an extra server block. V(null) when the upstream is unset.
      type: dict
    warnings:
      description: Things worth knowing that are not errors.
      type: list
      elements: str
homelab_plan_files:
  description: The text of each file of the plan directory, keyed by its relative path.
  returned: when O(files=true)
  type: dict
  sample:
    cloudflare/dns_records.json: "[]\n"
errors:
  description:
    - Every problem found in the catalogue, then, with O(check_roles=true), every problem with
      a role variable, each starting with the host name and naming the variable.
  returned: failure
  type: list
  elements: str
  sample:
    - "homelab_services[2] (name 'api'): host 'api.other.org' is not inside homelab_domain
      'example.com'"
    - "pi1: k3s_server_disable must be a list, got a string 'traefik'; write it as [traefik]"
"""
