"""What a user of the cloudflare_tunnel role relies on, read back from the (emulated) API.

The catalogue (molecule.yml) plans the tunnel `home` in local mode; the seed (seed.json) holds a
tunnel of another name that must stay as it is.
"""

import base64
import json
import stat
import sys
from pathlib import Path

import pytest

SCENARIO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(SCENARIO.parents[3] / "tests" / "integration"))

from cloudflare_emulator.probe import scenario_probe


@pytest.fixture(scope="module")
def cloudflare():
    with scenario_probe(SCENARIO) as probe:
        yield probe


def the_tunnel(cloudflare, name="home"):
    named = [t for t in cloudflare.live_tunnels() if t["name"] == name]
    assert len(named) == 1, f"live tunnels named {name}: {named}"
    return named[0]


def secret_held_by_cloudflare(cloudflare, tunnel_id):
    # The token Cloudflare hands out for a tunnel carries its secret.
    return json.loads(base64.b64decode(cloudflare.tunnel_token(tunnel_id)))["s"]


def test_the_tunnel_exists_once_and_is_locally_managed(cloudflare):
    tunnel = the_tunnel(cloudflare)
    assert tunnel["remote_config"] is False


def test_the_tunnel_of_another_name_is_untouched(cloudflare):
    other = the_tunnel(cloudflare, "media")
    assert other["remote_config"] is True
    assert "deleted_at" not in other


def test_the_connector_gets_working_credentials(cloudflare):
    tunnel = the_tunnel(cloudflare)
    connector = json.loads(cloudflare.scenario_file("connector.json").read_text())
    assert connector["id"] == tunnel["id"]
    assert connector["name"] == "home"
    assert connector["mode"] == "local"
    assert connector["cname_target"] == f"{tunnel['id']}.cfargotunnel.com"
    assert connector["token"] == ""
    assert connector["credentials"] == {
        "AccountTag": cloudflare.account_id,
        "TunnelID": tunnel["id"],
        "TunnelSecret": secret_held_by_cloudflare(cloudflare, tunnel["id"]),
    }


def test_the_credentials_are_kept_privately_on_the_controller(cloudflare):
    tunnel = the_tunnel(cloudflare)
    kept = cloudflare.scenario_file("cloudflared/home.json")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert stat.S_IMODE(kept.parent.stat().st_mode) == 0o700
    credentials = json.loads(kept.read_text())
    assert credentials["TunnelID"] == tunnel["id"]
    assert credentials["TunnelSecret"] == secret_held_by_cloudflare(cloudflare, tunnel["id"])
