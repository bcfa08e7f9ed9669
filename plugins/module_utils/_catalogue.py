# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service catalogue: validation and every derived layer, as plain data.

Private to the collection. Pure Python (standard library only, no I/O): the single place where
the catalogue and the topology variables turn into what the roles apply (Kubernetes objects,
tunnel ingress rules, Cloudflare DNS records, the router's SNI map, LAN DNS entries, the k3s
``tls-san`` list, CoreDNS' ``coredns-custom`` ConfigMap). The entry points are ``build_plan()``
and ``plan_files()``.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
import uuid
from dataclasses import dataclass, field

__all__ = [
    "OWNERSHIP_MARKER",
    "PLAN_VERSION",
    "PUBLIC_ADDRESS_AUTO",
    "PUBLIC_ADDRESS_PLACEHOLDER",
    "SETTINGS",
    "TUNNEL_ID_PLACEHOLDER",
    "CatalogueError",
    "build_plan",
    "dns_comment",
    "is_owned_comment",
    "plan_files",
]

# Records and objects this collection owns carry this text (DNS comments, k8s labels).
OWNERSHIP_MARKER = "managed by spitikos.homelab"
MANAGED_BY_LABEL = {"app.kubernetes.io/managed-by": "spitikos.homelab"}
# Shown wherever the tunnel id is only known after contacting the Cloudflare API.
TUNNEL_ID_PLACEHOLDER = "<tunnel-id>"
# homelab_public_address: auto means a dynamic public IPv4, known only when the site runs; the
# plan's public A records then carry the placeholder, which cloudflare_public_address resolves.
PUBLIC_ADDRESS_AUTO = "auto"
PUBLIC_ADDRESS_PLACEHOLDER = "<public-address>"
TUNNEL_CNAME_SUFFIX = ".cfargotunnel.com"
PLAN_VERSION = 1

EDGES = ("tunnel", "router", "none")
ROUTER_MODES = ("haproxy", "port_forward")
INGRESS_CONTROLLERS = ("ingress-nginx", "traefik")
LOAD_BALANCERS = ("servicelb", "metallb")
EXPOSES = ("public", "lan")
PROTOCOLS = ("http", "https", "grpc", "passthrough", "tcp", "ssh")
AUTHS = ("none", "oauth2")
TUNNEL_MODES = ("local", "remote")
TUNNEL_PROTOCOLS = ("auto", "http2", "quic")

# Protocols served by the ingress controller, and those cloudflared dials itself.
INGRESS_PROTOCOLS = ("http", "https", "grpc", "passthrough")
ORIGIN_PROTOCOLS = ("tcp", "ssh")
DEFAULT_PORTS = {"http": 80, "https": 443, "passthrough": 443}

SERVICE_FIELDS = (
    "name",
    "host",
    "expose",
    "protocol",
    "namespace",
    "service",
    "port",
    "auth",
    "origin",
)
K8S_FIELDS = ("namespace", "service", "port")
OAUTH2_FIELDS = ("url", "namespace", "service", "port")
POOL_FIELDS = {
    "external": ("addresses",),
    "internal": ("addresses", "ingress_address", "ingress_class"),
}

# Every variable the catalogue reads, with its default (None: unset).
SETTINGS = {
    "homelab_domain": None,
    "homelab_edge": "tunnel",
    "homelab_ingress_controller": "ingress-nginx",
    "homelab_ingress_class": None,
    "homelab_load_balancer": "servicelb",
    "homelab_ingress_address": None,
    "homelab_public_address": None,
    "homelab_router_default_backend": None,
    "homelab_router_mode": "haproxy",
    "homelab_router_forward_http": False,
    "homelab_services": [],
    "homelab_tunnel_name": "homelab",
    "homelab_tunnel_id": None,
    "homelab_tunnel_mode": "local",
    "homelab_tunnel_protocol": "http2",
    "homelab_dns_lan_records": True,
    "homelab_dns_ttl": 1,
    "homelab_cert_manager_issuer": "letsencrypt-production",
    "homelab_oauth2": {},
    "homelab_metallb_pools": {},
    "homelab_k3s_api_hostnames": [],
    "homelab_tunnel_wildcard": False,
    "homelab_cluster_dns_upstream": None,
    "homelab_cluster_dns_zones": [],
}
INVENTORY_GROUPS = ("k3s_servers", "k3s_agents", "cloudflared", "openwrt_routers")

DEFAULT_INGRESS_CLASS = {"ingress-nginx": "nginx", "traefik": "traefik"}
OAUTH2_DEFAULTS = {"namespace": "oauth2-proxy", "service": "oauth2-proxy", "port": 4180}
OAUTH2_RESPONSE_HEADERS = ("X-Auth-Request-User", "X-Auth-Request-Email")
NGINX = "nginx.ingress.kubernetes.io/"
TRAEFIK_ENTRYPOINT = "websecure"
TRAEFIK_OAUTH2_MIDDLEWARE = "homelab-oauth2"
TRAEFIK_INSECURE_TRANSPORT = "homelab-insecure-skip-verify"
MANIFEST_PATH = "var/lib/rancher/k3s/server/manifests/homelab-ingress.yaml"
ROUTER_BACKEND = "k8s_ingress"
ROUTER_DEFAULT_BACKEND = "default_backend"
# Named uci firewall redirects of the port_forward mode; the uci prefix homelab_ marks them ours.
ROUTER_REDIRECT_PREFIX = "homelab_forward_"

_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_RFC1035_LABEL = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_HOST_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
_ORIGIN = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?P<hostport>[^/?#]+)$")
_LABEL_RULE = (
    "lowercase letters, digits and '-', at most 63 characters, "
    "starting and ending with a letter or digit"
)
_RFC1035_RULE = (
    "lowercase letters, digits and '-', at most 63 characters, "
    "starting with a letter and ending with a letter or digit"
)


class CatalogueError(ValueError):
    """The catalogue or the topology variables are invalid; ``errors`` lists every problem."""

    def __init__(self, errors, warnings=None):
        self.errors = list(errors)
        self.warnings = list(warnings or [])
        count = len(self.errors)
        head = f"the service catalogue has {count} error{'s' if count != 1 else ''}"
        super().__init__(head + ":\n" + "\n".join(f"- {e}" for e in self.errors))


def dns_comment(service_name):
    """The comment of a DNS record made for ``service_name``: a short text, then the marker."""
    return f"service {service_name}; {OWNERSHIP_MARKER}"


def is_owned_comment(comment):
    """Whether a DNS record comment marks the record as owned by this collection."""
    return isinstance(comment, str) and OWNERSHIP_MARKER in comment


# ---------------------------------------------------------------------------------------------
# small helpers


def _show(value):
    """A value as error messages print it (plain, whatever str/int subclass it arrives as)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value!s}'"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return f"a {type(value).__name__}"


def _type_name(value):
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def _unknown_key(prefix, key, allowed):
    key = str(key)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{prefix}: unknown field '{key}'{hint}"


def _norm_host(value):
    return str(value).strip().lower().rstrip(".")


def _host_problem(name):
    """Why ``name`` (already normalised) is not a valid host name, or None."""
    if not name:
        return "is empty"
    if not name.isascii():
        # DNS, Cloudflare and the ingress objects speak the ASCII form only; converting it here
        # would hide which name the records carry, so the user writes it.
        try:
            ascii_form = name.encode("idna").decode("ascii")
        except UnicodeError:
            return "is not ASCII and has no IDNA (xn--) form"
        return f"is not ASCII; write its IDNA form '{ascii_form}'"
    if len(name) > 253:
        return "is longer than 253 characters"
    for label in name.split("."):
        if not _HOST_LABEL.match(label):
            return "is not a valid DNS name"
    return None


def _ip(value):
    try:
        return ipaddress.ip_address(str(value).strip())
    except ValueError:
        return None


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _format_hostport(address, port):
    text = str(address)
    if ":" in text:
        text = f"[{text}]"
    return f"{text}:{port}"


def _split_hostport(text):
    """Split HOST:PORT ([v6]:PORT allowed). Returns (host, port_text) or None."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            return None
        return text[1:end], text[end + 2 :]
    if text.count(":") != 1:
        return None
    host, port = text.split(":")
    return host, port


def _hostport_problem(host, port_text):
    """Why HOST, PORT are not usable as a destination, or None."""
    if not host:
        return "has no host"
    if _ip(host) is None and _host_problem(_norm_host(host)) is not None:
        return f"host '{host}' is neither an IP address nor a valid host name"
    if not port_text.isdigit():
        return f"port '{port_text}' is not a number"
    if not 1 <= int(port_text) <= 65535:
        return f"port {int(port_text)} is out of range 1-65535"
    return None


def _parse_range(text):
    """A MetalLB address entry (CIDR or FIRST-LAST) as (first, last) addresses, or None."""
    text = str(text).strip()
    if "-" in text:
        first, last = text.split("-", 1)
        a, b = _ip(first), _ip(last)
        if a is None or b is None or a.version != b.version or int(a) > int(b):
            return None
        return a, b
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if "/" not in text:
        return None
    return net.network_address, net.broadcast_address


# ---------------------------------------------------------------------------------------------
# parsed model


@dataclass(frozen=True)
class Pool:
    name: str
    addresses: tuple
    ranges: tuple
    ingress_address: str
    ingress_class: str


@dataclass
class Topology:
    domain: str | None = None
    edge: str | None = None
    ingress_controller: str | None = None
    ingress_class: str | None = None
    load_balancer: str | None = None
    ingress_address: str | None = None
    public_address: str | None = None
    router_default_backend: str | None = None
    router_mode: str | None = "haproxy"
    router_forward_http: bool = False
    tunnel_name: str | None = None
    tunnel_id: str | None = None
    tunnel_mode: str | None = None
    tunnel_protocol: str | None = None
    dns_lan_records: bool = True
    dns_ttl: int = 1
    issuer: str | None = None
    oauth2: dict | None = None
    pools: dict = field(default_factory=dict)
    api_hostnames: list = field(default_factory=list)
    tunnel_wildcard: bool = False
    cluster_dns_upstream: str | None = None
    cluster_dns_zones: list = field(default_factory=list)


@dataclass(frozen=True)
class Service:
    index: int
    name: str
    host: str
    expose: str
    protocol: str
    namespace: str | None
    service: str | None
    port: int | None
    auth: str
    origin: str | None

    @property
    def via_ingress(self):
        return self.protocol in INGRESS_PROTOCOLS


# ---------------------------------------------------------------------------------------------
# validation of the topology variables


def _enum(errors, name, value, choices, default):
    if value is None:
        return default
    if not isinstance(value, str) or value not in choices:
        errors.append(f"{name} {_show(value)} is not one of: {', '.join(choices)}")
        return None
    return str(value)


def _string(errors, name, value, default=None, required=False):
    if value is None or (isinstance(value, str) and not value.strip() and not required):
        if required:
            errors.append(f"{name} is required")
        return default
    if not isinstance(value, str):
        errors.append(f"{name} must be a string, got {_type_name(value)}")
        return None
    if not value.strip():
        errors.append(f"{name} is required")
        return None
    return str(value).strip()


def _parse_topology(s, errors, warnings):
    t = Topology()

    domain = _string(errors, "homelab_domain", s.get("homelab_domain"), required=True)
    if domain is not None:
        norm = _norm_host(domain)
        if "*" in norm:
            errors.append(f"homelab_domain '{domain}' must not be a wildcard")
        elif _host_problem(norm) or "." not in norm:
            errors.append(f"homelab_domain '{domain}' is not a DNS zone name (like example.com)")
        else:
            t.domain = norm

    t.edge = _enum(errors, "homelab_edge", s.get("homelab_edge"), EDGES, "tunnel")
    t.ingress_controller = _enum(
        errors,
        "homelab_ingress_controller",
        s.get("homelab_ingress_controller"),
        INGRESS_CONTROLLERS,
        "ingress-nginx",
    )
    t.load_balancer = _enum(
        errors, "homelab_load_balancer", s.get("homelab_load_balancer"), LOAD_BALANCERS, "servicelb"
    )

    cls = _string(errors, "homelab_ingress_class", s.get("homelab_ingress_class"))
    if cls is not None and _k8s_name_problem(cls):
        errors.append(
            f"homelab_ingress_class '{cls}' is not a valid Kubernetes name "
            "(lowercase DNS name, at most 253 characters)"
        )
        cls = None
    elif cls is None and t.ingress_controller:
        cls = DEFAULT_INGRESS_CLASS[t.ingress_controller]
    t.ingress_class = cls

    address = s.get("homelab_ingress_address")
    if address is None or (isinstance(address, str) and not address.strip()):
        errors.append("homelab_ingress_address is required")
    elif not isinstance(address, str) or _ip(address) is None:
        errors.append(f"homelab_ingress_address {_show(address)} is not an IP address")
    else:
        t.ingress_address = str(_ip(address))

    public = _string(errors, "homelab_public_address", s.get("homelab_public_address"))
    if public is not None:
        if public.strip().lower() == PUBLIC_ADDRESS_AUTO:
            t.public_address = PUBLIC_ADDRESS_AUTO
        elif _ip(public) is not None:
            t.public_address = str(_ip(public))
        elif _host_problem(_norm_host(public)) is None and "*" not in public:
            t.public_address = _norm_host(public)
        else:
            errors.append(
                f"homelab_public_address '{public}' is neither an IP address nor a host name"
            )
        if t.edge in ("tunnel", "none") and t.public_address:
            warnings.append(
                f"homelab_public_address is only used with homelab_edge 'router' "
                f"(homelab_edge is '{t.edge}'): ignored"
            )
            t.public_address = None

    backend = _string(
        errors, "homelab_router_default_backend", s.get("homelab_router_default_backend")
    )
    if backend is not None:
        parts = _split_hostport(backend)
        problem = "must be HOST:PORT" if parts is None else _hostport_problem(*parts)
        if problem:
            errors.append(f"homelab_router_default_backend '{backend}' {problem}")
        elif t.edge in ("tunnel", "none"):
            warnings.append(
                f"homelab_router_default_backend is only used with homelab_edge 'router' "
                f"(homelab_edge is '{t.edge}'): ignored"
            )
        else:
            host, port = parts
            host = str(_ip(host)) if _ip(host) is not None else _norm_host(host)
            t.router_default_backend = _format_hostport(host, int(port))

    t.tunnel_name = _string(
        errors, "homelab_tunnel_name", s.get("homelab_tunnel_name"), default="homelab"
    )
    tunnel_id = _string(errors, "homelab_tunnel_id", s.get("homelab_tunnel_id"))
    if tunnel_id is not None:
        try:
            t.tunnel_id = str(uuid.UUID(tunnel_id))
        except ValueError:
            errors.append(f"homelab_tunnel_id '{tunnel_id}' is not a tunnel UUID")
    t.tunnel_mode = _enum(
        errors, "homelab_tunnel_mode", s.get("homelab_tunnel_mode"), TUNNEL_MODES, "local"
    )
    t.tunnel_protocol = _enum(
        errors,
        "homelab_tunnel_protocol",
        s.get("homelab_tunnel_protocol"),
        TUNNEL_PROTOCOLS,
        "http2",
    )

    lan_records = s.get("homelab_dns_lan_records")
    if lan_records is None:
        t.dns_lan_records = True
    elif isinstance(lan_records, bool):
        t.dns_lan_records = bool(lan_records)
    else:
        errors.append(f"homelab_dns_lan_records {_show(lan_records)} must be true or false")

    ttl = s.get("homelab_dns_ttl")
    if ttl is None:
        t.dns_ttl = 1
    elif not _is_int(ttl):
        errors.append(f"homelab_dns_ttl {_show(ttl)} must be an integer")
    elif ttl != 1 and not 30 <= ttl <= 86400:
        errors.append(
            f"homelab_dns_ttl {int(ttl)} must be 1 (automatic) or between 30 and 86400 seconds"
        )
    else:
        t.dns_ttl = int(ttl)

    issuer = _string(
        errors,
        "homelab_cert_manager_issuer",
        s.get("homelab_cert_manager_issuer"),
        default="letsencrypt-production",
    )
    if issuer is not None and _k8s_name_problem(issuer):
        errors.append(
            f"homelab_cert_manager_issuer '{issuer}' is not a valid Kubernetes name "
            "(lowercase DNS name, at most 253 characters)"
        )
        issuer = None
    t.issuer = issuer

    t.oauth2 = _parse_oauth2(s.get("homelab_oauth2"), errors)
    t.pools = _parse_pools(s.get("homelab_metallb_pools"), t, errors)
    t.api_hostnames = _parse_api_hostnames(s.get("homelab_k3s_api_hostnames"), errors)
    t.tunnel_wildcard = _parse_tunnel_wildcard(
        s.get("homelab_tunnel_wildcard"), t, errors, warnings
    )
    _parse_cluster_dns(s, t, errors)
    return t


def _k8s_name_problem(name):
    if len(name) > 253:
        return True
    return not all(_LABEL.match(part) for part in name.split("."))


def _parse_oauth2(raw, errors):
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        errors.append(f"homelab_oauth2 must be a mapping, got {_type_name(raw)}")
        return None
    ok = True
    for key in raw:
        if key not in OAUTH2_FIELDS:
            errors.append(_unknown_key("homelab_oauth2", key, OAUTH2_FIELDS))
            ok = False
    result = dict(OAUTH2_DEFAULTS)
    url = raw.get("url")
    if url is None or (isinstance(url, str) and not url.strip()):
        errors.append("homelab_oauth2.url is required (the public URL of oauth2-proxy)")
        ok = False
    elif not isinstance(url, str):
        errors.append(f"homelab_oauth2.url must be a string, got {_type_name(url)}")
        ok = False
    else:
        url = str(url).strip().rstrip("/")
        match = re.match(r"^https://([^/:?#]+)(:\d+)?(/[^?#]*)?$", url)
        if not match or _host_problem(_norm_host(match.group(1))):
            errors.append(
                f"homelab_oauth2.url '{url}' must be an https:// URL "
                "(like https://auth.example.com)"
            )
            ok = False
        else:
            result["url"] = url
            result["host"] = _norm_host(match.group(1))
    for key, check, rule in (
        ("namespace", _LABEL, _LABEL_RULE),
        ("service", _RFC1035_LABEL, _RFC1035_RULE),
    ):
        if key not in raw or raw[key] is None:
            continue
        value = raw[key]
        if not isinstance(value, str):
            errors.append(f"homelab_oauth2.{key} must be a string, got {_type_name(value)}")
            ok = False
        elif not check.match(value):
            errors.append(f"homelab_oauth2.{key} '{value}' is not a valid Kubernetes name ({rule})")
            ok = False
        else:
            result[key] = str(value)
    if raw.get("port") is not None:
        port = raw["port"]
        if not _is_int(port):
            errors.append(f"homelab_oauth2.port {_show(port)} must be an integer")
            ok = False
        elif not 1 <= port <= 65535:
            errors.append(f"homelab_oauth2.port {int(port)} is out of range 1-65535")
            ok = False
        else:
            result["port"] = int(port)
    return result if ok else None


def _parse_pools(raw, t, errors):
    if raw is None or raw == {}:
        if t.load_balancer == "metallb":
            errors.append(
                "homelab_metallb_pools.external is required when homelab_load_balancer is 'metallb'"
            )
        return {}
    if not isinstance(raw, dict):
        errors.append(f"homelab_metallb_pools must be a mapping, got {_type_name(raw)}")
        return {}
    if t.load_balancer == "servicelb":
        errors.append(
            "homelab_metallb_pools is only used with homelab_load_balancer 'metallb' "
            "(homelab_load_balancer is 'servicelb')"
        )
        return {}
    for key in raw:
        if key not in POOL_FIELDS:
            errors.append(_unknown_key("homelab_metallb_pools", key, tuple(POOL_FIELDS)))
    if "external" not in raw:
        errors.append(
            "homelab_metallb_pools.external is required when homelab_load_balancer is 'metallb'"
        )
    pools = {}
    for name in ("external", "internal"):
        if name not in raw:
            continue
        pool = _parse_pool(name, raw[name], t, errors)
        if pool is not None:
            pools[name] = pool
    if len(pools) == 2:
        ext, internal = pools["external"], pools["internal"]
        for a0, a1 in ext.ranges:
            for b0, b1 in internal.ranges:
                if a0.version == b0.version and int(a0) <= int(b1) and int(b0) <= int(a1):
                    errors.append(
                        "homelab_metallb_pools: the external and internal pools overlap "
                        f"({a0}-{a1} and {b0}-{b1})"
                    )
        if internal.ingress_address == ext.ingress_address:
            errors.append(
                f"homelab_metallb_pools.internal.ingress_address '{internal.ingress_address}' "
                "must differ from homelab_ingress_address"
            )
    return pools


def _parse_pool(name, raw, t, errors):
    prefix = f"homelab_metallb_pools.{name}"
    if not isinstance(raw, dict):
        errors.append(f"{prefix} must be a mapping, got {_type_name(raw)}")
        return None
    ok = True
    for key in raw:
        if key not in POOL_FIELDS[name]:
            errors.append(_unknown_key(prefix, key, POOL_FIELDS[name]))
            ok = False
    addresses = raw.get("addresses")
    ranges = []
    if not isinstance(addresses, list) or not addresses:
        errors.append(f"{prefix}.addresses must be a non-empty list of CIDRs or FIRST-LAST ranges")
        ok = False
        addresses = []
    for i, entry in enumerate(addresses):
        parsed = _parse_range(entry) if isinstance(entry, str) else None
        if parsed is None:
            errors.append(
                f"{prefix}.addresses[{i}] {_show(entry)} is not a CIDR (10.0.0.200/32) "
                "or a range (10.0.0.200-10.0.0.210)"
            )
            ok = False
        else:
            ranges.append(parsed)

    if name == "external":
        address = t.ingress_address
        cls = t.ingress_class
        where = "homelab_ingress_address"
    else:
        raw_address = raw.get("ingress_address")
        where = f"{prefix}.ingress_address"
        address = None
        if raw_address is None:
            errors.append(f"{prefix}.ingress_address is required")
            ok = False
        elif not isinstance(raw_address, str) or _ip(raw_address) is None:
            errors.append(f"{prefix}.ingress_address {_show(raw_address)} is not an IP address")
            ok = False
        else:
            address = str(_ip(raw_address))
        cls = raw.get("ingress_class")
        if cls is None:
            cls = f"{t.ingress_class}-internal" if t.ingress_class else None
        elif not isinstance(cls, str) or _k8s_name_problem(cls):
            errors.append(
                f"{prefix}.ingress_class {_show(cls)} is not a valid Kubernetes name "
                "(lowercase DNS name, at most 253 characters)"
            )
            ok = False
        elif cls == t.ingress_class:
            errors.append(
                f"{prefix}.ingress_class '{cls}' must differ from homelab_ingress_class '{cls}'"
            )
            ok = False
    if address is not None and ranges:
        ip = ipaddress.ip_address(address)
        if not any(a.version == ip.version and int(a) <= int(ip) <= int(b) for a, b in ranges):
            errors.append(f"{where} '{address}' is not inside {prefix}.addresses")
            ok = False
    if not ok or address is None or cls is None:
        return None
    return Pool(
        name=name,
        addresses=tuple(str(a).strip() for a in addresses),
        ranges=tuple(ranges),
        ingress_address=address,
        ingress_class=str(cls),
    )


def _parse_api_hostnames(raw, errors):
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(f"homelab_k3s_api_hostnames must be a list, got {_type_name(raw)}")
        return []
    names = []
    for i, entry in enumerate(raw):
        if not isinstance(entry, str):
            errors.append(f"homelab_k3s_api_hostnames[{i}] {_show(entry)} must be a string")
            continue
        ip = _ip(entry)
        if ip is not None:
            names.append(str(ip))
        elif "*" not in entry and _host_problem(_norm_host(entry)) is None:
            names.append(_norm_host(entry))
        else:
            errors.append(
                f"homelab_k3s_api_hostnames[{i}] '{entry}' is neither an IP address nor a host name"
            )
    return names


def _parse_tunnel_wildcard(raw, t, errors, warnings):
    if raw is None:
        return False
    if not isinstance(raw, bool):
        errors.append(f"homelab_tunnel_wildcard {_show(raw)} must be true or false")
        return False
    if raw and t.edge in ("router", "none"):
        warnings.append(
            "homelab_tunnel_wildcard is only used with homelab_edge 'tunnel' "
            f"(homelab_edge is '{t.edge}'): ignored"
        )
        return False
    return bool(raw)


# Names the kubernetes plugin of k3s' CoreDNS answers itself (its main server block). A zone
# forwarded elsewhere that is, holds or (for cluster.local) lies inside one of them would take
# those names away from it: CoreDNS answers each query from the server block of the longest
# matching zone.
CLUSTER_DNS_OWN_ZONES = ("cluster.local", "in-addr.arpa", "ip6.arpa")
COREDNS_CUSTOM_CONFIGMAP = "coredns-custom"
COREDNS_NAMESPACE = "kube-system"
COREDNS_SERVER_KEY = "homelab.server"
_UPSTREAM_REFUSED = (
    ("is_unspecified", "the unspecified address"),
    ("is_loopback", "a loopback address (inside the CoreDNS pod that is CoreDNS itself)"),
    ("is_link_local", "a link-local address (pods cannot reach it)"),
    ("is_multicast", "a multicast address"),
)


def _cluster_zone_conflict(zone):
    """Why CoreDNS cannot forward ``zone`` (normalised) to the LAN resolver, or None."""
    hide = "CoreDNS' own zone (kubernetes plugin); forwarding it would hide the cluster's names"
    for own in CLUSTER_DNS_OWN_ZONES:
        if zone == own:
            return f"is {hide}"
        if own.endswith("." + zone):
            return f"holds {own}, {hide}"
    if zone.endswith(".cluster.local"):
        return f"is inside cluster.local, {hide}"
    return None


def _parse_cluster_dns(s, t, errors):
    """homelab_cluster_dns_upstream and homelab_cluster_dns_zones, into ``t``."""
    raw = s.get("homelab_cluster_dns_upstream")
    upstream = None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raw = None
    elif not isinstance(raw, str) or _ip(raw) is None:
        errors.append(
            f"homelab_cluster_dns_upstream {_show(raw)} is not an IP address "
            "(the LAN resolver, typically the router)"
        )
    else:
        ip = _ip(raw)
        refused = [text for test, text in _UPSTREAM_REFUSED if getattr(ip, test)]
        if refused:
            errors.append(
                f"homelab_cluster_dns_upstream '{raw.strip()}' is {refused[0]}; give the LAN "
                "address of the resolver (typically the router)"
            )
        else:
            upstream = str(ip)

    zones_raw = s.get("homelab_cluster_dns_zones")
    if zones_raw is None:
        zones_raw = []
    elif not isinstance(zones_raw, list):
        errors.append(f"homelab_cluster_dns_zones must be a list, got {_type_name(zones_raw)}")
        zones_raw = []
    extra = {}
    for i, entry in enumerate(zones_raw):
        where = f"homelab_cluster_dns_zones[{i}]"
        if not isinstance(entry, str):
            errors.append(f"{where} {_show(entry)} must be a string")
            continue
        zone = _norm_host(entry)
        if not zone and entry.strip() == ".":
            errors.append(
                f"{where} '.' is the root zone: every name would go to the LAN resolver "
                "(names outside the listed zones already follow the node's resolv.conf)"
            )
        elif "*" in zone or _host_problem(zone):
            errors.append(f"{where} '{entry}' is not a DNS zone name (like lan or home.arpa)")
        elif t.domain and (zone == t.domain or zone.endswith("." + t.domain)):
            errors.append(
                f"{where} '{entry}' is inside homelab_domain '{t.domain}', which is forwarded "
                "already"
            )
        elif zone in extra:
            errors.append(f"{where} '{entry}' repeats homelab_cluster_dns_zones[{extra[zone]}]")
        elif _cluster_zone_conflict(zone):
            errors.append(f"{where} '{entry}' {_cluster_zone_conflict(zone)}")
        else:
            extra[zone] = i
    if extra and raw is None:
        errors.append(
            "homelab_cluster_dns_zones needs homelab_cluster_dns_upstream "
            "(the LAN resolver the zones are forwarded to)"
        )
    if upstream is None or t.domain is None:
        return
    if _cluster_zone_conflict(t.domain):
        errors.append(
            f"homelab_cluster_dns_upstream cannot forward homelab_domain '{t.domain}': it "
            f"{_cluster_zone_conflict(t.domain)}"
        )
        return
    t.cluster_dns_upstream = upstream
    t.cluster_dns_zones = [t.domain, *sorted(extra)]


# ---------------------------------------------------------------------------------------------
# validation of the services


def _label(index, raw):
    name = raw.get("name") if isinstance(raw, dict) else None
    if isinstance(name, str) and name:
        return f"homelab_services[{index}] (name '{name}')"
    return f"homelab_services[{index}]"


def _parse_service(index, raw, t, errors):
    """One service, normalised, or None (its problems appended to ``errors``)."""
    if not isinstance(raw, dict):
        errors.append(f"homelab_services[{index}] must be a mapping, got {_type_name(raw)}")
        return None
    p = _label(index, raw)
    start = len(errors)
    for key in raw:
        if key not in SERVICE_FIELDS:
            errors.append(_unknown_key(p, key, SERVICE_FIELDS))

    def text(key, required=False):
        value = raw.get(key)
        if value is None:
            if required:
                errors.append(f"{p}: field '{key}' is required")
            return None
        if not isinstance(value, str):
            errors.append(f"{p}: field '{key}' must be a string, got {_type_name(value)}")
            return None
        return str(value)

    name = text("name", required=True)
    if name is not None and not _LABEL.match(name):
        errors.append(f"{p}: name '{name}' is not a valid DNS label ({_LABEL_RULE})")

    host = text("host", required=True)
    norm = None
    if host is not None:
        norm = _norm_host(host)
        if "*" in norm:
            errors.append(
                f"{p}: host '{host}' is a wildcard; give each service a concrete host name"
            )
        elif _host_problem(norm):
            errors.append(f"{p}: host '{host}' {_host_problem(norm)}")
        elif t.domain and not (norm == t.domain or norm.endswith("." + t.domain)):
            errors.append(f"{p}: host '{host}' is not inside homelab_domain '{t.domain}'")

    def choice(key, choices, default):
        value = raw.get(key)
        if value is None:
            return default
        if not isinstance(value, str) or value not in choices:
            errors.append(f"{p}: {key} {_show(value)} is not one of: {', '.join(choices)}")
            return None
        return str(value)

    expose = choice("expose", EXPOSES, "lan")
    protocol = choice("protocol", PROTOCOLS, "http")
    auth = choice("auth", AUTHS, "none")

    namespace = text("namespace")
    if namespace is not None and not _LABEL.match(namespace):
        errors.append(f"{p}: namespace '{namespace}' is not a valid DNS label ({_LABEL_RULE})")
    service = text("service")
    if service is not None and not _RFC1035_LABEL.match(service):
        errors.append(
            f"{p}: service '{service}' is not a valid Kubernetes Service name ({_RFC1035_RULE})"
        )

    port = raw.get("port")
    if port is not None:
        if not _is_int(port):
            errors.append(f"{p}: port {_show(port)} must be an integer")
            port = None
        elif not 1 <= port <= 65535:
            errors.append(f"{p}: port {int(port)} is out of range 1-65535")
            port = None
        else:
            port = int(port)

    origin = text("origin")

    if protocol in ORIGIN_PROTOCOLS:
        for key in K8S_FIELDS:
            if raw.get(key) is not None:
                errors.append(
                    f"{p}: field '{key}' does not apply to protocol '{protocol}' "
                    "(cloudflared dials 'origin' itself)"
                )
        if raw.get("origin") is None:
            errors.append(f"{p}: field 'origin' is required for protocol '{protocol}'")
        elif origin is not None:
            problem = _origin_problem(origin, protocol)
            if problem:
                errors.append(f"{p}: origin '{origin}' {problem}")
        if expose == "lan":
            errors.append(
                f"{p}: protocol '{protocol}' is only reachable through the tunnel; "
                "set expose: public"
            )
        elif expose == "public" and t.edge in ("router", "none"):
            errors.append(
                f"{p}: protocol '{protocol}' can be public only through a tunnel, "
                f"but homelab_edge is '{t.edge}'"
            )
    elif protocol is not None:
        if raw.get("origin") is not None:
            errors.append(f"{p}: field 'origin' is only used with protocol tcp or ssh")
        if raw.get("port") is None and protocol == "grpc":
            errors.append(f"{p}: field 'port' is required for protocol 'grpc'")

    if expose == "public" and t.edge == "none":
        errors.append(
            f"{p}: expose 'public' needs homelab_edge 'tunnel' or 'router', "
            "but homelab_edge is 'none'"
        )
    if expose == "public" and t.edge == "tunnel" and protocol == "passthrough":
        errors.append(
            f"{p}: protocol 'passthrough' cannot be public through a tunnel "
            "(the tunnel terminates TLS); use homelab_edge 'router' or expose: lan"
        )
    if (
        expose == "public"
        and t.edge == "tunnel"
        and protocol == "grpc"
        and t.tunnel_protocol == "quic"
    ):
        errors.append(
            f"{p}: protocol 'grpc' fails through the tunnel over QUIC, "
            "but homelab_tunnel_protocol is 'quic'; use 'http2'"
        )
    if auth == "oauth2":
        if protocol in ("passthrough", "tcp", "ssh"):
            errors.append(
                f"{p}: auth 'oauth2' cannot apply to protocol '{protocol}' "
                "(the ingress controller does not see its requests)"
            )
        elif t.oauth2 is None:
            errors.append(f"{p}: auth 'oauth2' needs the homelab_oauth2 settings (at least url)")

    if len(errors) > start:
        return None
    via_ingress = protocol in INGRESS_PROTOCOLS
    return Service(
        index=index,
        name=name,
        host=norm,
        expose=expose,
        protocol=protocol,
        namespace=(namespace or "default") if via_ingress else None,
        service=(service or name) if via_ingress else None,
        port=(port if port is not None else DEFAULT_PORTS.get(protocol)) if via_ingress else None,
        auth=auth,
        origin=origin,
    )


def _origin_problem(origin, protocol):
    match = _ORIGIN.match(origin.strip())
    if not match:
        return f"must look like {protocol}://HOST:PORT"
    scheme = match.group("scheme").lower()
    if scheme != protocol:
        return f"must use the scheme '{protocol}://' to match protocol '{protocol}'"
    parts = _split_hostport(match.group("hostport"))
    if parts is None:
        return f"must look like {protocol}://HOST:PORT"
    return _hostport_problem(*parts)


def _parse_services(raw, t, errors):
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(f"homelab_services must be a list, got {_type_name(raw)}")
        return []
    services = []
    names = {}
    hosts = {}
    for index, item in enumerate(raw):
        svc = _parse_service(index, item, t, errors)
        # Uniqueness is checked on whatever is readable, even when other fields are wrong.
        if isinstance(item, dict):
            name = item.get("name")
            if isinstance(name, str) and name:
                if name in names:
                    errors.append(
                        f"{_label(index, item)}: name '{name}' is already used by "
                        f"homelab_services[{names[name]}]"
                    )
                else:
                    names[name] = index
            host = item.get("host")
            if isinstance(host, str) and host.strip():
                norm = _norm_host(host)
                if norm in hosts:
                    first = hosts[norm]
                    errors.append(
                        f"{_label(index, item)}: host '{host}' is the same host as "
                        f"{_label(first, raw[first])} ('{raw[first]['host']}')"
                    )
                    svc = None
                else:
                    hosts[norm] = index
        if svc is not None:
            services.append(svc)
    return services


# ---------------------------------------------------------------------------------------------
# derivations


def _ingress_classes(t):
    classes = [
        {
            "name": t.ingress_class,
            "address": t.ingress_address,
            "pool": "external" if "external" in t.pools else None,
        }
    ]
    if "internal" in t.pools:
        pool = t.pools["internal"]
        classes.append(
            {"name": pool.ingress_class, "address": pool.ingress_address, "pool": "internal"}
        )
    return classes


def _placement(svc, t):
    """(ingress class, address) that serve ``svc``."""
    if svc.expose == "lan" and "internal" in t.pools:
        pool = t.pools["internal"]
        return pool.ingress_class, pool.ingress_address
    return t.ingress_class, t.ingress_address


def _normalised_service(svc, t):
    data = {
        "name": svc.name,
        "host": svc.host,
        "expose": svc.expose,
        "protocol": svc.protocol,
        "auth": svc.auth,
        "namespace": svc.namespace,
        "service": svc.service,
        "port": svc.port,
        "origin": svc.origin,
        "via_ingress": svc.via_ingress,
        "ingress_class": None,
        "ingress_address": None,
        "tls_secret": None,
    }
    if svc.via_ingress:
        data["ingress_class"], data["ingress_address"] = _placement(svc, t)
        if svc.protocol != "passthrough":
            data["tls_secret"] = f"{svc.name}-tls"
    return data


def _meta(name, namespace, annotations=None):
    meta = {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY_LABEL)}
    if annotations:
        meta["annotations"] = annotations
    return meta


def _oauth2_internal_url(oauth2, path):
    return (
        f"http://{oauth2['service']}.{oauth2['namespace']}.svc.cluster.local:{oauth2['port']}{path}"
    )


def _nginx_objects(services, t):
    objects = []
    for svc in services:
        cls = _placement(svc, t)[0]
        annotations = {}
        if svc.protocol != "passthrough":
            annotations["cert-manager.io/cluster-issuer"] = t.issuer
        if svc.protocol == "grpc":
            annotations[NGINX + "backend-protocol"] = "GRPC"
        elif svc.protocol in ("https", "passthrough"):
            annotations[NGINX + "backend-protocol"] = "HTTPS"
        if svc.protocol == "passthrough":
            annotations[NGINX + "ssl-passthrough"] = "true"
        if svc.auth == "oauth2":
            annotations[NGINX + "auth-url"] = _oauth2_internal_url(t.oauth2, "/oauth2/auth")
            annotations[NGINX + "auth-signin"] = (
                f"{t.oauth2['url']}/oauth2/start?rd=$scheme://$host$escaped_request_uri"
            )
            annotations[NGINX + "auth-response-headers"] = ",".join(OAUTH2_RESPONSE_HEADERS)
        spec = {
            "ingressClassName": cls,
            "rules": [
                {
                    "host": svc.host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {
                                    "service": {
                                        "name": svc.service,
                                        "port": {"number": svc.port},
                                    }
                                },
                            }
                        ]
                    },
                }
            ],
        }
        if svc.protocol != "passthrough":
            spec["tls"] = [{"hosts": [svc.host], "secretName": f"{svc.name}-tls"}]
        objects.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": _meta(svc.name, svc.namespace, annotations),
                "spec": spec,
            }
        )
    return objects


