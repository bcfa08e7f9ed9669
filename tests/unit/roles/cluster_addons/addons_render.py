"""Render the cluster_addons role's manifests in process, and validate Kubernetes objects.

``render(settings, ...)`` derives the plan with the catalogue (as the homelab_catalogue action
does, files included), then renders every manifest the role would write with Ansible's own
templating engine, the role's defaults and vars, and the same variables the role sees.
``validate(doc)`` checks one object against the real schemas: CRD kinds against the copied CRD
schemas made strict, built-in kinds with kubernetes-validate (strict, offline).
"""

from __future__ import annotations

import copy
import json
import re
from functools import cache
from pathlib import Path

import jsonschema
import pytest
import yaml
from kubernetes_validate import utils as kv_utils
from referencing import Registry, Resource

REPO = Path(__file__).resolve().parents[4]
ROLE = REPO / "roles" / "cluster_addons"
SCHEMAS = REPO / "tests" / "unit" / "schemas" / "crds"
# The Kubernetes release k3s_server pins (v1.34.x).
KUBERNETES_VERSION = "1.34.0"
SERVER = "pi1"


from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.spitikos.homelab.plugins.action.homelab_catalogue import (
    render_file,
)
from ansible_collections.spitikos.homelab.plugins.module_utils._catalogue import (
    build_plan,
    plan_files,
)

# Values the role's preflight requires (stand-ins, like a vault would hold).
SECRETS = {
    "cluster_addons_cert_manager_cloudflare_api_token": "cf-token-for-tests",
    "cluster_addons_oauth2_proxy_client_id": "client-id-for-tests",
    "cluster_addons_oauth2_proxy_client_secret": "client-secret-for-tests",
    "cluster_addons_oauth2_proxy_cookie_secret": "0123456789abcdef0123456789abcdef",
}


def _trusted(value):
    """Role defaults and vars as Ansible loads them: their strings may hold templates."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def _role_vars():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    internal = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    return _trusted(defaults), _trusted(internal)


def catalogue_result(settings, servers=(SERVER,)):
    """What homelab_catalogue with files: true returns, for a one-server inventory."""
    inventory = {
        "groups": {
            "k3s_servers": list(servers),
            "k3s_agents": [],
            "cloudflared": [],
            "openwrt_routers": [],
        },
        "hostvars": {},
    }
    plan = json.loads(json.dumps(build_plan(copy.deepcopy(settings), inventory)))
    files = {path: render_file(fmt, data) for path, (fmt, data) in plan_files(plan).items()}
    return {"homelab_plan": plan, "homelab_plan_files": files}


def render(settings, extra=None, planning=False):
    """{file name: text} of every manifest the role writes for ``settings``."""
    defaults, internal = _role_vars()
    result = catalogue_result(settings)
    variables = {
        **defaults,
        **SECRETS,
        **internal,
        **(extra or {}),
        "__cluster_addons_catalogue": result,
        "__cluster_addons_planning": planning,
        "inventory_hostname": SERVER,
        "groups": {"k3s_servers": [SERVER]},
    }
    templar = Templar(loader=DataLoader(), variables=variables)
    rendered = {}
    for item in templar.template(variables["__cluster_addons_files"]):
        if not item["wanted"]:
            continue
        source = (ROLE / "templates" / item["template"]).read_text()
        rendered[item["name"]] = str(templar.template(trust_as_template(source)))
    key = f"hosts/{SERVER}/var/lib/rancher/k3s/server/manifests/homelab-ingress.yaml"
    if key in result["homelab_plan_files"]:
        rendered["homelab-ingress.yaml"] = result["homelab_plan_files"][key]
    return rendered


def documents(text):
    return [d for d in yaml.safe_load_all(text) if d is not None]


def _strict(schema):
    """The schema with unknown fields rejected wherever it declares its properties."""
    if isinstance(schema, list):
        return [_strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _strict(v) for k, v in schema.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@cache
def crd_schema(api_version, kind):
    if "/" not in api_version:
        return None
    group, version = api_version.split("/")
    path = SCHEMAS / f"{group}_{version}_{kind}.json"
    if not path.exists():
        return None
    return _strict(json.loads(path.read_text()))


@cache
def _builtin_schemas():
    """kubernetes-validate's strict schema folder for KUBERNETES_VERSION, and its definitions."""
    wanted = kv_utils.major_minor(KUBERNETES_VERSION)
    version = next(v for v in kv_utils.all_versions() if kv_utils.major_minor(v) == wanted)
    folder = f"kubernetes-json-schema/v{version}-local-strict"
    return folder, kv_utils.schema_contents(f"{folder}/_definitions.json", version)


@cache
def builtin_validator(api_version, kind):
    """The strict validator kubernetes-validate builds for a built-in kind, built once."""
    folder, definitions = _builtin_schemas()
    # networking.k8s.io/v1 -> networking-v1, v1 -> v1 (kubernetes-validate's file names).
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = f"{folder}/{kind.lower()}-{group_version}.json"
    schema = kv_utils.schema_contents(path, KUBERNETES_VERSION)
    registry = Resource.from_contents(definitions) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.Draft202012Validator(schema, registry=registry)


def validate(doc):
    """Raise (jsonschema or kubernetes-validate) when ``doc`` breaks its kind's schema."""
    api_version, kind = doc["apiVersion"], doc["kind"]
    schema = crd_schema(api_version, kind)
    if schema is not None:
        jsonschema.validate(doc, schema, cls=jsonschema.Draft7Validator)
        # A CRD schema leaves metadata open; check it as the API server does.
        meta = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": doc["metadata"]}
        builtin_validator("v1", "ConfigMap").validate(meta)
        return
    group = api_version.rpartition("/")[0]
    if "." in group and not group.endswith(".k8s.io"):
        pytest.fail(f"no schema for {api_version} {kind}: add its CRD schema to {SCHEMAS}")
    builtin_validator(api_version, kind).validate(doc)
