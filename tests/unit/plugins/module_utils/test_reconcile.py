"""The shared reconcile helpers: normalisation, ownership marker, DNS planning (table-driven)."""

from __future__ import annotations

import pytest

from ansible_collections.spitikos.homelab.plugins.module_utils import _reconcile as rc

MARKER = "managed by spitikos.homelab"
TARGET = "6ff42ae2-765d-4adf-8112-31c55c1551ef.cfargotunnel.com"


def test_marker_is_the_catalogue_one():
    from ansible_collections.spitikos.homelab.plugins.module_utils import _catalogue

    assert rc.OWNERSHIP_MARKER == _catalogue.OWNERSHIP_MARKER == MARKER


@pytest.mark.parametrize(
    ("field", "value", "rtype", "expected"),
    [
        ("name", "API.Example.COM.", None, "api.example.com"),
        ("name", " www.example.com ", None, "www.example.com"),
        ("ttl", 300.0, None, 300),
        ("ttl", None, None, None),
        ("tags", ["b:2", "a:1", "b:2"], None, ["a:1", "b:2"]),
        ("tags", None, None, None),
        ("content", "2001:DB8:0:0::1", "AAAA", "2001:db8::1"),
        ("content", "010.0.0.1", "A", "010.0.0.1"),  # not an address: left as given
        ("content", "Target.Example.com.", "CNAME", "target.example.com"),
        ("content", "Some TXT Text.", "TXT", "Some TXT Text."),
        ("priority", "10", None, 10),
    ],
)
def test_normalize_value(field, value, rtype, expected):
    assert rc.normalize_value(field, value, rtype) == expected


@pytest.mark.parametrize(
    ("current", "desired", "expected"),
    [
        ({"ttl": 1, "proxied": True}, {"ttl": None, "proxied": True}, []),
        ({"ttl": 1}, {"ttl": 300}, ["ttl"]),
        ({"tags": ["b", "a"]}, {"tags": ["a", "b"]}, []),
        ({"tags": None}, {"tags": []}, []),
        ({"name": "API.example.com."}, {"name": "api.example.com"}, []),
        ({"type": "A", "content": "10.0.0.1"}, {"type": "A", "content": "10.0.0.2"}, ["content"]),
        ({"comment": "x"}, {"comment": None}, []),
    ],
)
def test_differing_fields_leaves_unset_alone(current, desired, expected):
    fields = ("name", "type", "content", "ttl", "proxied", "tags", "comment")
    assert rc.differing_fields(current, desired, fields) == expected


def test_diff_entry_is_limited_and_masks_secrets():
    before = {"id": "1", "created_at": "x", "name": "home", "secret": "s3cr3t", "mode": None}
    after = {"name": "home", "secret": "other", "mode": "remote"}
    entry = rc.diff_entry(
        before, after, ("name", "secret", "mode"), secret_fields=("secret",), header="tunnel home"
    )
    assert entry == {
        "before": {"name": "home", "secret": rc.MASK},
        "after": {"name": "home", "secret": rc.MASK, "mode": "remote"},
        "before_header": "tunnel home",
        "after_header": "tunnel home",
    }


@pytest.mark.parametrize(
    ("comment", "owned", "human"),
    [
        (None, False, ""),
        ("", False, ""),
        ("set by hand", False, "set by hand"),
        (MARKER, True, ""),
        (f"Owner: ada; {MARKER}", True, "Owner: ada"),
        (f"{MARKER} - do not edit", True, "do not edit"),
        ("managed by someone else", False, "managed by someone else"),
    ],
)
def test_ownership_marker(comment, owned, human):
    assert rc.is_owned(comment) is owned
    assert rc.human_comment(comment) == human


@pytest.mark.parametrize(
    ("human", "expected"),
    [
        (None, MARKER),
        ("", MARKER),
        ("  Owner: ada ", f"Owner: ada; {MARKER}"),
    ],
)
def test_compose_comment(human, expected):
    assert rc.compose_comment(human) == expected
    assert rc.human_comment(expected) == (human or "").strip()


def spec(name, rtype="A", content="10.0.0.1", **extra):
    return dict(
        {
            "name": name,
            "type": rtype,
            "content": content,
            "proxied": None,
            "ttl": None,
            "priority": None,
            "comment": None,
            "tags": None,
        },
        **extra,
    )