def _traefik_objects(services, t):
    objects = []
    oauth2_namespaces = set()
    insecure_namespaces = set()
    for svc in services:
        cls = _placement(svc, t)[0]
        annotations = {"kubernetes.io/ingress.class": cls}
        if svc.protocol == "passthrough":
            objects.append(
                {
                    "apiVersion": "traefik.io/v1alpha1",
                    "kind": "IngressRouteTCP",
                    "metadata": _meta(svc.name, svc.namespace, annotations),
                    "spec": {
                        "entryPoints": [TRAEFIK_ENTRYPOINT],
                        "routes": [
                            {
                                "match": f"HostSNI(`{svc.host}`)",
                                "services": [{"name": svc.service, "port": svc.port}],
                            }
                        ],
                        "tls": {"passthrough": True},
                    },
                }
            )
            continue
        secret = f"{svc.name}-tls"
        objects.append(
            {
                "apiVersion": "cert-manager.io/v1",
                "kind": "Certificate",
                "metadata": _meta(svc.name, svc.namespace),
                "spec": {
                    "secretName": secret,
                    "dnsNames": [svc.host],
                    "issuerRef": {
                        "group": "cert-manager.io",
                        "kind": "ClusterIssuer",
                        "name": t.issuer,
                    },
                },
            }
        )
        backend = {"name": svc.service, "port": svc.port}
        if svc.protocol == "grpc":
            backend["scheme"] = "h2c"
        elif svc.protocol == "https":
            backend["scheme"] = "https"
            backend["serversTransport"] = TRAEFIK_INSECURE_TRANSPORT
            insecure_namespaces.add(svc.namespace)
        route = {"kind": "Rule", "match": f"Host(`{svc.host}`)", "services": [backend]}
        if svc.auth == "oauth2":
            route["middlewares"] = [{"name": TRAEFIK_OAUTH2_MIDDLEWARE}]
            oauth2_namespaces.add(svc.namespace)
        objects.append(
            {
                "apiVersion": "traefik.io/v1alpha1",
                "kind": "IngressRoute",
                "metadata": _meta(svc.name, svc.namespace, annotations),
                "spec": {
                    "entryPoints": [TRAEFIK_ENTRYPOINT],
                    "routes": [route],
                    "tls": {"secretName": secret},
                },
            }
        )
    for namespace in oauth2_namespaces:
        objects.append(
            {
                "apiVersion": "traefik.io/v1alpha1",
                "kind": "Middleware",
                "metadata": _meta(TRAEFIK_OAUTH2_MIDDLEWARE, namespace),
                "spec": {
                    "forwardAuth": {
                        # oauth2-proxy's own path (static upstream): answers 2xx for a valid
                        # session and redirects to the sign-in flow otherwise.
                        "address": _oauth2_internal_url(t.oauth2, "/"),
                        "authResponseHeaders": list(OAUTH2_RESPONSE_HEADERS),
                    }
                },
            }
        )
    for namespace in insecure_namespaces:
        objects.append(
            {
                "apiVersion": "traefik.io/v1alpha1",
                "kind": "ServersTransport",
                "metadata": _meta(TRAEFIK_INSECURE_TRANSPORT, namespace),
                "spec": {"insecureSkipVerify": True},
            }
        )
    return objects


