#!/usr/bin/python
# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: k8s_ready
short_description: Wait until Kubernetes add-ons are ready
version_added: 0.1.0
description:
  - Polls a Kubernetes API until every object named is ready, then returns; never changes
    anything.
  - CRDs must be Established, Services must have a ready endpoint (for example a webhook's,
    before objects it validates are applied), k3s HelmCharts must have completed their install
    job, Deployments must be rolled out and cert-manager Certificates must be Ready.
  - On timeout it fails naming every object that is not ready and why (conditions, replica
    counts), with the object's recent events and, for a failed chart install, the end of the
    install job's log.
  - One API client and one discovery request per call.
author:
  - spitikos maintainers (@spitikos)
extends_documentation_fragment:
  - spitikos.homelab._attributes
  - spitikos.homelab._attributes.INFO_MODULE
requirements:
  - kubernetes (the Python client)
options:
  kubeconfig:
    description:
      - Kubeconfig file.
      - Without it, the E(KUBECONFIG) environment variable (a single file), else
        C(~/.kube/config).
    type: path
    default: ~/.kube/config
  context:
    description:
      - Context of the kubeconfig to use; default its current context.
    type: str
  crds:
    description:
      - Names of CustomResourceDefinitions (C(<plural>.<group>)) that must be Established.
    type: list
    elements: str
    default: []
  endpoints:
    description:
      - Services that must have at least one ready endpoint (from their EndpointSlices).
    type: list
    elements: dict
    default: []
    suboptions:
      namespace:
        description: Namespace of the object.
        type: str
        required: true
      name:
        description: Name of the object.
        type: str
        required: true
  helm_charts:
    description:
      - k3s HelmCharts (C(helm.cattle.io/v1)) whose install job must have completed.
    type: list
    elements: dict
    default: []
    suboptions:
      namespace:
        description: Namespace of the object.
        type: str
        required: true
      name:
        description: Name of the object.
        type: str
        required: true
  deployments:
    description:
      - Deployments that must be rolled out (every replica updated and available).
    type: list
    elements: dict
    default: []
    suboptions:
      namespace:
        description: Namespace of the object.
        type: str
        required: true
      name:
        description: Name of the object.
        type: str
        required: true
  certificates:
    description:
      - cert-manager Certificates (C(cert-manager.io/v1)) that must be Ready.
    type: list
    elements: dict
    default: []
    suboptions:
      namespace:
        description: Namespace of the object.
        type: str
        required: true
      name:
        description: Name of the object.
        type: str
        required: true
  timeout:
    description:
      - Seconds to wait before failing.
    type: int
    default: 300
  interval:
    description:
      - Seconds between polls.
    type: float
    default: 5
notes:
  - Without any object to wait for the module only checks that the API answers.
"""

EXAMPLES = r"""
- name: Wait for the MetalLB webhook before applying address pools
  spitikos.homelab.k8s_ready:
    kubeconfig: ~/.kube/config
    context: homelab
    crds:
      - ipaddresspools.metallb.io
    helm_charts:
      - {namespace: kube-system, name: metallb}
    deployments:
      - {namespace: metallb-system, name: metallb-controller}
    endpoints:
      - {namespace: metallb-system, name: metallb-webhook-service}
    timeout: 600
  delegate_to: localhost
"""

RETURN = r"""
ready:
  description: Every object waited for, as C(<kind> <namespace>/<name>) with what made it ready.
  returned: success
  type: dict
  sample:
    crd ipaddresspools.metallb.io: Established
    endpoints metallb-system/metallb-webhook-service: 1 ready endpoint(s)
elapsed:
  description: Seconds spent waiting.
  returned: always
  type: float
polls:
  description: How many times the objects were read.
  returned: always
  type: int
not_ready:
  description: On failure, each object not ready with the reason, its events and job log.
  returned: failure
  type: dict
