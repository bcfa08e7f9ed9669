# Copyright (c) spitikos.homelab contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure reconcile helpers shared by the Cloudflare modules (private: not a public API).

Nothing here does I/O. Both sides of a comparison (what the API returned, what the user asked
for) are normalised the same way, server-managed fields are ignored, options the user left unset
are left alone, and before/after views are limited to the compared fields with secrets masked.
"""

from __future__ import annotations

import ipaddress

try:
    from ansible_collections.spitikos.homelab.plugins.module_utils._catalogue import (
        OWNERSHIP_MARKER,
    )
except ImportError:  # the catalogue helpers define the marker when they are present
    OWNERSHIP_MARKER = "managed by spitikos.homelab"

MASK = "********"
AUTO_TTL = 1
PROXIABLE_TYPES = frozenset(("A", "AAAA", "CNAME"))
HOSTNAME_TYPES = frozenset(("CNAME", "MX", "NS", "PTR"))
RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "PTR", "TXT")
# Fields compared on a DNS record; everything else (id, timestamps, meta...) is server-managed.
RECORD_FIELDS = ("name", "type", "content", "proxied", "ttl", "priority", "comment", "tags")
POLICIES = ("upsert-only", "sync")
MAX_COMMENT = 100
_SEPARATORS = " ;|-,"


class InputError(Exception):
    """The module's input cannot be applied; `details` lists every problem found."""

    def __init__(self, message, details=None):
        super().__init__(message)
        self.details = list(details or [])


# --------------------------------------------------------------------------- normalisation
def normalize_fqdn(name):
    """Lower-case, no surrounding spaces, no trailing dot."""
    if name is None:
        return None
    return str(name).strip().rstrip(".").lower()


def normalize_ttl(ttl):
    """TTL as an int; 1 means automatic. None stays None (unset)."""
    if ttl is None:
        return None
    return int(ttl)


def normalize_tags(tags):
    """Sorted list of distinct tags; None stays None (unset)."""
    if tags is None:
        return None
    return sorted({str(tag).strip() for tag in tags})


def normalize_content(rtype, content):
    """Content in the form the API stores: canonical IP addresses, host names like FQDNs."""
    if content is None:
        return None
    content = str(content).strip()
    if rtype in ("A", "AAAA"):
        try:
            return str(ipaddress.ip_address(content))
        except ValueError:
            return content
    if rtype in HOSTNAME_TYPES:
        return normalize_fqdn(content)
    return content


def is_empty(value):
    return value is None or value == [] or value == {} or value == ""


def normalize_value(field, value, rtype=None):
    if field == "name":
        return normalize_fqdn(value)
    if field == "ttl":
        return normalize_ttl(value)
    if field == "tags":
        return normalize_tags(value)
    if field == "content":
        return normalize_content(rtype, value)
    if field == "priority" and value is not None:
        return int(value)
    return value


def differing_fields(current, desired, fields):
    """Fields whose desired value is set and differs from the current one."""
    changed = []
    rtype = desired.get("type") or current.get("type")
    for field in fields:
        want = desired.get(field)
        if want is None:
            continue  # unset: leave the current value alone
        have = normalize_value(field, current.get(field), current.get("type"))
        want = normalize_value(field, want, rtype)
        if field == "tags":
            have = have or []
        if have != want:
            changed.append(field)
    return changed


def limited_view(obj, fields, secret_fields=()):
    """Only the compared fields, secrets replaced by a mask, unset fields dropped."""
    if not obj:
        return {}
    view = {}
    for field in fields:
        if field not in obj or obj[field] is None:
            continue
        view[field] = MASK if field in secret_fields else obj[field]
    return view


def diff_entry(before, after, fields, secret_fields=(), header=None):
    """One Ansible diff dict (before/after limited to compared fields)."""
    entry = {
        "before": limited_view(before, fields, secret_fields),
        "after": limited_view(after, fields, secret_fields),
    }
    if header:
        entry["before_header"] = header
        entry["after_header"] = header
    return entry


