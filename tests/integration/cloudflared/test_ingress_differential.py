"""Our ingress check and cloudflared's own, on the same rule sets: the same verdict.

``_cloudflared.ingress_problems`` (used by the cloudflared role and the cloudflare_tunnel
module) and ``cloudflared tunnel --config F ingress validate`` judge every row below. A row is
``SAME`` (both refuse or both accept) or ``STRICTER`` (cloudflared accepts, ours refuses, on
purpose: the module's docstring lists why). Each row also says what cloudflared is expected to
do, so that the table keeps rows on both sides; the real binary decides whether that holds.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

SAME, STRICTER = "same", "ours stricter"
OK, BAD = True, False
CATCH_ALL = {"service": "http_status:404"}
WEB = "http://10.0.0.1:8080"


def rule(hostname="a.example.com", service=WEB, **more):
    out = {"hostname": hostname, "service": service}
    out.update(more)
    return out


def origin(**keys):
    return [rule(originRequest=keys), CATCH_ALL]


# (id, rules, what cloudflared does, how ours relates)
ROWS = [
    # accepted by both
    ("only-catch-all", [CATCH_ALL], OK, SAME),
    ("star-catch-all", [{"hostname": "*", "service": "http_status:404"}], OK, SAME),
    ("empty-hostname-and-path", [{"hostname": "", "path": "", "service": "http_status:503"}],
     OK, SAME),
    ("home-example", [rule(), rule("*.example.com", "https://10.0.0.1:443"), CATCH_ALL], OK, SAME),
    ("star-with-path-not-last", [rule("*", path="^/api"), CATCH_ALL], OK, SAME),
    ("duplicate-rules", [rule(), rule(service="http://10.0.0.2"), CATCH_ALL], OK, SAME),
    ("named-services", [rule("a.example.com", "hello_world"), rule("b.example.com", "hello-world"),
                        rule("c.example.com", "bastion"), rule("d.example.com", "socks-proxy"),
                        {"service": "http_status:404"}], OK, SAME),
    ("unix-socket", [rule(service="unix:/run/app.sock"), rule("b.example.com", "unix+tls:/x"),
                     CATCH_ALL], OK, SAME),
    ("stream-schemes", [rule(service="tcp://10.0.0.1:22"), rule("b.example.com", "ssh://h:22"),
                        rule("c.example.com", "rdp://h:3389"), rule("d.example.com", "wss://h"),
                        CATCH_ALL], OK, SAME),
    ("status-700", [{"service": "http_status:700"}], OK, SAME),
    ("ipv6-origin", [rule(service="http://[::1]:8080"), CATCH_ALL], OK, SAME),
    ("durations", origin(connectTimeout="30s", tlsTimeout="1m30s", tcpKeepAlive="500ms"), OK, SAME),
    ("access-with-team", origin(access={"required": True, "teamName": "t", "audTag": ["x"]}),
     OK, SAME),
    ("ip-rules", [rule(service="socks-proxy", originRequest={"ipRules": [
        {"prefix": "10.0.0.0/8", "ports": [80], "allow": True}]}), CATCH_ALL], OK, SAME),
    ("go-regex", [rule(path="^/(api|v[0-9]+)/.*$"), CATCH_ALL], OK, SAME),
    # refused by both
    ("no-rules", [], BAD, SAME),
    ("no-catch-all", [rule()], BAD, SAME),
    ("catch-all-first", [CATCH_ALL, rule()], BAD, SAME),
    ("star-not-last", [{"hostname": "*", "service": WEB}, CATCH_ALL], BAD, SAME),
    ("last-rule-with-path", [rule(), {"service": "http_status:404", "path": "/x"}], BAD, SAME),
    ("last-rule-star-with-path", [rule(), {"hostname": "*", "path": "/x", "service": WEB}],
     BAD, SAME),
    ("hostname-with-port", [rule("a.example.com:443"), CATCH_ALL], BAD, SAME),
    ("wildcard-inside", [rule("a.*.example.com"), CATCH_ALL], BAD, SAME),
    ("two-wildcards", [rule("*.*.example.com"), CATCH_ALL], BAD, SAME),
    ("service-missing", [{"hostname": "a.example.com"}, CATCH_ALL], BAD, SAME),
    ("service-without-scheme", [rule(service="10.0.0.1:443"), CATCH_ALL], BAD, SAME),
    ("service-without-host", [rule(service="http://"), CATCH_ALL], BAD, SAME),
    ("service-with-path", [rule(service="http://10.0.0.1/app"), CATCH_ALL], BAD, SAME),
    ("service-with-slash", [rule(service="http://10.0.0.1/"), CATCH_ALL], BAD, SAME),
    ("service-leading-space", [rule(service=" http://10.0.0.1"), CATCH_ALL], BAD, SAME),
    ("helloworld-unspaced", [rule(service="helloworld"), CATCH_ALL], BAD, SAME),
    ("status-not-a-number", [{"service": "http_status:four"}], BAD, SAME),
    ("status-99", [{"service": "http_status:99"}], BAD, SAME),
    ("status-1000", [{"service": "http_status:1000"}], BAD, SAME),
    ("status-trailing-space", [{"service": "http_status:404 "}], BAD, SAME),
    ("regex-invalid", [rule(path="(unclosed"), CATCH_ALL], BAD, SAME),
    ("regex-lookahead", [rule(path="^/(?=api)"), CATCH_ALL], BAD, SAME),
    ("regex-backreference", [rule(path="^/(a)\\1"), CATCH_ALL], BAD, SAME),
    ("regex-repeat-over-1000", [rule(path="a{1001}"), CATCH_ALL], BAD, SAME),
    ("duration-integer", origin(connectTimeout=30), BAD, SAME),
    ("duration-word", origin(connectTimeout="soon"), BAD, SAME),
    ("integer-as-word", origin(keepAliveConnections="ten"), BAD, SAME),
    ("access-tags-without-team", origin(access={"required": True, "audTag": ["x"]}), BAD, SAME),
    ("ip-rule-bad-cidr", [rule(service="socks-proxy", originRequest={"ipRules": [
        {"prefix": "10.0.0.0/33", "ports": [80], "allow": True}]}), CATCH_ALL], BAD, SAME),
    # cloudflared accepts, ours refuses on purpose
    ("unknown-rule-key", [rule(hostnmae="typo.example.com"), CATCH_ALL], OK, STRICTER),
    ("unknown-origin-key", origin(noTLSVerfy=True), OK, STRICTER),
    ("bool-as-string", origin(noTLSVerify="yes"), OK, STRICTER),
    ("http2-origin-on-tcp", [rule(service="tcp://10.0.0.1:1883",
                                  originRequest={"http2Origin": True}), CATCH_ALL], OK, STRICTER),
    ("hostname-not-dns", [rule("a b.example.com"), CATCH_ALL], OK, STRICTER),
    ("wildcard-not-a-label", [rule("*foo.example.com"), CATCH_ALL], OK, STRICTER),
    ("unknown-scheme", [rule(service="htps://10.0.0.1"), CATCH_ALL], OK, STRICTER),
    ("service-with-query", [rule(service="http://10.0.0.1?x=1"), CATCH_ALL], OK, STRICTER),
    ("service-with-credentials", [rule(service="http://u:p@10.0.0.1"), CATCH_ALL], OK, STRICTER),
    ("service-port-out-of-range", [rule(service="http://10.0.0.1:99999"), CATCH_ALL], OK, STRICTER),
    # Python's re has no \p{...} classes, RE2 has: refused by ours, a limitation.
    ("regex-unicode-class", [rule(path="^/\\pL+$"), CATCH_ALL], OK, STRICTER),
]  # fmt: skip


@pytest.fixture(scope="module")
def verdicts(cloudflared, tmp_path_factory):
    """cloudflared's verdict on every row: {id: (accepted, output)}."""
    directory = tmp_path_factory.mktemp("differential")
    found = {}
    for name, rules, _expected, _relation in ROWS:
        config = directory / f"{name}.yml"
        config.write_text(yaml.safe_dump({"ingress": rules}, sort_keys=False))
        proc = subprocess.run(
            [cloudflared, "tunnel", "--config", config, "ingress", "validate"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        output = proc.stdout + proc.stderr
        # Exit status 0 is acceptance: "OK", or a warning listing unknown keys, which
        # cloudflared then ignores. A refusal exits 1 naming the problem.
        found[name] = (proc.returncode == 0, output)
    return found


@pytest.mark.parametrize(
    ("name", "rules", "expected", "relation"), ROWS, ids=[row[0] for row in ROWS]
)
def test_ours_and_cloudflared_agree(name, rules, expected, relation, verdicts, module_utils):
    accepted, output = verdicts[name]
    ours = module_utils("_cloudflared").ingress_problems(rules)
    assert accepted is expected, f"cloudflared {'accepted' if accepted else 'refused'}: {output}"
    if relation == SAME:
        assert (ours == []) is accepted, (ours, output)
    else:
        assert accepted, output
        assert ours, "ours accepts what this table says it refuses"