_KIND_ORDER = {
    "Middleware": 0,
    "ServersTransport": 1,
    "Certificate": 2,
    "Ingress": 3,
    "IngressRoute": 4,
    "IngressRouteTCP": 5,
}


def _k8s_objects(services, t):
    served = [s for s in services if s.via_ingress]
    if t.ingress_controller == "traefik":
        objects = _traefik_objects(served, t)
    else:
        objects = _nginx_objects(served, t)
    objects.sort(
        key=lambda o: (
            o["metadata"]["namespace"],
            _KIND_ORDER[o["kind"]],
            o["metadata"]["name"],
        )
    )
    return objects


def _tunnel(services, t):
    if t.edge != "tunnel":
        return None
    rules = []
    for svc in services:
        if svc.expose != "public":
            continue
        if svc.via_ingress:
            origin_request = {"noTLSVerify": True, "originServerName": svc.host}
            if svc.protocol == "grpc":
                origin_request["http2Origin"] = True
            address = _placement(svc, t)[1]
            rules.append(
                {
                    "hostname": svc.host,
                    "service": f"https://{_format_hostport(address, 443)}",
                    "originRequest": origin_request,
                }
            )
        else:
            rules.append({"hostname": svc.host, "service": svc.origin.strip()})
    rules.sort(key=lambda r: r["hostname"])
    if t.tunnel_wildcard:
        # After every explicit rule (cloudflared uses the first rule that matches), so it never
        # shadows a tcp/ssh host. The SNI follows each request's host (no fixed server name).
        rules.append(
            {
                "hostname": f"*.{t.domain}",
                "service": f"https://{_format_hostport(t.ingress_address, 443)}",
                "originRequest": {"noTLSVerify": True, "matchSNItoHost": True},
            }
        )
    rules.append({"service": "http_status:404"})
    tunnel_id = t.tunnel_id or TUNNEL_ID_PLACEHOLDER
    return {
        "name": t.tunnel_name,
        "id": t.tunnel_id,
        "mode": t.tunnel_mode,
        "protocol": t.tunnel_protocol,
        "cname_target": f"{tunnel_id}{TUNNEL_CNAME_SUFFIX}",
        "ingress": rules,
    }


