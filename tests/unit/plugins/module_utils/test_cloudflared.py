"""The cloudflared functions: release assets and checksums, ingress validation, the command line.

Expectations are written by hand from cloudflared's documented behaviour: the "Configuration
file" and "Ingress rules" pages of the Cloudflare Tunnel documentation (rules matched top to
bottom, a catch-all last, wildcards only as ``*.`` subdomains, services such as
``http://localhost:8000``, ``ssh://localhost:22``, ``unix:/path``, ``http_status:404``,
``hello_world``) and the release assets ``cloudflared-linux-{amd64,arm64,arm}`` on tags
``YYYY.M.P``. Where this validator is stricter than cloudflared, the case says so.
"""

from __future__ import annotations

from pathlib import Path

import oracles
import pytest
import yaml

from ansible_collections.spitikos.homelab.plugins.module_utils import _cloudflared as cf

GH = "https://github.com/cloudflare/cloudflared/releases/download"
SHA = {"2026.9.3": {"amd64": "a" * 64, "arm64": "b" * 64, "arm": "c" * 64}}
TUNNEL = "6ff42ae2-765d-4adf-8112-31c55c1551ef"
CATCH_ALL = {"service": "http_status:404"}


# ------------------------------------------------------------------------------ releases


@pytest.mark.parametrize(
    ("machine", "expected"),
    [
        ("x86_64", "amd64"),
        ("amd64", "amd64"),
        ("aarch64", "arm64"),
        ("arm64", "arm64"),
        ("armv7l", "arm"),
        ("armv6l", "arm"),
        ("armhf", "arm"),
        ("i686", ""),
        ("mips", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_arch(machine, expected):
    assert cf.arch(machine) == expected


@pytest.mark.parametrize(
    ("machine", "name", "sha"),
    [
        ("x86_64", "cloudflared-linux-amd64", "a" * 64),
        ("aarch64", "cloudflared-linux-arm64", "b" * 64),
        ("armv7l", "cloudflared-linux-arm", "c" * 64),
        ("armv6l", "cloudflared-linux-arm", "c" * 64),
    ],
)
def test_release_asset_per_architecture(machine, name, sha):
    assert cf.release_asset("2026.9.3", cf.arch(machine), SHA) == {
        "arch": cf.arch(machine),
        "name": name,
        "url": f"{GH}/2026.9.3/{name}",
        "sha256": sha,
    }


def test_release_asset_from_a_mirror():
    asset = cf.release_asset("2026.9.3", "arm64", SHA, "https://mirror.lan/cloudflared/")
    assert asset["url"] == "https://mirror.lan/cloudflared/2026.9.3/cloudflared-linux-arm64"


def test_the_role_defaults_pin_a_checksum_for_every_architecture():
    path = Path(__file__).resolve().parents[4] / "roles/cloudflared/defaults/main.yml"
    defaults = yaml.safe_load(path.read_text())
    version = defaults["cloudflared_version"]
    for arch in cf.ARCHES:
        asset = cf.release_asset(version, arch, defaults["cloudflared_sha256"])
        assert asset["url"] == f"{GH}/{version}/cloudflared-linux-{arch}"


@pytest.mark.parametrize(
    ("version", "arch", "checksums", "message"),
    [
        ("v2026.9.3", "amd64", SHA, "'v2026.9.3' is not a cloudflared release"),
        ("2026.9", "amd64", SHA, "is not a cloudflared release"),
        ("2026.9.3", "386", SHA, "architecture '386' has no cloudflared Linux binary"),
        ("2026.9.3", "", SHA, "set cloudflared_arch"),
        ("2026.10.0", "amd64", SHA, "no checksum for cloudflared-linux-amd64 2026.10.0"),
        ("2026.9.3", "arm", {"2026.9.3": {"amd64": "a" * 64}}, "cloudflared_sha256['2026.9.3']"),
        ("2026.9.3", "amd64", {"2026.9.3": {"amd64": "xyz"}}, "is not a sha256"),
        ("2026.9.3", "amd64", {"2026.9.3": "a" * 64}, "must map architectures"),
        ("2026.9.3", "amd64", None, "no checksum"),
    ],
)
def test_release_asset_refuses(version, arch, checksums, message):
    with pytest.raises(cf.CloudflaredError) as caught:
        cf.release_asset(version, arch, checksums)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("A" * 64, "a" * 64),
        (" sha256:" + "b" * 64, "b" * 64),
    ],
)
def test_artifact_checksum(value, expected):
    assert cf.artifact_checksum(value) == expected


@pytest.mark.parametrize("value", ["", None, "a" * 63, "md5:" + "a" * 32, "g" * 64])
def test_artifact_checksum_refuses(value):
    with pytest.raises(cf.CloudflaredError, match="cloudflared_artifact_sha256"):
        cf.artifact_checksum(value)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("cloudflared version 2026.9.3 (built 2026-09-30-1200 UTC)\n", "2026.9.3"),
        ("cloudflared version 2025.11.1 (built stand-in)", "2025.11.1"),
        ("2026.9.3", ""),
        ("", ""),
        (None, ""),
    ],
)
def test_version_from_output(output, expected):
    assert cf.version_from_output(output) == expected


