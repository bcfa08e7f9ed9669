"""The cloudflared filters as the role's templates use them: names, arguments and errors."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.spitikos.homelab.plugins.filter.cloudflared import FilterModule

FILTERS = FilterModule().filters()
TUNNEL = "6ff42ae2-765d-4adf-8112-31c55c1551ef"
CATCH_ALL = {"service": "http_status:404"}


def test_every_filter_is_exposed():
    assert sorted(FILTERS) == [
        "cloudflared_arch",
        "cloudflared_artifact_checksum",
        "cloudflared_command",
        "cloudflared_ingress",
        "cloudflared_local_config",
        "cloudflared_pod_manifest",
        "cloudflared_problems",
        "cloudflared_protocol",
        "cloudflared_release_asset",
        "cloudflared_version",
    ]


def test_release_asset_defaults_to_github():
    asset = FILTERS["cloudflared_release_asset"]("2026.9.3", "arm", {"2026.9.3": {"arm": "c" * 64}})
    assert asset["url"] == (
        "https://github.com/cloudflare/cloudflared/releases/download/2026.9.3/cloudflared-linux-arm"
    )


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("cloudflared_release_asset", ("2026.9.3", "arm64", {}), "no checksum"),
        ("cloudflared_artifact_checksum", ("",), "cloudflared_artifact_sha256"),
        ("cloudflared_ingress", ([CATCH_ALL, CATCH_ALL],), "ingress rule #1 of 2"),
        ("cloudflared_local_config", ([CATCH_ALL], "", "/etc/c.json"), "the tunnel id is unknown"),
        ("cloudflared_protocol", ("quic", "http2", ["api"]), "breaks gRPC"),
        ("cloudflared_command", ({"binary": "c", "tunnel_mode": "x", "config_file": "/c",
                                  "metrics": "m", "protocol": "http2"},), "not local or remote"),
        ("cloudflared_pod_manifest", ({"namespace": "n", "name": "c", "image": "i",
                                       "replicas": 2, "protocol": "http2", "token": ""},),
         "needs the tunnel token"),
    ],
)  # fmt: skip
def test_errors_become_filter_errors(name, args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        FILTERS[name](*args)


def test_local_config_with_the_plan_placeholder():
    config = FILTERS["cloudflared_local_config"]([CATCH_ALL], "<tunnel-id>", "/etc/c.json", True)
    assert config["tunnel"] == "<tunnel-id>"


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"tunnel_id": TUNNEL, "credentials": {"AccountTag": "a", "TunnelID": TUNNEL,
                                               "TunnelSecret": "s"}}, []),
        ({"tunnel_id": "", "credentials": {}}, ["the tunnel id is unknown"]),
        ({"tunnel_id": TUNNEL, "credentials": {}}, ["the tunnel credentials are missing"]),
        ({"ingress": [CATCH_ALL, CATCH_ALL]}, ["ingress rule #1 of 2"]),
    ],
)  # fmt: skip
def test_problems(options, expected):
    problems = FILTERS["cloudflared_problems"](options)
    assert len(problems) == len(expected)
    for problem, start in zip(problems, expected, strict=True):
        assert start in problem


def test_version_and_arch():
    assert FILTERS["cloudflared_version"]("cloudflared version 2026.9.3 (built x)") == "2026.9.3"
    assert FILTERS["cloudflared_arch"]("armv6l") == "arm"