def _coredns(t):
    """The coredns-custom ConfigMap: one extra server block forwarding the LAN zones."""
    if t.cluster_dns_upstream is None:
        return None
    zones = " ".join(f"{zone}:53" for zone in t.cluster_dns_zones)
    server = (
        f"{zones} {{\n"
        "    errors\n"
        "    cache 30\n"
        f"    forward . {_format_hostport(t.cluster_dns_upstream, 53)}\n"
        "}\n"
    )
    return {
        "upstream": t.cluster_dns_upstream,
        "zones": list(t.cluster_dns_zones),
        "configmap": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": _meta(COREDNS_CUSTOM_CONFIGMAP, COREDNS_NAMESPACE),
            "data": {COREDNS_SERVER_KEY: server},
        },
    }


def _address_record_type(address):
    ip = _ip(address)
    if ip is None:
        return "CNAME"
    return "AAAA" if ip.version == 6 else "A"


def _dns_records(services, t, tunnel, warnings):
    records = []
    for svc in services:
        if t.edge == "tunnel":
            if svc.expose == "public":
                records.append(
                    {
                        "name": svc.host,
                        "type": "CNAME",
                        "content": tunnel["cname_target"],
                        "proxied": True,
                        "ttl": 1,
                        "comment": dns_comment(svc.name),
                    }
                )
            elif t.dns_lan_records and svc.via_ingress:
                address = _placement(svc, t)[1]
                records.append(
                    {
                        "name": svc.host,
                        "type": _address_record_type(address),
                        "content": address,
                        "proxied": False,
                        "ttl": t.dns_ttl,
                        "comment": dns_comment(svc.name),
                    }
                )
        elif t.edge == "router" and svc.expose == "public" and t.public_address:
            dynamic = t.public_address == PUBLIC_ADDRESS_AUTO
            records.append(
                {
                    "name": svc.host,
                    "type": "A" if dynamic else _address_record_type(t.public_address),
                    "content": PUBLIC_ADDRESS_PLACEHOLDER if dynamic else t.public_address,
                    "proxied": False,
                    "ttl": t.dns_ttl,
                    "comment": dns_comment(svc.name),
                }
            )
    if t.edge == "router" and not t.public_address and any(s.expose == "public" for s in services):
        warnings.append(
            "homelab_public_address is not set: no public DNS records are planned for the "
            "router edge; point the public hosts at the home's address yourself"
        )
    records.sort(key=lambda r: (r["name"], r["type"]))
    return records