# ------------------------------------------------------------------------------ tunnel id


@pytest.mark.parametrize(
    ("value", "placeholder_ok", "problem"),
    [
        (TUNNEL, False, None),
        ("<tunnel-id>", True, None),
        ("", False, "the tunnel id is unknown"),
        (None, False, "the tunnel id is unknown"),
        ("  ", True, "the tunnel id is unknown"),
        ("<tunnel-id>", False, "still the plan's placeholder"),
        ("home", False, "is not a UUID"),
        (TUNNEL.replace("-", ""), False, "usual 8-4-4-4-12 form"),
    ],
)
def test_tunnel_id_problem(value, placeholder_ok, problem):
    found = cf.tunnel_id_problem(value, placeholder_ok)
    if problem is None:
        assert found is None
    else:
        assert problem in found


@pytest.mark.parametrize(
    ("credentials", "problem"),
    [
        ({"AccountTag": "x", "TunnelID": TUNNEL, "TunnelSecret": "s"}, None),
        ({"AccountTag": "x", "TunnelID": TUNNEL.upper(), "TunnelSecret": "s"}, None),
        ({}, "the tunnel credentials are missing"),
        (None, "the tunnel credentials are missing"),
        ({"TunnelID": TUNNEL}, "lack AccountTag, TunnelSecret"),
        (
            {
                "AccountTag": "x",
                "TunnelID": "11111111-2222-3333-4444-555555555555",
                "TunnelSecret": "s",
            },
            "belong to tunnel 11111111-2222-3333-4444-555555555555",
        ),
    ],
)
def test_credentials_problem(credentials, problem):
    found = cf.credentials_problem(credentials, TUNNEL)
    if problem is None:
        assert found is None
    else:
        assert problem in found


# ------------------------------------------------------------------------------ ingress rules