"""

import json
import time

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.spitikos.homelab.plugins.module_utils._k8s_ready import (
    certificate_state,
    crd_state,
    deployment_state,
    endpoints_state,
    format_events,
    helm_chart_state,
)

try:
    from kubernetes import config as kube_config
    from kubernetes.client.exceptions import ApiException
except ImportError as exc:  # pragma: no cover - reported by the module
    HAS_KUBERNETES = False
    KUBERNETES_ERROR = exc
else:
    HAS_KUBERNETES = True
    KUBERNETES_ERROR = None

NAMED = {
    "namespace": {"type": "str", "required": True},
    "name": {"type": "str", "required": True},
}
ARGUMENT_SPEC = {
    "kubeconfig": {
        "type": "path",
        "default": "~/.kube/config",
        "fallback": (env_fallback, ["KUBECONFIG"]),
    },
    "context": {"type": "str"},
    "crds": {"type": "list", "elements": "str", "default": []},
    "endpoints": {"type": "list", "elements": "dict", "default": [], "options": NAMED},
    "helm_charts": {"type": "list", "elements": "dict", "default": [], "options": NAMED},
    "deployments": {"type": "list", "elements": "dict", "default": [], "options": NAMED},
    "certificates": {"type": "list", "elements": "dict", "default": [], "options": NAMED},
    "timeout": {"type": "int", "default": 300},
    "interval": {"type": "float", "default": 5},
}
JOB_LOG_LINES = 20


class ApiError(Exception):
    """The API could not be read (other than a missing object)."""


class Api:
    """GETs of JSON through one kubernetes ApiClient; a missing object reads as None."""

    def __init__(self, kubeconfig, context):
        try:
            self.client = kube_config.new_client_from_config(
                config_file=kubeconfig, context=context
            )
        except (kube_config.ConfigException, OSError) as exc:
            raise ApiError(f"cannot load kubeconfig {kubeconfig}: {exc}") from exc

    def get(self, path, query=None, text=False):
        accept = "text/plain" if text else "application/json"
        try:
            method, url, headers, body, post = self.client.param_serialize(
                "GET",
                path,
                query_params=list((query or {}).items()),
                header_params={"Accept": accept},
                auth_settings=["BearerToken"],
            )
            response = self.client.call_api(
                method,
                url,
                header_params=headers,
                body=body,
                post_params=post,
                _request_timeout=30,
            )
            response.read()
            status, reason, data = response.status, response.reason, response.data
        except ApiException as exc:
            status, reason, data = exc.status, exc.reason, b""
        except Exception as exc:  # urllib3 connection errors and the like
            raise ApiError(f"GET {path}: {exc}") from exc
        if status == 404:
            return None
        if status >= 400:
            raise ApiError(f"GET {path}: HTTP {status} {reason}")
        body = data.decode("utf-8", errors="replace")
        return body if text else json.loads(body)

    def groups(self):
        """The API group versions the server serves (the one discovery request)."""
        data = self.get("/apis") or {}
        served = {"v1"}
        for group in data.get("groups") or []:
            for version in group.get("versions") or []:
                served.add(version.get("groupVersion"))
        return served


class Target:
    """One object to wait for: how to read it and judge it."""

    def __init__(self, kind, label, check, events_ref=None):
        self.kind = kind
        self.label = label
        self.check = check
        self.events_ref = events_ref  # (namespace, involvedObject.name, involvedObject.kind)
        self.ready = False
        self.why = "not checked yet"
        self.job = None  # (namespace, name) of a HelmChart's install job

    @property
    def key(self):
        return f"{self.kind} {self.label}"


def _crd(api, name):
    def check(target):
        return crd_state(api.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}"))

    return Target("crd", name, check, (None, name, "CustomResourceDefinition"))


def _endpoints(api, ns, name):
    def check(target):
        data = api.get(
            f"/apis/discovery.k8s.io/v1/namespaces/{ns}/endpointslices",
            {"labelSelector": f"kubernetes.io/service-name={name}"},
        )
        return endpoints_state((data or {}).get("items") or [])

    return Target("endpoints", f"{ns}/{name}", check, (ns, name, "Service"))


def _helm_chart(api, ns, name):
    def check(target):
        chart = api.get(f"/apis/helm.cattle.io/v1/namespaces/{ns}/helmcharts/{name}")
        job_name = ((chart or {}).get("status") or {}).get("jobName")
        job = None
        if job_name:
            target.job = (ns, job_name)
            job = api.get(f"/apis/batch/v1/namespaces/{ns}/jobs/{job_name}")
        return helm_chart_state(chart, job)

    return Target("helmchart", f"{ns}/{name}", check, (ns, name, "HelmChart"))


def _deployment(api, ns, name):
    def check(target):
        return deployment_state(api.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}"))

    return Target("deployment", f"{ns}/{name}", check, (ns, name, "Deployment"))


def _certificate(api, ns, name):
    def check(target):
        return certificate_state(
            api.get(f"/apis/cert-manager.io/v1/namespaces/{ns}/certificates/{name}")
        )

    return Target("certificate", f"{ns}/{name}", check, (ns, name, "Certificate"))


def build_targets(api, params):
    targets = [_crd(api, name) for name in params["crds"]]
    for kind, make in (
        ("helm_charts", _helm_chart),
        ("deployments", _deployment),
        ("endpoints", _endpoints),
        ("certificates", _certificate),
    ):
        targets.extend(make(api, item["namespace"], item["name"]) for item in params[kind])
    return targets


def explain(api, target):
    """Why ``target`` is not ready: the reason, its events and, for charts, the job's log."""
    detail = {"reason": target.why}
    namespace, name, kind = target.events_ref
    path = f"/api/v1/namespaces/{namespace}/events" if namespace else "/api/v1/events"
    try:
        events = api.get(
            path,
            {"fieldSelector": f"involvedObject.name={name},involvedObject.kind={kind}"},
        )
        lines = format_events((events or {}).get("items"))
        if lines:
            detail["events"] = lines
        if target.job:
            job_ns, job_name = target.job
            pods = api.get(
                f"/api/v1/namespaces/{job_ns}/pods", {"labelSelector": f"job-name={job_name}"}
            )
            items = (pods or {}).get("items") or []
            if items:
                pod = items[-1]["metadata"]["name"]
                log = api.get(
                    f"/api/v1/namespaces/{job_ns}/pods/{pod}/log",
                    {"tailLines": JOB_LOG_LINES},
                    text=True,
                )
                if log:
                    detail["job_log"] = log.splitlines()[-JOB_LOG_LINES:]
    except ApiError as exc:
        detail["events"] = [f"(could not read events: {exc})"]
    return detail