def _parse_router_mode(s, t, services, errors):
    """homelab_router_mode and homelab_router_forward_http, checked against the rest.

    In ``port_forward`` mode the router forwards the public ports to the ingress address as
    they are: nothing looks at the TLS name, so whatever that address serves is public.
    """
    mode = _enum(
        errors, "homelab_router_mode", s.get("homelab_router_mode"), ROUTER_MODES, "haproxy"
    )
    t.router_mode = mode
    forward_http = s.get("homelab_router_forward_http")
    if forward_http is None:
        forward_http = False
    elif not isinstance(forward_http, bool):
        errors.append(f"homelab_router_forward_http {_show(forward_http)} must be true or false")
        forward_http = False
    t.router_forward_http = bool(forward_http)
    if mode is None:
        return
    if forward_http and mode != "port_forward":
        errors.append(
            "homelab_router_forward_http is only used with homelab_router_mode 'port_forward' "
            f"(homelab_router_mode is '{mode}'): HAProxy listens on 443 only"
        )
    if mode != "port_forward":
        return
    if t.edge != "router":
        if t.edge is not None:
            errors.append(
                f"homelab_router_mode 'port_forward' needs homelab_edge 'router' "
                f"(homelab_edge is '{t.edge}')"
            )
        return
    if t.router_default_backend:
        errors.append(
            "homelab_router_default_backend cannot be used with homelab_router_mode "
            "'port_forward': a port forward does not read TLS names, so every connection goes "
            "to the ingress address; unset it or use homelab_router_mode 'haproxy'"
        )
    if t.ingress_address and _ip(t.ingress_address).version != 4:
        errors.append(
            f"homelab_router_mode 'port_forward' needs an IPv4 homelab_ingress_address "
            f"(got '{t.ingress_address}'): OpenWrt forwards ports of the IPv4 WAN address"
        )
    for svc in services:
        if svc.expose != "lan" or not svc.via_ingress:
            continue
        address = _placement(svc, t)[1]
        if address == t.ingress_address:
            errors.append(
                f"homelab_services[{svc.index}] (name '{svc.name}'): expose 'lan' would be "
                f"reachable from the Internet: homelab_router_mode 'port_forward' forwards "
                f"port 443 to its ingress address {address}; serve LAN services from a MetalLB "
                "internal pool (homelab_metallb_pools.internal) or use homelab_router_mode "
                "'haproxy'"
            )


