"""What a role scenario's verifier sees: the Cloudflare state, read back through the API.

Inside `molecule verify` (MOLECULE_EPHEMERAL_DIRECTORY set), the probe reads the emulator the
scenario's create step started (`emulator.json` in that directory). Anywhere else (the harness
check that every verifier fails where the role did not run) it starts an emulator holding only
the scenario's seed, so the verifier looks at a Cloudflare account the role never touched.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from pathlib import Path

import httpx

from .cli import load_seed, seeded

STATE_FILE = "emulator.json"


class Probe:
    def __init__(self, base_url: str, token: str, account_id: str, ephemeral: Path | None):
        self.base_url = base_url
        self.token = token
        self.account_id = account_id
        # where the scenario keeps its files; None when the scenario did not run
        self.ephemeral = ephemeral

    def _get(self, path: str, query: dict) -> dict:
        answer = httpx.get(
            self.base_url + path,
            params=query,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10,
        )
        answer.raise_for_status()
        return answer.json()

    def get(self, path: str, **query):
        """The `result` of a GET; every page of it for a list."""
        body = self._get(path, query)
        info = body.get("result_info")
        if not isinstance(body["result"], list) or not info:
            return body["result"]
        results = list(body["result"])
        while info["page"] < info["total_pages"]:
            body = self._get(path, dict(query, page=info["page"] + 1))
            results += body["result"]
            info = body["result_info"]
        return results

    def zone_id(self, name: str) -> str:
        (zone,) = self.get("/zones", name=name)
        return zone["id"]

    def records(self, zone: str) -> list[dict]:
        return self.get(f"/zones/{self.zone_id(zone)}/dns_records", per_page=5000)

    def live_tunnels(self) -> list[dict]:
        return self.get(f"/accounts/{self.account_id}/cfd_tunnel", is_deleted="false")

    def tunnel_configuration(self, tunnel_id: str) -> dict:
        return self.get(f"/accounts/{self.account_id}/cfd_tunnel/{tunnel_id}/configurations")

    def tunnel_token(self, tunnel_id: str) -> str:
        return self.get(f"/accounts/{self.account_id}/cfd_tunnel/{tunnel_id}/token")

    def scenario_file(self, name: str) -> Path:
        """A file the scenario wrote into its ephemeral directory (missing if it did not run)."""
        return (self.ephemeral or Path("/nonexistent")) / name


@contextlib.contextmanager
def scenario_probe(scenario_dir: Path):
    """The probe for a role scenario whose seed is `scenario_dir/seed.json`."""
    ephemeral = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    if ephemeral:
        state = json.loads((Path(ephemeral) / STATE_FILE).read_text())
        yield Probe(state["base_url"], state["token"], state["account_id"], Path(ephemeral))
        return
    emulator = seeded(load_seed(scenario_dir / "seed.json"), "cf-probe-" + secrets.token_hex(8))
    try:
        yield Probe(emulator.base_url, emulator.token, emulator.account_id, None)
    finally:
        emulator.stop()
