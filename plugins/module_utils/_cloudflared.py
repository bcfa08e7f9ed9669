# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure functions behind the cloudflared role (private: not a public API).

Nothing here does I/O. The role reaches these functions through the ``spitikos.homelab.
cloudflared_*`` filters: release asset and checksum selection per architecture, the version a
binary reports, validation of the tunnel id and of the ingress rules the way cloudflared
validates its configuration file, the connector's command line and the pod-mode manifest.

Facts about cloudflared used here:

- Releases are tagged ``YYYY.M.P`` on https://github.com/cloudflare/cloudflared/releases; the
  Linux binaries are ``cloudflared-linux-amd64``, ``cloudflared-linux-arm64`` and
  ``cloudflared-linux-arm`` (32-bit ARM, armv6 and armv7); each release's notes list their
  sha256. ``cloudflared --version`` prints ``cloudflared version 2026.9.3 (built ...)``.
- Ingress rules (cloudflared's ``ingress/ingress.go`` and the "Configuration file" page of the
  Cloudflare Tunnel documentation): rules are matched top to bottom; the last rule must match
  every request (no hostname, or ``*``, and no path); no earlier rule may match every request;
  a hostname carries no port and a wildcard only as its first character; a path is a Go (RE2)
  regular expression; a service is ``unix:PATH``, ``unix+tls:PATH``, ``http_status:CODE``
  (100-999), ``hello_world`` (or ``hello-world``), ``socks-proxy``, ``bastion`` or a URL with a
  scheme and a host and no path; ``originRequest`` durations are Go durations (``30s``); an
  ``access`` block that is required and names audience tags needs its team name; ``ipRules``
  prefixes are CIDRs. ``tests/integration/cloudflared/test_ingress_differential.py`` holds this
  module and cloudflared itself to the same verdicts.
- Where this module is stricter than cloudflared, on purpose (cloudflared accepts these and the
  connector then misbehaves or ignores them): unknown keys in a rule or in ``originRequest``
  (cloudflared only warns), host names that are not DNS names (``*`` only as a whole leftmost
  label), URL schemes other than http, https, ws, wss, tcp, ssh, rdp and smb (cloudflared carries
  any other scheme as a TCP stream), a URL with credentials, a query, a fragment or a port out of
  range, booleans and integers given as strings, and ``http2Origin`` on a non-HTTP origin.
