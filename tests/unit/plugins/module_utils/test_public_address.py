"""The pure parts of cloudflare_public_address: address sources, addresses, names, the plan
(table-driven)."""

from __future__ import annotations

import re

import pytest

from ansible_collections.spitikos.homelab.plugins.module_utils import _public_address as pa
from ansible_collections.spitikos.homelab.plugins.module_utils import _reconcile as rc

MARKER = "managed by spitikos.homelab"
TRACE = b"""fl=12f1
h=1.1.1.1
ip=81.2.69.160
ts=1764697200.123
visit_scheme=https
uag=spitikos.homelab
colo=AMS
http=http/1.1
loc=NL
tls=TLSv1.3
sni=off
warp=off
"""


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://1.1.1.1/cdn-cgi/trace", None),
        ("http://127.0.0.1:8080/ip", None),
        ("https://api.ipify.org", None),
        ("", "is empty"),
        ("ftp://example.com/ip", "is not an http:// or https:// URL"),
        ("api.ipify.org", "is not an http:// or https:// URL"),
        ("https:///path", "has no host"),
        ("http://127.0.0.1:99999/", "is not a valid URL"),
        ("http://exa mple.com/", "contains white space"),
    ],
)
def test_source_problem(url, problem):
    found = pa.source_problem(url)
    if problem is None:
        assert found is None
    else:
        assert found.startswith(problem)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (TRACE, "81.2.69.160"),
        (b"81.2.69.160\n", "81.2.69.160"),
        ("  81.2.69.160  ", "81.2.69.160"),
        (b"\n\n81.2.69.160\r\n", "81.2.69.160"),
        (b"fl=1\nip= 81.2.69.160 \n", "81.2.69.160"),
        (b"not-an-address", "not-an-address"),  # one word: the address check refuses it later
    ],
)
def test_address_from_body(body, expected):
    assert pa.address_from_body(body) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "the answer is empty"),
        (b" \n ", "the answer is empty"),
        (b"<html><body>Hello</body></html>\n<p>x</p>", "neither a single address"),
        (b"your address is 81.2.69.160", "neither a single address"),
        (b"fl=1\nip=\n", "its ip= line is empty"),
        (b"\xff\xfe\x00", "the answer is not text"),
    ],
)
def test_address_from_body_refuses(body, message):
    with pytest.raises(ValueError, match=message):
        pa.address_from_body(body)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("81.2.69.160", None),
        ("1.1.1.1", None),
        (" 8.8.8.8 ", None),
        ("10.1.2.3", "is a private address (RFC 1918)"),
        ("172.16.0.1", "is a private address (RFC 1918)"),
        ("192.168.1.1", "is a private address (RFC 1918)"),
        ("100.64.1.2", "is in the shared address space of carrier-grade NAT"),
        ("127.0.0.1", "is a loopback address"),
        ("169.254.1.1", "is a link-local address"),
        ("224.0.0.1", "is a multicast address"),
        ("0.0.0.0", "is the unspecified address"),
        ("203.0.113.7", "is reserved for documentation"),
        ("198.51.100.1", "is reserved for documentation"),
        ("198.18.0.1", "is reserved for benchmarking"),
        ("240.0.0.1", "is a reserved address"),
        ("255.255.255.255", "is a reserved address"),
        ("2001:4860:4860::8888", "is an IPv6 address, not IPv4"),
        ("home.example.com", "is not an IP address"),
        ("81.2.69", "is not an IP address"),
        ("", "is not an IP address"),
    ],
)
def test_address_problem(value, problem):
    found = pa.address_problem(value)
    if problem is None:
        assert found is None
    else:
        assert found is not None
        assert found.startswith(problem)