def _router_redirects(t):
    """The uci firewall redirects of the port_forward mode: WAN ports to the ingress address."""
    ports = [("https", 443)] + ([("http", 80)] if t.router_forward_http else [])
    return [
        {
            "section": f"{ROUTER_REDIRECT_PREFIX}{scheme}",
            "name": f"homelab {scheme} to the ingress",
            "target": "DNAT",
            "src": "wan",
            "src_dport": port,
            "dest": "lan",
            "dest_ip": t.ingress_address,
            "dest_port": port,
            "proto": "tcp",
        }
        for scheme, port in ports
    ]


def _router(services, t):
    if t.edge != "router":
        return None
    if t.router_mode == "port_forward":
        return {"mode": "port_forward", "redirects": _router_redirects(t)}
    server = _format_hostport(t.ingress_address, 443)
    backends = [
        {"name": ROUTER_BACKEND, "address": t.ingress_address, "port": 443, "server": server}
    ]
    default = None
    if t.router_default_backend:
        host, port = _split_hostport(t.router_default_backend)
        default = {
            "name": ROUTER_DEFAULT_BACKEND,
            "address": host,
            "port": int(port),
            "server": t.router_default_backend,
        }
        backends.append(default)
    sni = [
        {"host": s.host, "backend": ROUTER_BACKEND, "server": server}
        for s in services
        if s.expose == "public" and s.via_ingress
    ]
    sni.sort(key=lambda e: e["host"])
    return {
        "mode": "haproxy",
        "listen_port": 443,
        "backends": backends,
        "sni_map": sni,
        "default_backend": ROUTER_DEFAULT_BACKEND if default else None,
        "unknown_sni": "default_backend" if default else "reject",
    }