# --------------------------------------------------------------------------- ownership marker
def is_owned(comment, marker=OWNERSHIP_MARKER):
    return bool(comment) and marker in comment


def human_comment(comment, marker=OWNERSHIP_MARKER):
    """The text a person wrote beside the marker ('' when there is none)."""
    if not comment:
        return ""
    return comment.replace(marker, " ").strip(_SEPARATORS).strip()


def compose_comment(human, marker=OWNERSHIP_MARKER):
    human = (human or "").strip()
    return f"{human}; {marker}" if human else marker


def desired_human_comment(comment, marker=OWNERSHIP_MARKER):
    """The text to keep beside the marker, from a desired comment (None stays None).

    A comment that already ends with the marker, as the catalogue writes them
    (``service api; managed by spitikos.homelab``), is taken without it, so asking for the
    comment a record already has is no change. A marker anywhere else is left in place for
    the validation to refuse.
    """
    if comment is None:
        return None
    text = comment.strip()
    if text.endswith(marker):
        text = text[: -len(marker)].rstrip(_SEPARATORS).strip()
    return text


# --------------------------------------------------------------------------- DNS records
def record_from_api(record):
    """A DNS record from the API reduced to the compared fields (plus its id)."""
    rtype = record.get("type")
    out = {
        "id": record.get("id"),
        "name": normalize_fqdn(record.get("name")),
        "type": rtype,
        "content": normalize_content(rtype, record.get("content")),
        "proxied": bool(record.get("proxied", False)),
        "ttl": normalize_ttl(record.get("ttl", AUTO_TTL)),
        "comment": record.get("comment") or "",
        "tags": normalize_tags(record.get("tags") or []),
    }
    if record.get("priority") is not None:
        out["priority"] = int(record["priority"])
    return out


def public_record(record, marker=OWNERSHIP_MARKER):
    """A record as the modules return it."""
    out = {field: record.get(field) for field in RECORD_FIELDS if field in record}
    out["id"] = record.get("id")
    out["owned"] = is_owned(record.get("comment"), marker)
    return out


def _in_zone(name, zone_name):
    return name == zone_name or name.endswith("." + zone_name)


def normalize_desired_records(records, zone_name, marker=OWNERSHIP_MARKER):
    """Validate and normalise the desired records.

    Returns (records, errors); every error names the offending record, all are reported at once.
    """
    zone_name = normalize_fqdn(zone_name)
    out, errors, seen = [], [], {}
    for index, spec in enumerate(records):
        rtype = spec.get("type")
        raw_name = normalize_fqdn(spec.get("name")) or ""
        name = zone_name if raw_name == "@" else raw_name
        label = f"records[{index}] ({spec.get('name')} {rtype})"
        record = {
            "name": name,
            "type": rtype,
            "content": normalize_content(rtype, spec.get("content")),
            "proxied": spec.get("proxied"),
            "ttl": normalize_ttl(spec.get("ttl")),
            "tags": normalize_tags(spec.get("tags")),
            "human_comment": desired_human_comment(spec.get("comment"), marker),
        }
        if spec.get("priority") is not None:
            record["priority"] = int(spec["priority"])
        problems = []
        if not name or not _in_zone(name, zone_name):
            problems.append(f"name must be '@' or a name inside zone {zone_name}")
        if not record["content"]:
            problems.append("content must not be empty")
        elif rtype == "A" and not _is_ip(record["content"], 4):
            problems.append(f"content {spec.get('content')!r} is not an IPv4 address")
        elif rtype == "AAAA" and not _is_ip(record["content"], 6):
            problems.append(f"content {spec.get('content')!r} is not an IPv6 address")
        elif rtype == "CNAME" and record["content"] == name:
            problems.append("a CNAME cannot point at itself")
        if record["proxied"] and rtype not in PROXIABLE_TYPES:
            problems.append(f"{rtype} records cannot be proxied")
        if record["proxied"] and record["ttl"] not in (None, AUTO_TTL):
            problems.append("proxied records always have ttl 1 (automatic)")
        ttl = record["ttl"]
        if ttl is not None and ttl != AUTO_TTL and not 30 <= ttl <= 86400:
            problems.append("ttl must be 1 (automatic) or between 30 and 86400")
        if rtype == "MX" and record.get("priority") is None:
            problems.append("MX records need a priority")
        if rtype != "MX" and record.get("priority") is not None:
            problems.append("priority is only used by MX records")
        human = record["human_comment"]
        if human and marker in human:
            problems.append(
                "comment may end with the ownership marker but must not contain it elsewhere; "
                "it is added"
            )
        if len(compose_comment(human, marker)) > MAX_COMMENT:
            problems.append(
                f"comment with the ownership marker is longer than {MAX_COMMENT} characters"
            )
        key = (name, rtype, record["content"])
        if key in seen:
            problems.append(f"duplicate of records[{seen[key]}]")
        seen.setdefault(key, index)
        errors.extend(f"{label}: {problem}" for problem in problems)
        out.append(record)
    by_name = {}
    for record in out:
        by_name.setdefault(record["name"], []).append(record["type"])
    for name, types in sorted(by_name.items()):
        if "CNAME" in types and len(types) > 1:
            errors.append(
                f"{name}: a CNAME cannot share its name with any other record "
                f"(asked for {', '.join(sorted(types))})"
            )
    return out, errors