INVALID = [
    (spec("api.example.org"), "name must be '@' or a name inside zone example.com"),
    (spec("example.com.evil.org"), "name must be '@' or a name inside zone example.com"),
    (spec("api.example.com", content="10.0.0.300"), "is not an IPv4 address"),
    (spec("api.example.com", "AAAA", "10.0.0.1"), "is not an IPv6 address"),
    (spec("api.example.com", "CNAME", "API.example.com."), "a CNAME cannot point at itself"),
    (spec("api.example.com", "TXT", "x", proxied=True), "TXT records cannot be proxied"),
    (spec("api.example.com", proxied=True, ttl=300), "proxied records always have ttl 1"),
    (spec("api.example.com", ttl=5), "ttl must be 1 (automatic) or between 30 and 86400"),
    (spec("api.example.com", ttl=86401), "ttl must be 1 (automatic) or between 30 and 86400"),
    (spec("example.com", "MX", "mx.example.com"), "MX records need a priority"),
    (spec("api.example.com", priority=10), "priority is only used by MX records"),
    (spec("api.example.com", comment=f"{MARKER} x"), "must not contain it elsewhere"),
    (spec("api.example.com", comment=f"x {MARKER} y"), "must not contain it elsewhere"),
    (spec("api.example.com", comment="x" * 80), "longer than 100 characters"),
    (spec("api.example.com", content=""), "content must not be empty"),
]


@pytest.mark.parametrize(("record", "problem"), INVALID)
def test_invalid_desired_records_are_named(record, problem):
    _out, errors = rc.normalize_desired_records([spec("ok.example.com"), record], "example.com")
    assert len(errors) == 1
    assert errors[0].startswith(f"records[1] ({record['name']} {record['type']}): ")
    assert problem in errors[0]


@pytest.mark.parametrize(
    ("comment", "human"),
    [
        (None, None),
        ("", ""),
        ("  LAN only ", "LAN only"),
        (MARKER, ""),
        (f"service api; {MARKER}", "service api"),
        (f"service api - {MARKER} ", "service api"),
        (f"Owner: ada | {MARKER}", "Owner: ada"),
        (f"{MARKER} x", f"{MARKER} x"),  # not at the end: left for the validation to refuse
    ],
)
def test_desired_comment_may_end_with_the_marker(comment, human):
    assert rc.desired_human_comment(comment) == human


def test_catalogue_comments_are_accepted_and_match_what_they_wrote():
    from ansible_collections.spitikos.homelab.plugins.module_utils._catalogue import dns_comment

    wanted = spec("api.example.com", "CNAME", TARGET, proxied=True, comment=dns_comment("api"))
    out, errors = rc.normalize_desired_records([wanted], "example.com")
    assert errors == []
    assert out[0]["human_comment"] == "service api"
    created = rc.plan_dns_changes([], out)["creates"][0]
    assert created["comment"] == dns_comment("api")
    # the record written from that comment is unchanged by the same desired record
    current = api("1", "api.example.com", "CNAME", TARGET, proxied=True, comment=created["comment"])
    assert labels(rc.plan_dns_changes([current], out))["unchanged"] == ["1"]


def test_set_level_errors():
    _out, errors = rc.normalize_desired_records(
        [
            spec("a.example.com"),
            spec("A.example.com."),
            spec("b.example.com", "CNAME", TARGET),
            spec("b.example.com", "TXT", "x"),
        ],
        "example.com",
    )
    assert errors == [
        "records[1] (A.example.com. A): duplicate of records[0]",
        "b.example.com: a CNAME cannot share its name with any other record (asked for CNAME, TXT)",
    ]


def test_valid_records_are_normalised():
    out, errors = rc.normalize_desired_records(
        [
            spec("@", "MX", "Mail.Example.com.", priority=10),
            spec("WWW.Example.com.", "AAAA", "2001:DB8::0:1", ttl=300, tags=["z:1", "a:2"]),
        ],
        "Example.com",
    )
    assert errors == []
    assert out[0]["name"] == "example.com"
    assert out[0]["content"] == "mail.example.com"
    assert out[0]["priority"] == 10
    assert out[1] == {
        "name": "www.example.com",
        "type": "AAAA",
        "content": "2001:db8::1",
        "proxied": None,
        "ttl": 300,
        "tags": ["a:2", "z:1"],
        "human_comment": None,
    }


# --------------------------------------------------------------------------- planning
def api(rid, name, rtype="A", content="10.0.0.1", comment=MARKER, **extra):
    record = {
        "id": rid,
        "name": name,
        "type": rtype,
        "content": content,
        "proxied": False,
        "ttl": 1,
        "tags": [],
        "created_on": "2024-01-01T00:00:00Z",
        "modified_on": "2024-01-01T00:00:00Z",
        "meta": {"source": "primary"},
    }
    if comment is not None:
        record["comment"] = comment
    record.update(extra)
    return rc.record_from_api(record)


