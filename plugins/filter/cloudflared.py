# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters the cloudflared role uses; thin wrappers over plugins/module_utils/_cloudflared.py.

Every filter is exposed as ``spitikos.homelab.cloudflared_*``. Bad input raises an error whose
message names the variable or the ingress rule at fault.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.spitikos.homelab.plugins.module_utils import _cloudflared


def _call(func, *args, **kwargs):
    try:
        return func(*args, **kwargs)
    except _cloudflared.CloudflaredError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def cloudflared_arch(machine):
    """``x86_64`` -> ``amd64``, ``aarch64`` -> ``arm64``, ``armv7l``/``armv6l`` -> ``arm``."""
    return _cloudflared.arch(machine)


def cloudflared_release_asset(version, architecture, checksums, base_url=None):
    """``{arch, name, url, sha256}`` of the release binary for one architecture."""
    return _call(
        _cloudflared.release_asset,
        version,
        architecture,
        checksums,
        base_url or _cloudflared.RELEASE_URL,
    )


def cloudflared_artifact_checksum(value):
    """``cloudflared_artifact_sha256`` as 64 lowercase hex digits."""
    return _call(_cloudflared.artifact_checksum, value)


def cloudflared_version(output):
    """The release printed by ``cloudflared --version``; '' when none."""
    return _cloudflared.version_from_output(output)


def cloudflared_ingress(rules):
    """The ingress rules themselves, once they pass cloudflared's own checks."""
    return _call(_cloudflared.validate_ingress, rules)


def cloudflared_local_config(ingress, tunnel_id, credentials_file, placeholder_ok=False):
    """The validated contents of config.yml for a locally managed tunnel."""
    return _call(_cloudflared.local_config, tunnel_id, credentials_file, ingress, placeholder_ok)


def cloudflared_problems(options):
    """Every input problem found in ``options`` (a dict), as a list of messages."""
    problems = []
    if "tunnel_id" in options:
        problem = _cloudflared.tunnel_id_problem(
            options["tunnel_id"], options.get("placeholder_ok", False)
        )
        if problem:
            problems.append(problem)
    if "credentials" in options and not problems:
        problem = _cloudflared.credentials_problem(options["credentials"], options["tunnel_id"])
        if problem:
            problems.append(problem)
    if "ingress" in options:
        problems += _cloudflared.ingress_problems(options["ingress"])
    return problems


def cloudflared_protocol(requested, planned, grpc_public):
    """The edge protocol: the requested or planned one; http2 when public gRPC needs it."""
    return _call(_cloudflared.effective_protocol, requested, planned, grpc_public)


def cloudflared_command(options):
    """The connector's command line (a list); ``options`` holds _cloudflared.command's args."""
    return _call(_cloudflared.command, **options)


def cloudflared_pod_manifest(options):
    """Namespace, Secret and Deployment for pod mode; ``options`` holds pod_manifest's args."""
    return _call(_cloudflared.pod_manifest, **options)


class FilterModule:
    """The cloudflared filters."""

    def filters(self):
        return {
            "cloudflared_arch": cloudflared_arch,
            "cloudflared_artifact_checksum": cloudflared_artifact_checksum,
            "cloudflared_command": cloudflared_command,
            "cloudflared_ingress": cloudflared_ingress,
            "cloudflared_local_config": cloudflared_local_config,
            "cloudflared_pod_manifest": cloudflared_pod_manifest,
            "cloudflared_problems": cloudflared_problems,
            "cloudflared_protocol": cloudflared_protocol,
            "cloudflared_release_asset": cloudflared_release_asset,
            "cloudflared_version": cloudflared_version,
        }