def test_public_ipv4_names_the_origin_and_the_value():
    assert pa.public_ipv4(" 81.2.69.160 ", "option address") == "81.2.69.160"
    message = (
        "the address '192.168.1.1' from address_source http://127.0.0.1:1/ is a private "
        "address (RFC 1918)"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        pa.public_ipv4("192.168.1.1", "address_source http://127.0.0.1:1/")


@pytest.mark.parametrize(
    ("name", "zone", "problem"),
    [
        ("home.example.com", "example.com", None),
        ("Home.Example.COM.", "example.com", None),
        ("example.com", "example.com", None),
        ("@", "example.com", None),
        ("a.b.example.com", None, None),
        ("_acme.example.com", "example.com", None),
        ("home.example.org", "example.com", "is not inside zone example.com"),
        ("notexample.com", "example.com", "is not inside zone example.com"),
        ("home", "example.com", "is not a fully qualified domain name"),
        ("bad name.example.com", "example.com", "is not a fully qualified domain name"),
        ("-bad.example.com", "example.com", "is not a fully qualified domain name"),
        ("a..example.com", "example.com", "is not a fully qualified domain name"),
        ("http://home.example.com", "example.com", "is not a fully qualified domain name"),
        ("*.example.com", "example.com", "is a wildcard; only concrete names are kept current"),
        ("", "example.com", "is empty"),
    ],
)
def test_name_problem(name, zone, problem):
    assert pa.name_problem(name, zone) == problem


def test_record_name_problems_name_the_option_and_the_entry():
    problems = pa.record_name_problems(
        [
            {"name": "home.example.com"},
            {"name": "home"},
            {"name": "HOME.example.com."},
            {"name": "home.example.org"},
        ],
        "example.com",
    )
    assert problems == [
        "records[1].name 'home' is not a fully qualified domain name",
        "records[2].name 'HOME.example.com.' repeats records[0]",
        "records[3].name 'home.example.org' is not inside zone example.com",
    ]


def owned(rid, name, content, rtype="A", comment=MARKER, **extra):
    return rc.record_from_api(
        {"id": rid, "name": name, "type": rtype, "content": content, "comment": comment, **extra}
    )


def desired(address, *names, **options):
    records = [dict({"name": n}, **options) for n in names]
    out, errors = rc.normalize_desired_records(pa.desired_records(records, address), "example.com")
    assert errors == []
    return out


NEW = "81.2.69.161"
OLD = "81.2.69.160"


@pytest.mark.parametrize(
    ("case", "current", "names", "options", "expected"),
    [
        (
            "unchanged",
            [owned("1", "home.example.com", NEW)],
            ["home.example.com"],
            {},
            {"creates": [], "updates": [], "deletes": [], "unchanged": 1, "changed": False},
        ),
        (
            "new address: update by id",
            [owned("1", "home.example.com", OLD)],
            ["home.example.com"],
            {},
            {"creates": [], "updates": ["1"], "deletes": [], "unchanged": 0, "changed": True},
        ),
        (
            "missing: created",
            [],
            ["home.example.com"],
            {},
            {
                "creates": ["home.example.com"],
                "updates": [],
                "deletes": [],
                "unchanged": 0,
                "changed": True,
            },
        ),
        (
            "other names and other types at the name are left alone",
            [
                owned("1", "home.example.com", NEW),
                owned("2", "other.example.com", OLD),
                owned("3", "home.example.com", "2001:db8::1", rtype="AAAA"),
                owned("4", "home.example.com", "hello", rtype="TXT", comment="by hand"),
            ],
            ["home.example.com"],
            {},
            {"creates": [], "updates": [], "deletes": [], "unchanged": 1, "changed": False},
        ),
        (
            "a second owned A record and an owned CNAME at the name go",
            [
                owned("1", "home.example.com", OLD),
                owned("2", "home.example.com", "81.2.69.162"),
                owned("3", "www.example.com", "home.example.com", rtype="CNAME"),
            ],
            ["home.example.com", "www.example.com"],
            {},
            {
                "creates": [],
                "updates": ["1", "3"],
                "deletes": ["2"],
                "unchanged": 0,
                "changed": True,
            },
        ),
        (
            "unset options are left alone, set ones compared",
            [owned("1", "home.example.com", NEW, proxied=True, ttl=1)],
            ["home.example.com"],
            {"proxied": False, "ttl": 120},
            {"creates": [], "updates": ["1"], "deletes": [], "unchanged": 0, "changed": True},
        ),
    ],
)
def test_plan_public_records(case, current, names, options, expected):
    plan = pa.plan_public_records(current, desired(NEW, *names, **options))
    assert plan["conflicts"] == [], case
    assert [r["name"] for r in plan["creates"]] == expected["creates"], case
    assert sorted(c["id"] for c, _full in plan["updates"]) == expected["updates"], case
    assert sorted(r["id"] for r in plan["deletes"]) == expected["deletes"], case
    assert len(plan["unchanged"]) == expected["unchanged"], case
    assert (not rc.plan_is_empty(plan)) is expected["changed"], case
    for record in plan["final"]:
        assert record["type"] == "A"
        assert record["content"] == NEW
        assert MARKER in record["comment"]


@pytest.mark.parametrize(
    ("foreign", "conflict"),
    [
        ({"type": "A", "content": OLD}, True),
        ({"type": "CNAME", "content": "elsewhere.example.net"}, True),
        ({"type": "AAAA", "content": "2001:db8::1"}, False),
        ({"type": "TXT", "content": "v=spf1 -all"}, False),
    ],
)
def test_foreign_records_at_the_name(foreign, conflict):
    current = [
        owned("1", "api.example.com", OLD),
        owned("9", "home.example.com", comment="set by hand", **foreign),
    ]
    plan = pa.plan_public_records(current, desired(NEW, "api.example.com", "home.example.com"))
    if conflict:
        assert len(plan["conflicts"]) == 1
        assert plan["conflicts"][0].startswith(
            f"home.example.com A: the zone already has home.example.com {foreign['type']} "
            f"{foreign['content']} (id 9) without the ownership marker"
        )
        assert plan["updates"] == []
        assert plan["creates"] == []
    else:
        assert plan["conflicts"] == []
        assert [r["name"] for r in plan["creates"]] == ["home.example.com"]


def test_new_records_carry_the_marker_and_the_given_comment():
    plan = pa.plan_public_records(
        [], desired(NEW, "api.example.com", comment="service api; " + MARKER, ttl=300)
    )
    (full,) = plan["creates"]
    assert full == {
        "name": "api.example.com",
        "type": "A",
        "content": NEW,
        "ttl": 300,
        "comment": "service api; " + MARKER,
        "tags": [],
        "proxied": False,
    }
