"""What a user of the Cloudflare roles relies on, read back from the (emulated) Cloudflare API.

The catalogue (molecule.yml): api (gRPC), www (http) and ssh public through the tunnel `molecule`
in remote mode; grafana and home on the LAN at 10.0.0.200; policy sync. The seed (seed.json)
holds records the roles must leave alone and one owned record that left the catalogue.
"""

import base64
import json
import sys
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SCENARIO.parents[3] / "tests" / "integration"))

from cloudflare_emulator.probe import scenario_probe

MARKER = "managed by spitikos.homelab"
PUBLIC = {"api": "api.example.com", "www": "www.example.com", "ssh": "ssh.example.com"}
LAN = {"grafana": "grafana.example.com", "home": "home.example.com"}
SEED = json.loads((SCENARIO / "seed.json").read_text())
FOREIGN = [r for r in SEED["zones"][0]["records"] if MARKER not in r.get("comment", "")]


@pytest.fixture(scope="module")
def cloudflare():
    with scenario_probe(SCENARIO) as probe:
        yield probe


@pytest.fixture(scope="module")
def records(cloudflare):
    return cloudflare.records("example.com")


def the_tunnel(cloudflare):
    named = [t for t in cloudflare.live_tunnels() if t["name"] == "molecule"]
    assert len(named) == 1, f"live tunnels named molecule: {named}"
    return named[0]


def _named(records, name):
    return [r for r in records if r["name"] == name]


def test_the_tunnel_is_remotely_managed_and_routes_the_public_hosts(cloudflare):
    tunnel = the_tunnel(cloudflare)
    assert tunnel["remote_config"] is True
    ingress = cloudflare.tunnel_configuration(tunnel["id"])["config"]["ingress"]
    assert [rule.get("hostname") for rule in ingress] == [
        "api.example.com",
        "ssh.example.com",
        "www.example.com",
        None,
    ]
    assert ingress[-1] == {"service": "http_status:404"}
    api = ingress[0]
    assert api["service"] == "https://10.0.0.200:443"
    # gRPC reaches the ingress controller over HTTP/2
    assert api["originRequest"]["http2Origin"] is True
    assert ingress[1]["service"] == "ssh://127.0.0.1:22"


@pytest.mark.parametrize("service", sorted(PUBLIC))
def test_public_services_are_proxied_cnames_to_the_tunnel(cloudflare, records, service):
    tunnel = the_tunnel(cloudflare)
    (record,) = _named(records, PUBLIC[service])
    assert record["type"] == "CNAME"
    assert record["content"] == f"{tunnel['id']}.cfargotunnel.com"
    assert record["proxied"] is True
    # the catalogue's comment, stored with the marker once
    assert record["comment"] == f"service {service}; {MARKER}"


@pytest.mark.parametrize("service", sorted(LAN))
def test_lan_services_have_grey_a_records_to_the_ingress_address(records, service):
    (record,) = (r for r in _named(records, LAN[service]) if r["type"] != "TXT")
    assert record["type"] == "A"
    assert record["content"] == "10.0.0.200"
    assert record["proxied"] is False
    assert record["comment"].endswith(MARKER)


@pytest.mark.parametrize("seeded", FOREIGN, ids=[f"{r['name']} {r['type']}" for r in FOREIGN])
def test_records_without_the_marker_are_untouched(records, seeded):
    (record,) = (r for r in _named(records, seeded["name"]) if r["type"] == seeded["type"])
    assert record["content"] == seeded["content"]
    assert record["ttl"] == seeded.get("ttl", 1)
    assert record.get("comment") == seeded.get("comment")


def test_sync_removed_the_owned_record_that_left_the_catalogue(records):
    assert _named(records, "old.example.com") == []


def test_the_zone_holds_no_wildcard_and_no_duplicate(records):
    assert not [r for r in records if r["name"].startswith("*")]
    keys = [(r["name"], r["type"]) for r in records]
    assert len(keys) == len(set(keys))


def test_the_connector_gets_a_token_for_the_tunnel(cloudflare):
    tunnel = the_tunnel(cloudflare)
    connector = json.loads(cloudflare.scenario_file("connector.json").read_text())
    assert connector["id"] == tunnel["id"]
    assert connector["mode"] == "remote"
    assert connector["cname_target"] == f"{tunnel['id']}.cfargotunnel.com"
    assert connector["credentials"] == {}
    assert connector["token"] == cloudflare.tunnel_token(tunnel["id"])
    token = json.loads(base64.b64decode(connector["token"]))
    assert (token["a"], token["t"]) == (cloudflare.account_id, tunnel["id"])