def _lan_dns(services, t):
    entries = []
    for svc in services:
        if svc.via_ingress:
            address = _placement(svc, t)[1]
            entries.append({"host": svc.host, "address": address, "service": svc.name})
    entries.sort(key=lambda e: e["host"])
    return entries


def _metallb(t):
    if t.load_balancer != "metallb" or not t.pools:
        return None
    return {
        "pools": [
            {
                "name": f"homelab-{pool.name}",
                "role": pool.name,
                "addresses": list(pool.addresses),
                "ingress_class": pool.ingress_class,
                "ingress_address": pool.ingress_address,
            }
            for pool in (t.pools[k] for k in ("external", "internal") if k in t.pools)
        ]
    }


def _inventory(inventory, t, warnings):
    groups = {}
    raw_groups = (inventory or {}).get("groups") or {}
    for group in INVENTORY_GROUPS:
        hosts = raw_groups.get(group) or []
        groups[group] = [str(h) for h in hosts]
    if inventory is None:
        return groups, []
    if not groups["k3s_servers"]:
        warnings.append("the k3s_servers group is empty: nothing would run the cluster")
    if t.edge == "tunnel" and t.tunnel_mode == "local" and not groups["cloudflared"]:
        warnings.append(
            "homelab_edge is 'tunnel' with homelab_tunnel_mode 'local', but the cloudflared "
            "group is empty: no host would run the connector"
        )
    if t.edge == "router" and not groups["openwrt_routers"]:
        warnings.append(
            "homelab_edge is 'router', but the openwrt_routers group is empty: nothing would "
            "route the public hosts"
        )
    hostvars = inventory.get("hostvars") or {}
    extra = []
    for host in groups["k3s_servers"]:
        address = (hostvars.get(host) or {}).get("ansible_host")
        if isinstance(address, str) and address.strip():
            ip = _ip(address)
            if ip is not None:
                extra.append(str(ip))
            elif _host_problem(_norm_host(address)) is None:
                extra.append(_norm_host(address))
    return groups, extra