"""

from __future__ import annotations

import ipaddress
import json
import re
import uuid

RELEASE_URL = "https://github.com/cloudflare/cloudflared/releases/download"
ARCHES = ("amd64", "arm64", "arm")
TUNNEL_ID_PLACEHOLDER = "<tunnel-id>"
PROTOCOLS = ("auto", "http2", "quic")
METRICS_PORT = 2000

# uname -m / ansible_architecture values -> the architecture in the release asset's name.
_MACHINE_ARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv7": "arm",
    "armv6l": "arm",
    "armhf": "arm",
    "arm": "arm",
}
_VERSION = re.compile(r"^\d{4}\.\d{1,2}\.\d+$")
_VERSION_IN_OUTPUT = re.compile(r"\bcloudflared version (\d{4}\.\d{1,2}\.\d+)\b")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_LABEL = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$")
_PORT = re.compile(r"^[0-9]{1,5}$")
# Go's time.ParseDuration: "0", or signed decimal numbers each with a unit.
_GO_DURATION = re.compile(r"^[-+]?(0|((\d+(\.\d*)?|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h))+)$")
# Perl syntax that Python's re accepts and Go's regexp (RE2) refuses: lookaround, atomic groups,
# backreferences, \Z, possessive quantifiers; and RE2's limit of 1000 on repeat counts.
_NOT_RE2 = (
    (re.compile(r"\(\?(=|!|<=|<!|>)"), "lookaround and atomic groups"),
    (re.compile(r"(?<!\\)(\\\\)*\\([1-9]|Z)"), "backreferences and \\Z"),
    (re.compile(r"(?<!\\)(\\\\)*[*+?}]\+"), "possessive quantifiers"),
)
_REPEAT = re.compile(r"(?<!\\)\{(\d+)(,(\d*))?\}")

RULE_KEYS = ("hostname", "path", "service", "originRequest")
# cloudflared's OriginRequestConfig (config/configuration.go), by value type.
_ORIGIN_BOOL = (
    "noHappyEyeballs",
    "noTLSVerify",
    "disableChunkedEncoding",
    "bastionMode",
    "http2Origin",
    "matchSNItoHost",
)
_ORIGIN_STR = ("httpHostHeader", "originServerName", "caPool", "proxyAddress", "proxyType")
_ORIGIN_DURATION = ("connectTimeout", "tlsTimeout", "tcpKeepAlive", "keepAliveTimeout")
_ORIGIN_INT = ("keepAliveConnections", "proxyPort")
_ORIGIN_OTHER = ("ipRules", "access")
ORIGIN_KEYS = _ORIGIN_BOOL + _ORIGIN_STR + _ORIGIN_DURATION + _ORIGIN_INT + _ORIGIN_OTHER

# Services that are not URLs (cloudflared accepts three spellings of the hello world origin).
_NAMED_SERVICES = ("hello_world", "hello-world", "socks-proxy", "bastion")
HTTP_SCHEMES = ("http", "https")
# ws/wss are proxied like http; the others are carried as TCP streams over WebSocket.
URL_SCHEMES = (*HTTP_SCHEMES, "ws", "wss", "tcp", "ssh", "rdp", "smb")


class CloudflaredError(ValueError):
    """An input the cloudflared role cannot use; the message names what is wrong."""


# ---------------------------------------------------------------------------------- releases


def arch(machine):
    """The release architecture (amd64, arm64, arm) for ``uname -m``; '' when there is none."""
    return _MACHINE_ARCH.get(str(machine or "").strip().lower(), "")


def valid_version(version):
    return isinstance(version, str) and bool(_VERSION.match(version))


def version_from_output(output):
    """The release printed by ``cloudflared --version``; '' when there is none."""
    found = _VERSION_IN_OUTPUT.search(str(output or ""))
    return found.group(1) if found else ""


def release_asset(version, architecture, checksums, base_url=RELEASE_URL):
    """The binary to download for one architecture and the sha256 it must have.

    ``checksums`` maps release versions to ``{arch: sha256}``. Returns ``{arch, name, url,
    sha256}``. There is no fallback to a checksum file: cloudflared releases publish their
    checksums in the release notes only, so every downloaded binary needs a pinned value.
    """
    if not valid_version(version):
        raise CloudflaredError(
            f"cloudflared_version '{version}' is not a cloudflared release such as 2026.9.3"
        )
    if architecture not in ARCHES:
        raise CloudflaredError(
            f"architecture '{architecture}' has no cloudflared Linux binary "
            f"(known: {', '.join(ARCHES)}); set cloudflared_arch"
        )
    name = f"cloudflared-linux-{architecture}"
    pinned = (checksums or {}).get(version) or {}
    if not isinstance(pinned, dict):
        raise CloudflaredError(f"cloudflared_sha256['{version}'] must map architectures to sha256")
    sha256 = str(pinned.get(architecture) or "").strip().lower()
    if not sha256:
        raise CloudflaredError(
            f"cloudflared_sha256 has no checksum for {name} {version}: add "
            f"cloudflared_sha256['{version}']['{architecture}'] from the release notes "
            f"({RELEASE_URL.rsplit('/', 1)[0]}/tag/{version}), or install from "
            "cloudflared_artifact_path with cloudflared_artifact_sha256"
        )
    if not _SHA256.match(sha256):
        raise CloudflaredError(
            f"cloudflared_sha256['{version}']['{architecture}'] is not a sha256 (64 hex digits)"
        )
    return {
        "arch": architecture,
        "name": name,
        "url": f"{str(base_url).rstrip('/')}/{version}/{name}",
        "sha256": sha256,
    }


def artifact_checksum(value):
    """``cloudflared_artifact_sha256`` normalised; raises when it is not a sha256."""
    text = str(value or "").strip().lower()
    if text.startswith("sha256:"):
        text = text[len("sha256:") :]
    if not _SHA256.match(text):
        raise CloudflaredError(
            "cloudflared_artifact_sha256 must be the sha256 (64 hex digits) of "
            "cloudflared_artifact_path"
        )
    return text


# ----------------------------------------------------------------------------- tunnel id


def tunnel_id_problem(value, placeholder_ok=False):
    """Why ``value`` is not a usable tunnel id, or None."""
    if placeholder_ok and value == TUNNEL_ID_PLACEHOLDER:
        return None
    if value is None or (isinstance(value, str) and not value.strip()):
        return (
            "the tunnel id is unknown: run the spitikos.homelab.cloudflare_tunnel role first "
            "(it sets cloudflare_tunnel_id), or set homelab_tunnel_id or cloudflared_tunnel_id"
        )
    if value == TUNNEL_ID_PLACEHOLDER:
        return "the tunnel id is still the plan's placeholder '<tunnel-id>'"
    try:
        parsed = uuid.UUID(str(value))
    except ValueError:
        return f"the tunnel id '{value}' is not a UUID"
    if str(parsed) != str(value).strip().lower():
        return f"the tunnel id '{value}' is not a UUID in its usual 8-4-4-4-12 form"
    return None


# ----------------------------------------------------------------------------- ingress rules


def _show(rule):
    try:
        return json.dumps(rule, sort_keys=True)
    except (TypeError, ValueError):
        return repr(rule)


def _hostname_problem(name):
    if not isinstance(name, str):
        return "hostname must be a string"
    if name != name.strip():
        return f"hostname '{name}' has surrounding spaces"
    if ":" in name:
        return f"hostname '{name}' must not contain a port"
    if "*" in name:
        if name.count("*") > 1 or (not name.startswith("*.") and name != "*"):
            return (
                f"hostname '{name}': a wildcard is allowed only as the whole leftmost label "
                "('*.example.com')"
            )
        name = name[2:] if name.startswith("*.") else ""
        if not name:
            return None
    text = name.lower().rstrip(".")
    if len(text) > 253 or not text:
        return f"hostname '{name}' is not a valid DNS name"
    for label in text.split("."):
        if not _LABEL.match(label):
            return f"hostname '{name}' is not a valid DNS name"
    return None


def _url_problem(service):
    match = re.match(r"^([a-zA-Z][a-zA-Z0-9+.-]*)://([^/?#]*)(.*)$", service)
    if not match:
        return (
            f"service '{service}' is not a URL with a scheme and a host, nor one of unix:PATH, "
            "unix+tls:PATH, http_status:CODE, hello_world, socks-proxy, bastion"
        )
    scheme, authority, rest = match.group(1).lower(), match.group(2), match.group(3)
    if scheme not in URL_SCHEMES:
        return f"service '{service}': scheme '{scheme}' is not one of {', '.join(URL_SCHEMES)}"
    if "@" in authority:
        return f"service '{service}' must not carry credentials"
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0 or (authority[end + 1 :] and not authority[end + 1 :].startswith(":")):
            return f"service '{service}' has a malformed IPv6 address"
        host, port = authority[1:end], authority[end + 2 :] or None
    elif ":" in authority:
        host, port = authority.rsplit(":", 1)
    else:
        host, port = authority, None
    if not host:
        return f"service '{service}' has no host"
    if port is not None and (not _PORT.match(port) or not 1 <= int(port) <= 65535):
        return f"service '{service}': port '{port}' is not a number from 1 to 65535"
    if rest:
        return (
            f"service '{service}' has a path, query or fragment: ingress rules cannot proxy to "
            "another path (the request's own path is used)"
        )
    return None


def service_kind(service):
    """``http`` (proxied as HTTP to a URL), ``stream``, ``unix``, ``status`` or ``builtin``."""
    text = str(service)
    if text.startswith(("unix:", "unix+tls:")):
        return "unix"
    if text.startswith("http_status:"):
        return "status"
    if text in _NAMED_SERVICES:
        return "builtin"
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    return "http" if scheme in HTTP_SCHEMES else "stream"


def _service_problem(service):
    if not isinstance(service, str) or not service.strip():
        return "service is required (a URL, unix:PATH, http_status:CODE or hello_world)"
    if service != service.strip():
        return f"service '{service}' has surrounding spaces"
    for prefix in ("unix:", "unix+tls:"):
        if service.startswith(prefix):
            if not service[len(prefix) :]:
                return f"service '{service}' names no socket path"
            return None
    if service.startswith("http_status:"):
        code = service[len("http_status:") :]
        if not code.isdigit() or not 100 <= int(code) <= 999:
            return f"service '{service}': the status must be a number from 100 to 999"
        return None
    if service in _NAMED_SERVICES:
        return None
    return _url_problem(service)


def _origin_request_problems(origin, service):
    if not isinstance(origin, dict):
        return ["originRequest must be a mapping"]
    problems = []
    for key in sorted(str(k) for k in origin):
        if key not in ORIGIN_KEYS:
            problems.append(f"originRequest has an unknown key '{key}'")
    for key in _ORIGIN_BOOL:
        if key in origin and not isinstance(origin[key], bool):
            problems.append(f"originRequest.{key} must be true or false")
    for key in _ORIGIN_STR:
        if key in origin and not isinstance(origin[key], str):
            problems.append(f"originRequest.{key} must be a string")
    for key in _ORIGIN_INT:
        if key in origin and (isinstance(origin[key], bool) or not isinstance(origin[key], int)):
            problems.append(f"originRequest.{key} must be an integer")
    for key in _ORIGIN_DURATION:
        value = origin.get(key)
        if key in origin and not (isinstance(value, str) and _GO_DURATION.match(value)):
            problems.append(f"originRequest.{key} must be a duration such as 30s, 1m30s or 500ms")
    problems += _access_problems(origin.get("access"))
    problems += _ip_rules_problems(origin.get("ipRules"))
    if (
        origin.get("http2Origin") is True
        and isinstance(service, str)
        and service_kind(service) != "http"
    ):
        problems.append(
            "originRequest.http2Origin applies to http:// and https:// origins only, "
            f"not to service '{service}'"
        )
    return problems


def _access_problems(access):
    if access is None:
        return []
    if not isinstance(access, dict):
        return ["originRequest.access must be a mapping"]
    if access.get("required") is True and access.get("audTag") and not access.get("teamName"):
        return ["originRequest.access names audTag but no teamName (required: true needs it)"]
    return []


def _ip_rules_problems(rules):
    if rules is None:
        return []
    if not isinstance(rules, list):
        return ["originRequest.ipRules must be a list"]
    problems = []
    for number, rule in enumerate(rules, 1):
        prefix = rule.get("prefix") if isinstance(rule, dict) else None
        try:
            ipaddress.ip_network(str(prefix), strict=False)
        except ValueError:
            problems.append(f"originRequest.ipRules #{number}: prefix '{prefix}' is not a CIDR")
    return problems


def _path_problem(path):
    if not isinstance(path, str):
        return "path must be a string (a regular expression)"
    try:
        re.compile(path)
    except re.error as exc:
        return f"path '{path}' is not a valid regular expression ({exc})"
    for pattern, what in _NOT_RE2:
        if pattern.search(path):
            return f"path '{path}': cloudflared's regular expressions (RE2) have no {what}"
    for found in _REPEAT.finditer(path):
        if any(n and int(n) > 1000 for n in (found.group(1), found.group(3))):
            return f"path '{path}': a repeat count above 1000 is refused by cloudflared (RE2)"
    return None


def _is_catch_all(rule):
    return rule.get("hostname") in (None, "", "*") and not rule.get("path")


def ingress_problems(rules):
    """Every problem of an ingress rule list, each naming the rule; [] when it is valid."""
    if not isinstance(rules, list):
        return ["the ingress rules must be a list"]
    if not rules:
        return ["there are no ingress rules: at least the catch-all rule is needed"]
    problems = []
    total = len(rules)
    for index, rule in enumerate(rules):
        head = f"ingress rule #{index + 1} of {total} {_show(rule)}"
        if not isinstance(rule, dict):
            problems.append(f"{head}: must be a mapping")
            continue
        found = [f"unknown key '{k}'" for k in sorted(str(k) for k in rule) if k not in RULE_KEYS]
        hostname = rule.get("hostname")
        if hostname not in (None, ""):
            problem = _hostname_problem(hostname)
            if problem:
                found.append(problem)
        path = rule.get("path")
        if path not in (None, ""):
            problem = _path_problem(path)
            if problem:
                found.append(problem)
        problem = _service_problem(rule.get("service"))
        if problem:
            found.append(problem)
        if "originRequest" in rule:
            found += _origin_request_problems(rule["originRequest"], rule.get("service"))
        last = index == total - 1
        if last and not _is_catch_all(rule):
            found.append(
                "the last rule must be the catch-all, matching every request "
                "(no hostname and no path), such as {service: 'http_status:404'}"
            )
        elif not last and _is_catch_all(rule):
            found.append(
                "this rule matches every request, so the rules after it would never be used; "
                "the catch-all must come last"
            )
        problems += [f"{head}: {p}" for p in found]
    return problems


def validate_ingress(rules):
    """The rules themselves when valid; raises ``CloudflaredError`` listing every problem."""
    problems = ingress_problems(rules)
    if problems:
        count = len(problems)
        raise CloudflaredError(
            f"the cloudflared ingress rules have {count} problem{'s' if count != 1 else ''}:\n"
            + "\n".join(f"- {p}" for p in problems)
        )
    return rules


def local_config(tunnel_id, credentials_file, ingress, placeholder_ok=False):
    """The contents of ``config.yml`` for a locally managed tunnel, after validation."""
    problem = tunnel_id_problem(tunnel_id, placeholder_ok)
    if problem:
        raise CloudflaredError(problem)
    if not isinstance(credentials_file, str) or not credentials_file.startswith("/"):
        raise CloudflaredError("the credentials file must be an absolute path")
    validate_ingress(ingress)
    return {
        "tunnel": str(tunnel_id).strip().lower(),
        "credentials-file": credentials_file,
        "ingress": ingress,
    }


def credentials_problem(credentials, tunnel_id):
    """Why ``credentials`` is not the credentials JSON of ``tunnel_id``, or None."""
    if not isinstance(credentials, dict) or not credentials:
        return (
            "the tunnel credentials are missing: run the spitikos.homelab.cloudflare_tunnel role "
            "first (it sets cloudflare_tunnel_credentials) or set cloudflared_tunnel_credentials"
        )
    missing = [k for k in ("AccountTag", "TunnelID", "TunnelSecret") if not credentials.get(k)]
    if missing:
        return f"the tunnel credentials lack {', '.join(missing)}"
    if str(credentials["TunnelID"]).strip().lower() != str(tunnel_id).strip().lower():
        return (
            f"the tunnel credentials belong to tunnel {credentials['TunnelID']}, "
            f"not to tunnel {tunnel_id}"
        )
    return None


# ----------------------------------------------------------------------------- the connector


def effective_protocol(requested, planned, grpc_public):
    """The edge protocol to run with: ``requested`` (or the plan's), http2 for public gRPC.

    gRPC through a tunnel works over HTTP/2 only: ``auto`` becomes ``http2`` when a public
    gRPC service exists, and an explicit ``quic`` is refused.
    """
    protocol = str(requested or planned or "http2")
    if protocol not in PROTOCOLS:
        raise CloudflaredError(
            f"cloudflared_protocol '{protocol}' is not one of {', '.join(PROTOCOLS)}"
        )
    if grpc_public and protocol == "quic":
        raise CloudflaredError(
            "cloudflared_protocol 'quic' breaks gRPC through the tunnel (public gRPC services: "
            f"{', '.join(grpc_public)}); use 'http2'"
        )
    if grpc_public and protocol == "auto":
        return "http2"
    return protocol


def command(binary, tunnel_mode, config_file, metrics, protocol, extra_args=None):
    """The connector's command line as a list: global flags, then ``tunnel run``.

    Local mode reads ``config_file``; remote mode takes its token from ``TUNNEL_TOKEN`` in the
    environment (never on the command line, where every user could read it).
    """
    if protocol not in PROTOCOLS:
        raise CloudflaredError(f"protocol '{protocol}' is not one of {', '.join(PROTOCOLS)}")
    args = [binary, "--no-autoupdate"]
    if tunnel_mode == "local":
        args += ["--config", config_file]
    elif tunnel_mode != "remote":
        raise CloudflaredError(f"tunnel mode '{tunnel_mode}' is not local or remote")
    args += ["--metrics", metrics]
    args += [str(a) for a in extra_args or []]
    args += ["--protocol", protocol, "tunnel", "run"]
    return args


def pod_manifest(
    namespace,
    name,
    image,
    replicas,
    protocol,
    token,
    metrics_port=METRICS_PORT,
    extra_args=None,
    labels=None,
):
    """The pod-mode objects: Namespace, Secret (the token) and Deployment, in apply order."""
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
        raise CloudflaredError("cloudflared_pod_replicas must be a positive integer")
    if not token:
        raise CloudflaredError(
            "pod mode needs the tunnel token: run the spitikos.homelab.cloudflare_tunnel role "
            "first with homelab_tunnel_mode 'remote' (it sets cloudflare_tunnel_token), or set "
            "cloudflared_tunnel_token"
        )
    managed = {"app.kubernetes.io/managed-by": "spitikos.homelab"}
    selector = {"app.kubernetes.io/name": name}
    pod_labels = {**selector, **managed, **(labels or {})}
    secret = f"{name}-token"
    args = command("cloudflared", "remote", "", f"0.0.0.0:{metrics_port}", protocol, extra_args)
    probe = {"httpGet": {"path": "/ready", "port": "metrics"}, "periodSeconds": 10}
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace, "labels": dict(managed)},
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": secret, "namespace": namespace, "labels": dict(managed)},
            "type": "Opaque",
            "stringData": {"token": token},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(pod_labels)},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": dict(selector)},
                "template": {
                    "metadata": {"labels": dict(pod_labels)},
                    "spec": {
                        "securityContext": {
                            "runAsNonRoot": True,
                            "seccompProfile": {"type": "RuntimeDefault"},
                        },
                        "containers": [
                            {
                                "name": "cloudflared",
                                "image": image,
                                "command": args[:1],
                                "args": args[1:],
                                "env": [
                                    {
                                        "name": "TUNNEL_TOKEN",
                                        "valueFrom": {
                                            "secretKeyRef": {"name": secret, "key": "token"}
                                        },
                                    }
                                ],
                                "ports": [
                                    {
                                        "name": "metrics",
                                        "containerPort": metrics_port,
                                        "protocol": "TCP",
                                    }
                                ],
                                "readinessProbe": dict(probe, failureThreshold=3),
                                "livenessProbe": dict(
                                    probe, initialDelaySeconds=10, failureThreshold=6
                                ),
                                "securityContext": {
                                    "allowPrivilegeEscalation": False,
                                    "readOnlyRootFilesystem": True,
                                    "capabilities": {"drop": ["ALL"]},
                                },
                                "resources": {
                                    "requests": {"cpu": "10m", "memory": "32Mi"},
                                    "limits": {"memory": "256Mi"},
                                },
                            }
                        ],
                    },
                },
            },
        },
    ]
