# Copyright (c) spitikos.homelab contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure helpers of cloudflare_public_address (private: not a public API).

Reading an address out of what an address source answered, deciding whether it is a public
IPv4 address, checking the record names, and working out which A records change. No I/O: the
module fetches the source and talks to the API.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from ansible_collections.spitikos.homelab.plugins.module_utils._reconcile import (
    OWNERSHIP_MARKER,
    normalize_fqdn,
    plan_dns_changes,
)

# Cloudflare's trace endpoint, asked by address: the connection then goes over IPv4 and the
# answer's ip= line is the IPv4 address the home's traffic leaves from.
DEFAULT_SOURCE = "https://1.1.1.1/cdn-cgi/trace"
MAX_BODY = 64 * 1024
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_DOCUMENTATION = tuple(
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
_BENCHMARK = ipaddress.ip_network("198.18.0.0/15")
_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def source_problem(url):
    """Why ``url`` cannot be an address source (an http or https URL with a host), or None."""
    text = str(url or "").strip()
    if not text:
        return "is empty"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "is not an http:// or https:// URL"
    if not parts.hostname:
        return "has no host"
    if any(c.isspace() for c in text):
        return "contains white space"
    return None


def address_from_body(body):
    """The address text in an answer: the ``ip=`` line of a ``/cdn-cgi/trace`` answer, or the
    whole body when it is a single word (plain text). Raises ValueError when it is neither."""
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("the answer is not text") from None
    lines = [line.strip() for line in str(body).splitlines() if line.strip()]
    for line in lines:
        if line.startswith("ip="):
            value = line[3:].strip()
            if value:
                return value
            raise ValueError("its ip= line is empty")
    if not lines:
        raise ValueError("the answer is empty")
    if len(lines) == 1 and len(lines[0].split()) == 1:
        return lines[0]
    raise ValueError("the answer is neither a single address nor has an ip= line")


def address_problem(value):
    """Why ``value`` is not a public IPv4 address, or None. ``value`` is text."""
    text = str(value).strip()
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return "is not an IP address"
    if ip.version != 4:
        return "is an IPv6 address, not IPv4 (A records hold IPv4 addresses)"
    if ip.is_unspecified:
        return "is the unspecified address"
    if ip.is_loopback:
        return "is a loopback address"
    if any(ip in net for net in _RFC1918):
        return "is a private address (RFC 1918)"
    if ip in _SHARED:
        return "is in the shared address space of carrier-grade NAT (100.64.0.0/10)"
    if ip.is_link_local:
        return "is a link-local address"
    if ip.is_multicast:
        return "is a multicast address"
    if any(ip in net for net in _DOCUMENTATION):
        return "is reserved for documentation"
    if ip in _BENCHMARK:
        return "is reserved for benchmarking"
    if not ip.is_global:
        return "is a reserved address, not reachable from the Internet"
    return None


def public_ipv4(value, origin):
    """The canonical form of ``value`` if it is a public IPv4 address; else ValueError naming
    ``origin`` (where the value came from) and the value."""
    problem = address_problem(value)
    if problem:
        raise ValueError(f"the address {str(value).strip()!r} from {origin} {problem}")
    return str(ipaddress.ip_address(str(value).strip()))


def name_problem(name, zone_name=None):
    """Why ``name`` (as given) is not a fully qualified name for an A record inside
    ``zone_name`` (None: the zone is not known yet), or None. V(@) is the zone apex."""
    text = normalize_fqdn(name) or ""
    if text == "@":
        return None
    if not text:
        return "is empty"
    if "*" in text:
        return "is a wildcard; only concrete names are kept current"
    labels = text.split(".")
    if len(text) > 253 or len(labels) < 2 or not all(_LABEL.match(label) for label in labels):
        return "is not a fully qualified domain name"
    if zone_name and not (text == zone_name or text.endswith("." + zone_name)):
        return f"is not inside zone {zone_name}"
    return None


def record_name_problems(records, zone_name=None, option="records"):
    """Every problem of the record names, each naming the option and the entry."""
    zone_name = normalize_fqdn(zone_name) if zone_name else None
    problems, seen = [], {}
    for index, spec in enumerate(records):
        name = spec.get("name")
        problem = name_problem(name, zone_name)
        if problem:
            problems.append(f"{option}[{index}].name {name!r} {problem}")
            continue
        key = zone_name if name.strip() == "@" and zone_name else normalize_fqdn(name)
        if key in seen:
            problems.append(f"{option}[{index}].name {name!r} repeats {option}[{seen[key]}]")
        seen.setdefault(key, index)
    return problems


def desired_records(records, address):
    """The records to hand to normalize_desired_records: type A, content the address."""
    out = []
    for spec in records:
        out.append(
            {
                "name": spec["name"],
                "type": "A",
                "content": address,
                "proxied": spec.get("proxied"),
                "ttl": spec.get("ttl"),
                "comment": spec.get("comment"),
            }
        )
    return out


def plan_public_records(current, desired, marker=OWNERSHIP_MARKER):
    """What to send so each desired name has one owned A record holding the address.

    Only records at the desired names count, and of those only A records and CNAMEs (which
    cannot share a name with an A record): one without the marker is a conflict (nothing may
    be sent), an owned one is updated by id, an owned surplus one at the same name (a second
    A record, a CNAME) is deleted. Records of other types at those names, and every record at
    other names, are left alone. Returns plan_dns_changes' plan.
    """
    names = {record["name"] for record in desired}
    relevant = [r for r in current if r["name"] in names and r["type"] in ("A", "CNAME")]
    return plan_dns_changes(relevant, desired, policy="sync", marker=marker)