def _settings_summary(t):
    return {
        "domain": t.domain,
        "edge": t.edge,
        "ingress_controller": t.ingress_controller,
        "ingress_class": t.ingress_class,
        "load_balancer": t.load_balancer,
        "ingress_address": t.ingress_address,
        "public_address": t.public_address,
        "router_default_backend": t.router_default_backend,
        "tunnel": {
            "name": t.tunnel_name,
            "id": t.tunnel_id,
            "mode": t.tunnel_mode,
            "protocol": t.tunnel_protocol,
        },
        "dns_lan_records": t.dns_lan_records,
        "dns_ttl": t.dns_ttl,
        "cert_manager_issuer": t.issuer,
        "oauth2": dict(sorted(t.oauth2.items())) if t.oauth2 else None,
    }


# ---------------------------------------------------------------------------------------------
# entry points


def build_plan(settings, inventory=None):
    """Validate the catalogue and derive every layer.

    ``settings`` maps variable names (``homelab_domain``, ``homelab_services``, ...; see
    ``SETTINGS``) to their values; missing names take their defaults. ``inventory``, optional,
    is ``{"groups": {group: [host, ...]}, "hostvars": {host: {"ansible_host": ...}}}``.

    Returns the plan as JSON-serialisable data with a stable order. Raises ``CatalogueError``
    listing every problem when anything is invalid.
    """
    if not isinstance(settings, dict):
        raise CatalogueError([f"the settings must be a mapping, got {_type_name(settings)}"])
    errors = []
    warnings = []
    t = _parse_topology(settings, errors, warnings)
    services = _parse_services(settings.get("homelab_services"), t, errors)
    _parse_router_mode(settings, t, services, errors)
    if errors:
        raise CatalogueError(errors, warnings)

    oauth2_host = t.oauth2["host"] if t.oauth2 else None
    if (
        oauth2_host
        and any(s.auth == "oauth2" for s in services)
        and oauth2_host not in {s.host for s in services}
        and (oauth2_host == t.domain or oauth2_host.endswith("." + t.domain))
    ):
        warnings.append(
            f"homelab_oauth2.url host '{oauth2_host}' is not in homelab_services: "
            "add a service for oauth2-proxy so it gets DNS and routing"
        )
    if t.edge == "tunnel" and t.tunnel_protocol == "auto":
        grpc = [s.name for s in services if s.expose == "public" and s.protocol == "grpc"]
        if grpc:
            warnings.append(
                "homelab_tunnel_protocol 'auto' may pick QUIC, which breaks gRPC through the "
                f"tunnel (services: {', '.join(grpc)}); 'http2' is recommended"
            )

    groups, server_addresses = _inventory(inventory, t, warnings)
    tunnel = _tunnel(services, t)
    dns_records = _dns_records(services, t, tunnel, warnings)
    served = [s for s in services if s.via_ingress]
    return {
        "version": PLAN_VERSION,
        "settings": _settings_summary(t),
        "inventory": groups,
        "services": [_normalised_service(s, t) for s in services],
        "ingress_classes": _ingress_classes(t),
        "ingress_features": {
            "ssl_passthrough": any(s.protocol == "passthrough" for s in served),
            "grpc": any(s.protocol == "grpc" for s in served),
            "oauth2": any(s.auth == "oauth2" for s in served),
        },
        "k8s_objects": _k8s_objects(services, t),
        "tunnel": tunnel,
        "dns_records": dns_records,
        "router": _router(services, t),
        "lan_dns": _lan_dns(services, t),
        "metallb": _metallb(t),
        "tls_san": sorted(set(t.api_hostnames) | set(server_addresses)),
        "coredns": _coredns(t),
        "warnings": warnings,
    }


def uci_section_name(service_name):
    """The named uci section owned for ``service_name`` (uci names allow [A-Za-z0-9_])."""
    return "homelab_" + service_name.replace("-", "_")


def plan_files(plan):
    """The plan directory's files as ``{relative path: (format, data)}``, format json or yaml.

    The layout is the public one (docs/plan.md): ``cloudflare/dns_records.json``,
    ``cloudflare/tunnel.json`` (tunnel edge), ``hosts/<router>/uci/dhcp.json`` per router (and
    ``uci/firewall.json`` in the router's port_forward mode) and the Kubernetes objects as a
    k3s auto-deploy manifest on the first k3s server. A yaml file's data is the list of its
    documents.
    """
    files = {"cloudflare/dns_records.json": ("json", plan["dns_records"])}
    tunnel = plan.get("tunnel")
    if tunnel:
        files["cloudflare/tunnel.json"] = (
            "json",
            {"name": tunnel["name"], "mode": tunnel["mode"], "ingress": tunnel["ingress"]},
        )
    sections = {
        uci_section_name(entry["service"]): {
            ".type": "domain",
            "name": entry["host"],
            "ip": entry["address"],
        }
        for entry in plan["lan_dns"]
    }
    for router in plan["inventory"]["openwrt_routers"]:
        files[f"hosts/{router}/uci/dhcp.json"] = ("json", sections)
    redirects = (plan.get("router") or {}).get("redirects")
    if redirects is not None:
        firewall = {}
        for redirect in redirects:
            options = {k: str(v) for k, v in redirect.items() if k != "section"}
            firewall[redirect["section"]] = {".type": "redirect", **options}
        for router in plan["inventory"]["openwrt_routers"]:
            files[f"hosts/{router}/uci/firewall.json"] = ("json", firewall)
    servers = plan["inventory"]["k3s_servers"]
    if servers and plan["k8s_objects"]:
        files[f"hosts/{servers[0]}/{MANIFEST_PATH}"] = ("yaml", plan["k8s_objects"])
    return dict(sorted(files.items()))