VALID_RULE_SETS = {
    "the documented example": [
        {"hostname": "gitlab.widgetcorp.tech", "service": "http://localhost:80"},
        {"hostname": "gitlab-ssh.widgetcorp.tech", "service": "ssh://localhost:22"},
        {"service": "http_status:404"},
    ],
    "catch-all only": [CATCH_ALL],
    "a catch-all with hostname '*', as cloudflared allows": [
        {"hostname": "a.example.com", "service": "http://a"},
        {"hostname": "*", "service": "http_status:404"},
    ],
    "hostname '*' with a path before the catch-all": [
        {"hostname": "*", "path": "^/api", "service": "http://a"},
        CATCH_ALL,
    ],
    "a status code cloudflared allows beyond HTTP's": [{"service": "http_status:799"}],
    "grpc through https with http2Origin": [
        {
            "hostname": "api.example.com",
            "service": "https://10.0.0.11:443",
            "originRequest": {
                "noTLSVerify": True,
                "http2Origin": True,
                "originServerName": "api.example.com",
            },
        },
        CATCH_ALL,
    ],
    "a wildcard subdomain": [
        {"hostname": "*.example.com", "service": "https://localhost"},
        CATCH_ALL,
    ],
    "a path rule without hostname before the catch-all": [
        {"path": r"\.(jpg|png|css|js)$", "service": "http://static:8080"},
        {"service": "hello_world"},
    ],
    "every kind of service": [
        {"hostname": "a.example.com", "service": "unix:/run/app.sock"},
        {"hostname": "b.example.com", "service": "unix+tls:/run/app.sock"},
        {"hostname": "c.example.com", "service": "tcp://10.0.0.30:8883"},
        {"hostname": "d.example.com", "service": "rdp://10.0.0.40:3389"},
        {"hostname": "e.example.com", "service": "ws://10.0.0.50"},
        {"hostname": "f.example.com", "service": "http://[fd00::1]:8080"},
        {"hostname": "g.example.com", "service": "socks-proxy"},
        {"hostname": "h.example.com", "service": "bastion"},
        {"hostname": "i.example.com", "service": "hello-world"},
        {"service": "http_status:503"},
    ],
    "origin request durations and numbers": [
        {
            "hostname": "slow.example.com",
            "service": "http://10.0.0.60:8080",
            "originRequest": {
                "connectTimeout": "30s",
                "keepAliveConnections": 10,
                "httpHostHeader": "slow.internal",
            },
        },
        CATCH_ALL,
    ],
}


@pytest.mark.parametrize("name", sorted(VALID_RULE_SETS))
def test_valid_ingress(name):
    rules = VALID_RULE_SETS[name]
    assert cf.ingress_problems(rules) == []
    assert cf.validate_ingress(rules) is rules