def _is_ip(value, version):
    try:
        return ipaddress.ip_address(value).version == version
    except ValueError:
        return False


def _collides(a_type, b_type):
    return a_type == b_type or "CNAME" in (a_type, b_type)


def _record_label(record):
    return f"{record['name']} {record['type']} {record.get('content')}"


def desired_full_record(desired, current=None, marker=OWNERSHIP_MARKER):
    """The whole record to send (PUT/POST): desired values, unset ones taken from current."""
    current = current or {}
    rtype = desired["type"]
    human = desired.get("human_comment")
    current_comment = current.get("comment") or ""
    if is_owned(current_comment, marker) and (
        human is None or human == human_comment(current_comment, marker)
    ):
        comment = current_comment  # keep what is there, the person's text and the marker alike
    else:
        comment = compose_comment(
            human if human is not None else human_comment(current_comment, marker), marker
        )
    ttl = desired.get("ttl")
    if ttl is None:
        ttl = current.get("ttl", AUTO_TTL) or AUTO_TTL
    record = {
        "name": desired["name"],
        "type": rtype,
        "content": desired["content"],
        "ttl": ttl,
        "comment": comment,
        "tags": desired["tags"] if desired.get("tags") is not None else current.get("tags", []),
    }
    if rtype in PROXIABLE_TYPES:
        proxied = desired.get("proxied")
        if proxied is None:
            proxied = (
                bool(current.get("proxied", False))
                if current.get("type") in PROXIABLE_TYPES
                else False
            )
        record["proxied"] = bool(proxied)
        if record["proxied"]:
            record["ttl"] = AUTO_TTL
    if desired.get("priority") is not None:
        record["priority"] = desired["priority"]
    return record


def _same(current, full):
    return not differing_fields(current, full, RECORD_FIELDS)


