# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness of Kubernetes objects, judged from their JSON (no I/O).

Private to the collection. Each ``*_state`` function takes the objects as the API returns them
(``None`` when not found) and returns ``(ready, why)``: ``why`` says, in a few words a user can
act on, what is missing. ``k8s_ready`` fetches the objects and calls these.
"""

from __future__ import annotations

__all__ = [
    "certificate_state",
    "crd_state",
    "deployment_state",
    "endpoints_state",
    "format_events",
    "helm_chart_state",
    "job_state",
]


def _conditions(obj):
    return {c.get("type"): c for c in ((obj or {}).get("status") or {}).get("conditions") or []}


def _describe(condition):
    text = f"{condition.get('type')}={condition.get('status')}"
    detail = ": ".join(p for p in (condition.get("reason"), condition.get("message")) if p)
    return f"{text} ({detail})" if detail else text


def crd_state(crd):
    """A CustomResourceDefinition is ready once its Established condition is True."""
    if crd is None:
        return False, "not found (the chart that brings it is not installed yet)"
    conditions = _conditions(crd)
    established = conditions.get("Established")
    if established and established.get("status") == "True":
        return True, "Established"
    shown = ", ".join(_describe(c) for c in conditions.values()) or "no conditions yet"
    return False, f"not Established ({shown})"


def endpoints_state(slices):
    """A Service serves once one of its EndpointSlices has a ready endpoint."""
    if not slices:
        return False, "no EndpointSlice (the Service or its pods do not exist yet)"
    ready = 0
    total = 0
    for item in slices:
        for endpoint in item.get("endpoints") or []:
            total += len(endpoint.get("addresses") or [])
            if (endpoint.get("conditions") or {}).get("ready") is not False:
                ready += len(endpoint.get("addresses") or [])
    if ready:
        return True, f"{ready} ready endpoint(s)"
    if total:
        return False, f"{total} endpoint(s), none ready (pods not ready)"
    return False, "no endpoints (no pod matches the Service, or none is running)"


def job_state(job):
    """A Job is done once it succeeded; a Failed condition is reported as such."""
    if job is None:
        return False, "its install job does not exist yet"
    status = job.get("status") or {}
    conditions = _conditions(job)
    complete = conditions.get("Complete")
    if (complete and complete.get("status") == "True") or (status.get("succeeded") or 0) > 0:
        return True, "install job complete"
    failed = conditions.get("Failed")
    if failed and failed.get("status") == "True":
        return False, f"install job failed ({_describe(failed)})"
    if status.get("failed"):
        return False, f"install job running, {status['failed']} failed attempt(s)"
    return False, "install job running"


def helm_chart_state(chart, job):
    """A k3s HelmChart is installed once the job named in its status completed."""
    if chart is None:
        return False, "HelmChart not found (k3s has not applied the manifest yet)"
    conditions = _conditions(chart)
    failed = conditions.get("Failed")
    if failed and failed.get("status") == "True":
        return False, f"HelmChart failed ({_describe(failed)})"
    if not (chart.get("status") or {}).get("jobName"):
        return False, "helm-controller has not started an install job yet"
    return job_state(job)


def deployment_state(deployment):
    """A Deployment is rolled out when every replica is updated, available and current."""
    if deployment is None:
        return False, "not found"
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    meta = deployment.get("metadata") or {}
    wanted = spec.get("replicas", 1)
    if status.get("observedGeneration", 0) < meta.get("generation", 0):
        return False, "the controller has not seen the latest spec yet"
    progressing = _conditions(deployment).get("Progressing")
    if progressing and progressing.get("reason") == "ProgressDeadlineExceeded":
        return False, f"rollout stuck ({_describe(progressing)})"
    updated = status.get("updatedReplicas", 0)
    available = status.get("availableReplicas", 0)
    total = status.get("replicas", 0)
    if updated < wanted:
        return False, f"{updated}/{wanted} replicas updated"
    if total > updated:
        return False, f"{total - updated} old replica(s) still terminating"
    if available < wanted:
        return False, f"{available}/{wanted} replicas available"
    return True, f"{available}/{wanted} replicas available"


def certificate_state(certificate):
    """A cert-manager Certificate is ready once its Ready condition is True."""
    if certificate is None:
        return False, "not found"
    ready = _conditions(certificate).get("Ready")
    if ready and ready.get("status") == "True":
        return True, "Ready"
    if ready:
        return False, f"not Ready ({_describe(ready)})"
    return False, "not Ready (no condition yet)"


def format_events(events, limit=5):
    """The newest ``limit`` events, one line each, warnings first."""

    def stamp(event):
        return event.get("lastTimestamp") or event.get("eventTime") or ""

    ordered = sorted(events or [], key=stamp, reverse=True)
    ordered.sort(key=lambda event: event.get("type") != "Warning")
    lines = []
    for event in ordered[:limit]:
        count = event.get("count") or 1
        times = f" (x{count})" if count > 1 else ""
        lines.append(
            f"{event.get('type', 'Normal')} {event.get('reason', '')}: "
            f"{(event.get('message') or '').strip()}{times}"
        )
    return lines