# (rules, the offending rule's number, what the message says)
INVALID_RULE_SETS = {
    "no rules": ([], None, "there are no ingress rules"),
    "not a list": ({"service": "http_status:404"}, None, "must be a list"),
    "a rule after the catch-all": (
        [CATCH_ALL, {"hostname": "late.example.com", "service": "http://10.0.0.11"}],
        1,
        "matches every request, so the rules after it would never be used",
    ),
    "the last rule has a hostname": (
        [{"hostname": "a.example.com", "service": "http://10.0.0.11"}],
        1,
        "the last rule must be the catch-all",
    ),
    "the last rule has a path": (
        [{"path": "^/api", "service": "http://10.0.0.11"}],
        1,
        "the last rule must be the catch-all",
    ),
    "hostname '*' before the end": (
        [{"hostname": "*", "service": "http://a"}, CATCH_ALL],
        1,
        "matches every request",
    ),
    "a hostname with a port": (
        [{"hostname": "a.example.com:443", "service": "http://a"}, CATCH_ALL],
        1,
        "must not contain a port",
    ),
    "a wildcard inside the hostname": (
        [{"hostname": "a.*.example.com", "service": "http://a"}, CATCH_ALL],
        1,
        "a wildcard is allowed only as the whole leftmost label",
    ),
    # cloudflared only refuses a '*' after the first character; '*foo.' never matches anything.
    "a partial wildcard label (stricter than cloudflared)": (
        [{"hostname": "*foo.example.com", "service": "http://a"}, CATCH_ALL],
        1,
        "a wildcard is allowed only as the whole leftmost label",
    ),
    "an invalid hostname": (
        [{"hostname": "bad_host!.example.com", "service": "http://a"}, CATCH_ALL],
        1,
        "is not a valid DNS name",
    ),
    "http2Origin on a tcp origin": (
        [
            {
                "hostname": "mqtt.example.com",
                "service": "tcp://10.0.0.30:8883",
                "originRequest": {"http2Origin": True},
            },
            CATCH_ALL,
        ],
        1,
        "originRequest.http2Origin applies to http:// and https:// origins only, not to "
        "service 'tcp://10.0.0.30:8883'",
    ),
    "http2Origin on an ssh origin": (
        [
            {
                "hostname": "ssh.example.com",
                "service": "ssh://127.0.0.1:22",
                "originRequest": {"http2Origin": True},
            },
            CATCH_ALL,
        ],
        1,
        "http2Origin applies to http:// and https:// origins only",
    ),
    "a service with a path": (
        [{"hostname": "a.example.com", "service": "http://10.0.0.11:80/api"}, CATCH_ALL],
        1,
        "has a path, query or fragment",
    ),
    "a service without a scheme": (
        [{"hostname": "a.example.com", "service": "localhost:8080"}, CATCH_ALL],
        1,
        "is not a URL with a scheme and a host",
    ),
    "a service without a host": (
        [{"hostname": "a.example.com", "service": "http://:8080"}, CATCH_ALL],
        1,
        "has no host",
    ),
    "a service port out of range": (
        [{"hostname": "a.example.com", "service": "https://10.0.0.11:70000"}, CATCH_ALL],
        1,
        "port '70000' is not a number from 1 to 65535",
    ),
    "an unknown scheme (stricter than cloudflared)": (
        [{"hostname": "a.example.com", "service": "gopher://10.0.0.11"}, CATCH_ALL],
        1,
        "scheme 'gopher' is not one of",
    ),
    "a status that is not a number": (
        [{"service": "http_status:notfound"}],
        1,
        "must be a number from 100 to 999",
    ),
    "a status out of cloudflared's range": (
        [{"service": "http_status:1000"}],
        1,
        "must be a number from 100 to 999",
    ),
    "hello world without its separator": (
        [{"service": "helloworld"}],
        1,
        "is not a URL with a scheme and a host",
    ),
    "a duration given as a number": (
        [{"service": "http://a", "originRequest": {"connectTimeout": 30}}],
        1,
        "originRequest.connectTimeout must be a duration such as 30s",
    ),
    "a duration that is not one": (
        [{"service": "http://a", "originRequest": {"tlsTimeout": "soon"}}],
        1,
        "originRequest.tlsTimeout must be a duration such as 30s",
    ),
    "access tags without a team": (
        [{"service": "http://a", "originRequest": {"access": {"required": True, "audTag": ["x"]}}}],
        1,
        "originRequest.access names audTag but no teamName",
    ),
    "an ipRules prefix that is not a CIDR": (
        [{"service": "socks-proxy", "originRequest": {"ipRules": [{"prefix": "10.0.0.0/33"}]}}],
        1,
        "originRequest.ipRules #1: prefix '10.0.0.0/33' is not a CIDR",
    ),
    "a lookahead, which RE2 lacks": (
        [{"hostname": "a.example.com", "path": "^/(?=api)", "service": "http://a"}, CATCH_ALL],
        1,
        "cloudflared's regular expressions (RE2) have no lookaround",
    ),
    "a backreference, which RE2 lacks": (
        [{"hostname": "a.example.com", "path": "^/(a)\\1", "service": "http://a"}, CATCH_ALL],
        1,
        "have no backreferences",
    ),
    "a repeat count above RE2's limit": (
        [{"hostname": "a.example.com", "path": "a{2,1001}", "service": "http://a"}, CATCH_ALL],
        1,
        "a repeat count above 1000",
    ),
    "no service": ([{"hostname": "a.example.com"}, CATCH_ALL], 1, "service is required"),
    "a unix socket without a path": ([{"service": "unix:"}], 1, "names no socket path"),
    "an unknown rule key": (
        [{"hostname": "a.example.com", "service": "http://a", "origin": "x"}, CATCH_ALL],
        1,
        "unknown key 'origin'",
    ),
    "an unknown originRequest key": (
        [
            {
                "hostname": "a.example.com",
                "service": "http://a",
                "originRequest": {"noTlsVerify": True},
            },
            CATCH_ALL,
        ],
        1,
        "originRequest has an unknown key 'noTlsVerify'",
    ),
    "a non-boolean noTLSVerify": (
        [
            {
                "hostname": "a.example.com",
                "service": "https://a",
                "originRequest": {"noTLSVerify": "yes"},
            },
            CATCH_ALL,
        ],
        1,
        "originRequest.noTLSVerify must be true or false",
    ),
    "an invalid path regex": (
        [{"hostname": "a.example.com", "path": "([", "service": "http://a"}, CATCH_ALL],
        1,
        "is not a valid regular expression",
    ),
    "a rule that is not a mapping": (["http://a", CATCH_ALL], 1, "must be a mapping"),
}