def wait(api, targets, timeout, interval, sleep=time.sleep, clock=time.monotonic):
    """Poll until every target is ready or ``timeout`` passes; returns (polls, elapsed)."""
    start = clock()
    polls = 0
    while True:
        polls += 1
        for target in targets:
            if not target.ready:
                target.ready, target.why = target.check(target)
        elapsed = clock() - start
        if all(t.ready for t in targets) or elapsed >= timeout:
            return polls, round(elapsed, 2)
        sleep(min(interval, max(timeout - elapsed, 0)))


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if not HAS_KUBERNETES:
        module.fail_json(msg=missing_required_lib("kubernetes"), exception=str(KUBERNETES_ERROR))
    params = module.params
    if params["timeout"] < 0 or params["interval"] <= 0:
        module.fail_json(msg="timeout must be 0 or more and interval more than 0")
    kubeconfig = params["kubeconfig"]
    try:
        api = Api(kubeconfig, params["context"])
        served = api.groups()
        targets = build_targets(api, params)
        if params["helm_charts"] and "helm.cattle.io/v1" not in served:
            module.fail_json(
                msg="the API does not serve helm.cattle.io/v1: HelmCharts need a k3s cluster "
                "(or k3s' helm-controller)",
                elapsed=0.0,
                polls=0,
            )
        polls, elapsed = wait(api, targets, params["timeout"], params["interval"])
        pending = [t for t in targets if not t.ready]
        if pending:
            not_ready = {t.key: explain(api, t) for t in pending}
            summary = "; ".join(f"{t.key}: {t.why}" for t in pending)
            module.fail_json(
                msg=f"not ready after {elapsed:g}s: {summary}",
                not_ready=not_ready,
                elapsed=elapsed,
                polls=polls,
            )
    except ApiError as exc:
        module.fail_json(msg=str(exc), elapsed=0.0, polls=0)
    module.exit_json(
        changed=False,
        ready={t.key: t.why for t in targets},
        elapsed=elapsed,
        polls=polls,
    )


if __name__ == "__main__":
    main()