def desired(*records):
    out, errors = rc.normalize_desired_records(list(records), "example.com")
    assert errors == []
    return out


def labels(plan):
    return {
        "creates": sorted(f"{r['name']} {r['type']} {r['content']}" for r in plan["creates"]),
        "updates": sorted(f"{c['id']}->{f['type']} {f['content']}" for c, f in plan["updates"]),
        "deletes": sorted(r["id"] for r in plan["deletes"]),
        "unchanged": sorted(c["id"] for c, _f in plan["unchanged"]),
    }


PLANS = [
    pytest.param(
        [],
        [spec("a.example.com")],
        "upsert-only",
        {"creates": ["a.example.com A 10.0.0.1"], "updates": [], "deletes": [], "unchanged": []},
        id="create",
    ),
    pytest.param(
        [api("1", "a.example.com")],
        [spec("a.example.com")],
        "upsert-only",
        {"creates": [], "updates": [], "deletes": [], "unchanged": ["1"]},
        id="unchanged",
    ),
    pytest.param(
        [api("1", "a.example.com", ttl=300.0, tags=["b", "a"])],
        [spec("a.example.com", ttl=300, tags=["a", "b"])],
        "upsert-only",
        {"creates": [], "updates": [], "deletes": [], "unchanged": ["1"]},
        id="normalised-equal",
    ),
    pytest.param(
        [api("1", "a.example.com")],
        [spec("a.example.com", content="10.0.0.2")],
        "sync",
        {"creates": [], "updates": ["1->A 10.0.0.2"], "deletes": [], "unchanged": []},
        id="new-address-updates-by-id",
    ),
    pytest.param(
        [
            api("1", "a.example.com", content="10.0.0.1"),
            api("2", "a.example.com", content="10.0.0.2"),
        ],
        [spec("a.example.com", content="10.0.0.2"), spec("a.example.com", content="10.0.0.3")],
        "upsert-only",
        {"creates": [], "updates": ["1->A 10.0.0.3"], "deletes": [], "unchanged": ["2"]},
        id="round-robin-exact-match-first",
    ),
    pytest.param(
        [api("1", "a.example.com")],
        [spec("a.example.com", "CNAME", TARGET, proxied=True)],
        "upsert-only",
        {"creates": [], "updates": [f"1->CNAME {TARGET}"], "deletes": [], "unchanged": []},
        id="type-change-by-id",
    ),
    pytest.param(
        [api("1", "a.example.com"), api("2", "a.example.com", content="10.0.0.2")],
        [spec("a.example.com", "CNAME", TARGET)],
        "upsert-only",
        {"creates": [], "updates": [f"1->CNAME {TARGET}"], "deletes": ["2"], "unchanged": []},
        id="blocking-owned-record-deleted-even-in-upsert-only",
    ),
    pytest.param(
        [
            api("1", "a.example.com"),
            api("2", "gone.example.com"),
            api("3", "hand.example.com", comment="by hand"),
            api("4", "none.example.com", comment=None),
        ],
        [spec("a.example.com")],
        "upsert-only",
        {"creates": [], "updates": [], "deletes": [], "unchanged": ["1"]},
        id="upsert-only-keeps-leftovers",
    ),
    pytest.param(
        [
            api("1", "a.example.com"),
            api("2", "gone.example.com"),
            api("3", "hand.example.com", comment="by hand"),
            api("4", "none.example.com", comment=None),
        ],
        [spec("a.example.com")],
        "sync",
        {"creates": [], "updates": [], "deletes": ["2"], "unchanged": ["1"]},
        id="sync-deletes-only-owned-leftovers",
    ),
    pytest.param(
        [api("1", "a.example.com", "TXT", "hello", comment="by hand")],
        [spec("a.example.com")],
        "sync",
        {"creates": ["a.example.com A 10.0.0.1"], "updates": [], "deletes": [], "unchanged": []},
        id="foreign-other-type-no-conflict",
    ),
    pytest.param(
        [api("1", "a.example.com", proxied=True)],
        [spec("a.example.com")],
        "upsert-only",
        {"creates": [], "updates": [], "deletes": [], "unchanged": ["1"]},
        id="unset-proxied-left-alone",
    ),
    pytest.param(
        [api("1", "a.example.com", proxied=True)],
        [spec("a.example.com", proxied=False)],
        "upsert-only",
        {"creates": [], "updates": ["1->A 10.0.0.1"], "deletes": [], "unchanged": []},
        id="proxied-set-false",
    ),
]