@pytest.mark.parametrize("name", sorted(INVALID_RULE_SETS))
def test_invalid_ingress_names_the_offending_rule(name):
    rules, number, message = INVALID_RULE_SETS[name]
    problems = cf.ingress_problems(rules)
    assert any(message in p for p in problems), problems
    if number is not None:
        assert any(
            p.startswith(f"ingress rule #{number} of {len(rules)} ") and message in p
            for p in problems
        ), problems
    with pytest.raises(cf.CloudflaredError, match="the cloudflared ingress rules have"):
        cf.validate_ingress(rules)


def test_every_problem_is_reported_at_once():
    rules = [
        CATCH_ALL,
        {
            "hostname": "x.example.com:80",
            "service": "tcp://a:1",
            "originRequest": {"http2Origin": True},
        },
    ]
    problems = cf.ingress_problems(rules)
    assert len(problems) == 4, problems
    assert problems[0].startswith('ingress rule #1 of 2 {"service": "http_status:404"}: ')


def test_local_config():
    rules = VALID_RULE_SETS["grpc through https with http2Origin"]
    config = cf.local_config(TUNNEL.upper(), "/etc/cloudflared/credentials.json", rules)
    assert config == {
        "tunnel": TUNNEL,
        "credentials-file": "/etc/cloudflared/credentials.json",
        "ingress": rules,
    }
    assert list(config) == ["tunnel", "credentials-file", "ingress"]


@pytest.mark.parametrize(
    ("tunnel_id", "credentials_file", "rules", "placeholder_ok", "message"),
    [
        ("", "/etc/c.json", [CATCH_ALL], False, "the tunnel id is unknown"),
        ("<tunnel-id>", "/etc/c.json", [CATCH_ALL], False, "placeholder"),
        (TUNNEL, "c.json", [CATCH_ALL], False, "absolute path"),
        (TUNNEL, "/etc/c.json", [CATCH_ALL, CATCH_ALL], False, "ingress rule #1 of 2"),
        ("<tunnel-id>", "/etc/c.json", [], True, "there are no ingress rules"),
    ],
)
def test_local_config_refuses(tunnel_id, credentials_file, rules, placeholder_ok, message):
    with pytest.raises(cf.CloudflaredError) as caught:
        cf.local_config(tunnel_id, credentials_file, rules, placeholder_ok)
    assert message in str(caught.value)


def test_local_config_keeps_the_placeholder_for_the_plan():
    config = cf.local_config("<tunnel-id>", "/etc/c.json", [CATCH_ALL], placeholder_ok=True)
    assert config["tunnel"] == "<tunnel-id>"


# ------------------------------------------------------------------------------ the connector


@pytest.mark.parametrize(
    ("requested", "planned", "grpc", "expected"),
    [
        ("", "http2", [], "http2"),
        ("", "auto", [], "auto"),
        ("", "quic", [], "quic"),
        ("", None, [], "http2"),
        ("quic", "http2", [], "quic"),
        ("", "auto", ["api"], "http2"),
        ("auto", "http2", ["api"], "http2"),
        ("http2", "auto", ["api"], "http2"),
    ],
)
def test_effective_protocol(requested, planned, grpc, expected):
    assert cf.effective_protocol(requested, planned, grpc) == expected


@pytest.mark.parametrize(
    ("requested", "planned", "grpc", "message"),
    [
        ("quic", "http2", ["api", "chat"], "'quic' breaks gRPC through the tunnel"),
        ("", "quic", ["api"], "(public gRPC services: api)"),
        ("h3", "http2", [], "'h3' is not one of auto, http2, quic"),
    ],
)
def test_effective_protocol_refuses(requested, planned, grpc, message):
    with pytest.raises(cf.CloudflaredError) as caught:
        cf.effective_protocol(requested, planned, grpc)
    assert message in str(caught.value)