def plan_dns_changes(current, desired, policy="upsert-only", marker=OWNERSHIP_MARKER):
    """Work out what to send so the zone holds the desired records.

    current: records from the API (record_from_api form); desired: normalize_desired_records'
    output. Returns a dict with `creates` (full records), `updates` (pairs of current record and
    full new record, sent by id), `deletes` (current records), `unchanged` (pairs), `conflicts`
    (messages; when there are any nothing may be sent) and `final` (the desired records as they
    will be afterwards, in the order asked, id None for records still to be created).
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}")
    owned = [r for r in current if is_owned(r.get("comment"), marker)]
    foreign = [r for r in current if not is_owned(r.get("comment"), marker)]
    plan = {
        "creates": [],
        "updates": [],
        "deletes": [],
        "unchanged": [],
        "conflicts": [],
        "final": [None] * len(desired),
    }

    for want in desired:
        for other in foreign:
            if other["name"] == want["name"] and _collides(other["type"], want["type"]):
                plan["conflicts"].append(
                    f"{want['name']} {want['type']}: the zone already has "
                    f"{_record_label(other)} (id {other['id']}) without the ownership marker "
                    f"'{marker}'; it is left alone. Remove it, or add the marker to its comment "
                    "to hand it over."
                )
    if plan["conflicts"]:
        return plan

    taken = set()
    pending = []  # indexes of desired records not paired yet
    # 1. same name, type and content: at most an in-place update of the other fields
    for index, want in enumerate(desired):
        match = _first(
            owned,
            taken,
            lambda r, w=want: (
                (r["name"], r["type"], r["content"]) == (w["name"], w["type"], w["content"])
            ),
        )
        if match is None:
            pending.append(index)
        else:
            _pair(plan, index, want, match, taken, marker)
    # 2. same name and type, other content: update by id (never a duplicate)
    still = []
    for index in pending:
        want = desired[index]
        match = _first(
            owned, taken, lambda r, w=want: (r["name"], r["type"]) == (w["name"], w["type"])
        )
        if match is None:
            still.append(index)
        else:
            _pair(plan, index, want, match, taken, marker)
    # 3. same name, a type that cannot coexist (CNAME <-> A...): change the type by id
    for index in still:
        want = desired[index]
        match = _first(
            owned,
            taken,
            lambda r, w=want: r["name"] == w["name"] and _collides(r["type"], w["type"]),
        )
        if match is None:
            full = desired_full_record(want, None, marker)
            plan["creates"].append(full)
            plan["final"][index] = dict(full, id=None)
        else:
            _pair(plan, index, want, match, taken, marker)
    # 4. owned records left over
    wanted_names = {}
    for want in desired:
        wanted_names.setdefault(want["name"], set()).add(want["type"])
    for record in owned:
        if record["id"] in taken:
            continue
        types = wanted_names.get(record["name"], set())
        blocks = any(_collides(record["type"], t) and record["type"] != t for t in types)
        if policy == "sync" or blocks:
            plan["deletes"].append(record)
    return plan


def _first(records, taken, predicate):
    for record in records:
        if record["id"] not in taken and predicate(record):
            return record
    return None


def _pair(plan, index, want, current, taken, marker):
    taken.add(current["id"])
    full = desired_full_record(want, current, marker)
    if _same(current, full):
        plan["unchanged"].append((current, full))
        plan["final"][index] = dict(current)
    else:
        plan["updates"].append((current, full))
        plan["final"][index] = dict(full, id=current["id"])


def plan_is_empty(plan):
    return not (plan["creates"] or plan["updates"] or plan["deletes"])


def dns_plan_diff(plan):
    """Ansible diff mode: one before/after per record that changes."""
    fields = RECORD_FIELDS
    diffs = []
    for current, full in plan["updates"]:
        diffs.append(
            diff_entry(
                current,
                full,
                fields,
                header=f"{current['name']} {current['type']} (id {current['id']})",
            )
        )
    for full in plan["creates"]:
        diffs.append(diff_entry({}, full, fields, header=f"{full['name']} {full['type']} (new)"))
    for record in plan["deletes"]:
        diffs.append(
            diff_entry(
                record, {}, fields, header=f"{record['name']} {record['type']} (id {record['id']})"
            )
        )
    return diffs


def dns_plan_summary(plan):
    """Short human-readable list of what changes."""
    return {
        "created": [_record_label(full) for full in plan["creates"]],
        "updated": [_record_label(full) for _current, full in plan["updates"]],
        "deleted": [_record_label(record) for record in plan["deletes"]],
    }


def dns_batch_body(plan):
    """The batch request: deletes and puts by id, posts for new records."""
    puts = []
    for current, full in plan["updates"]:
        puts.append(dict(full, id=current["id"]))
    return {
        "deletes": [{"id": record["id"]} for record in plan["deletes"]],
        "puts": puts,
        "posts": [dict(full) for full in plan["creates"]],
    }