@pytest.mark.parametrize(("current", "wanted", "policy", "expected"), PLANS)
def test_plan(current, wanted, policy, expected):
    plan = rc.plan_dns_changes(current, desired(*wanted), policy)
    assert plan["conflicts"] == []
    assert labels(plan) == expected


@pytest.mark.parametrize(
    ("foreign", "wanted"),
    [
        (api("9", "a.example.com", comment="by hand"), spec("a.example.com", content="10.0.0.5")),
        (api("9", "a.example.com", comment=None), spec("a.example.com", "CNAME", TARGET)),
        (api("9", "a.example.com", "CNAME", TARGET, comment=None), spec("a.example.com")),
    ],
)
@pytest.mark.parametrize("policy", rc.POLICIES)
def test_conflict_with_foreign_record(foreign, wanted, policy):
    owned = api("1", "b.example.com")
    plan = rc.plan_dns_changes([foreign, owned], desired(wanted), policy)
    assert len(plan["conflicts"]) == 1
    message = plan["conflicts"][0]
    assert message.startswith(
        f"a.example.com {wanted['type']}: the zone already has a.example.com {foreign['type']} "
    )
    assert "(id 9) without the ownership marker" in message
    assert rc.plan_is_empty(plan)


def test_update_keeps_hand_written_comment_and_unset_fields():
    current = api(
        "1",
        "a.example.com",
        comment=f"Owner: ada; {MARKER}",
        ttl=600,
        tags=["team:home"],
        proxied=True,
    )
    plan = rc.plan_dns_changes([current], desired(spec("a.example.com", content="10.0.0.9")))
    ((_cur, full),) = plan["updates"]
    assert full == {
        "name": "a.example.com",
        "type": "A",
        "content": "10.0.0.9",
        "ttl": 1,
        "proxied": True,
        "comment": f"Owner: ada; {MARKER}",
        "tags": ["team:home"],
    }
    body = rc.dns_batch_body(plan)
    assert body == {"deletes": [], "posts": [], "puts": [dict(full, id="1")]}


def test_comment_option_replaces_the_text_beside_the_marker():
    current = api("1", "a.example.com", comment=f"{MARKER} - Owner: ada")
    same = rc.plan_dns_changes([current], desired(spec("a.example.com", comment="Owner: ada")))
    assert labels(same)["unchanged"] == ["1"]
    other = rc.plan_dns_changes([current], desired(spec("a.example.com", comment="Owner: bob")))
    assert other["updates"][0][1]["comment"] == f"Owner: bob; {MARKER}"
    cleared = rc.plan_dns_changes([current], desired(spec("a.example.com", comment="")))
    assert cleared["updates"][0][1]["comment"] == MARKER


def test_new_records_carry_the_marker_and_defaults():
    plan = rc.plan_dns_changes(
        [],
        desired(
            spec("a.example.com", "CNAME", TARGET, proxied=True, comment="public"),
            spec("example.com", "MX", "mx.example.com", priority=5),
        ),
    )
    assert plan["creates"] == [
        {
            "name": "a.example.com",
            "type": "CNAME",
            "content": TARGET,
            "ttl": 1,
            "proxied": True,
            "comment": f"public; {MARKER}",
            "tags": [],
        },
        {
            "name": "example.com",
            "type": "MX",
            "content": "mx.example.com",
            "ttl": 1,
            "comment": MARKER,
            "tags": [],
            "priority": 5,
        },
    ]
    assert [r["id"] for r in plan["final"]] == [None, None]


def test_diff_and_summary():
    current = [api("1", "a.example.com"), api("2", "gone.example.com")]
    plan = rc.plan_dns_changes(
        current, desired(spec("a.example.com", content="10.0.0.2"), spec("new.example.com")), "sync"
    )
    assert rc.dns_plan_summary(plan) == {
        "created": ["new.example.com A 10.0.0.1"],
        "updated": ["a.example.com A 10.0.0.2"],
        "deleted": ["gone.example.com A 10.0.0.1"],
    }
    diffs = rc.dns_plan_diff(plan)
    assert [d["before_header"] for d in diffs] == [
        "a.example.com A (id 1)",
        "new.example.com A (new)",
        "gone.example.com A (id 2)",
    ]
    assert diffs[0]["before"]["content"] == "10.0.0.1"
    assert diffs[0]["after"]["content"] == "10.0.0.2"
    assert "id" not in diffs[0]["before"]
    assert "created_on" not in diffs[0]["before"]
    assert diffs[1]["before"] == {}
    assert diffs[2]["after"] == {}


def test_unknown_policy():
    with pytest.raises(ValueError, match="policy must be one of upsert-only, sync"):
        rc.plan_dns_changes([], [], "mirror")