def test_command_local_mode_ends_with_protocol_and_tunnel_run():
    args = cf.command(
        "/usr/local/bin/cloudflared",
        "local",
        "/etc/cloudflared/config.yml",
        "127.0.0.1:2000",
        "http2",
    )
    assert args == [
        "/usr/local/bin/cloudflared",
        "--no-autoupdate",
        "--config",
        "/etc/cloudflared/config.yml",
        "--metrics",
        "127.0.0.1:2000",
        "--protocol",
        "http2",
        "tunnel",
        "run",
    ]
    assert " ".join(args).endswith("--protocol http2 tunnel run")


def test_command_remote_mode_keeps_the_token_off_the_command_line():
    args = cf.command(
        "cloudflared", "remote", "/x", "0.0.0.0:2000", "auto", ["--loglevel", "debug"]
    )
    assert args == [
        "cloudflared",
        "--no-autoupdate",
        "--metrics",
        "0.0.0.0:2000",
        "--loglevel",
        "debug",
        "--protocol",
        "auto",
        "tunnel",
        "run",
    ]


@pytest.mark.parametrize(
    ("mode", "protocol", "message"),
    [("both", "http2", "not local or remote"), ("local", "h3", "'h3' is not one of")],
)
def test_command_refuses(mode, protocol, message):
    with pytest.raises(cf.CloudflaredError, match=message):
        cf.command("cloudflared", mode, "/c", "127.0.0.1:2000", protocol)


# ------------------------------------------------------------------------------ pod mode


def manifest(**overrides):
    options = {
        "namespace": "cloudflared",
        "name": "cloudflared",
        "image": "docker.io/cloudflare/cloudflared:2026.9.3",
        "replicas": 2,
        "protocol": "http2",
        "token": "s3cr3t-t0ken",
    }
    options.update(overrides)
    return cf.pod_manifest(**options)


def test_pod_manifest_objects_in_apply_order():
    docs = manifest()
    assert [(d["kind"], d["metadata"]["name"]) for d in docs] == [
        ("Namespace", "cloudflared"),
        ("Secret", "cloudflared-token"),
        ("Deployment", "cloudflared"),
    ]
    assert docs[1]["stringData"] == {"token": "s3cr3t-t0ken"}
    assert {d["metadata"]["labels"]["app.kubernetes.io/managed-by"] for d in docs} == {
        "spitikos.homelab"
    }


def test_pod_deployment_runs_http2_with_the_token_from_the_secret():
    deployment = manifest()[2]
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": "cloudflared"}
    container = spec["template"]["spec"]["containers"][0]
    assert container["command"] == ["cloudflared"]
    assert container["args"] == [
        "--no-autoupdate",
        "--metrics",
        "0.0.0.0:2000",
        "--protocol",
        "http2",
        "tunnel",
        "run",
    ]
    assert container["env"] == [
        {
            "name": "TUNNEL_TOKEN",
            "valueFrom": {"secretKeyRef": {"name": "cloudflared-token", "key": "token"}},
        }
    ]
    assert "s3cr3t-t0ken" not in repr(deployment)
    assert container["ports"] == [{"name": "metrics", "containerPort": 2000, "protocol": "TCP"}]
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "metrics"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/ready", "port": "metrics"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"token": ""}, "pod mode needs the tunnel token"),
        ({"replicas": 0}, "positive integer"),
        ({"replicas": True}, "positive integer"),
        ({"protocol": "h3"}, "'h3' is not one of"),
    ],
)
def test_pod_manifest_refuses(overrides, message):
    with pytest.raises(cf.CloudflaredError, match=message):
        manifest(**overrides)


def test_pod_deployment_is_valid_against_the_kubernetes_schema():
    validate = oracles.require_module("kubernetes_validate")
    for doc in manifest(metrics_port=2001, extra_args=["--loglevel", "info"]):
        # Raises ValidationError (with the offending path) when the object breaks the schema.
        validate.validate(doc, "1.34", strict=True)


def test_the_schema_check_would_notice_a_broken_deployment():
    validate = oracles.require_module("kubernetes_validate")
    deployment = manifest()[2]
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(validate.ValidationError):
        validate.validate(deployment, "1.34", strict=True)
