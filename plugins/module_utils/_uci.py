# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenWrt uci, read and planned on the controller (private to the collection).

Pure Python, no I/O. The router only runs ``uci -X show <config>`` and ``uci batch``: this module
parses what ``show`` prints, compares it with the desired sections, and writes the batch that
makes the router match, with a before/after view for diff mode.

Ownership: named sections whose name starts with ``prefix`` (``homelab_``) and anonymous
sections carrying the option ``marker`` are the collection's. Only those are ever deleted.
"""

from __future__ import annotations

import re

__all__ = [
    "DEFAULT_MARKER",
    "DEFAULT_PREFIX",
    "MARKER_VALUE",
    "Section",
    "UciError",
    "batch_lines",
    "normalize_sections",
    "parse_show",
    "plan_changes",
    "quote",
    "render_show",
]

DEFAULT_PREFIX = "homelab_"
DEFAULT_MARKER = "homelab_owner"
MARKER_VALUE = "spitikos.homelab"

_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_TYPE = re.compile(r"^[A-Za-z0-9_-]+$")
# uci's names for anonymous sections: cfg, the section's position (%02x, more digits from the
# 256th on) and four hex digits of a hash.
_GENERATED = re.compile(r"^cfg[0-9a-f]{2,}[0-9a-f]{4}$")
_EXTENDED = re.compile(r"^@(?P<type>[A-Za-z0-9_-]+)\[(?P<index>-?[0-9]+)\]$")


class UciError(ValueError):
    """Input that cannot become a uci configuration, or ``uci show`` output that is not one."""


class Section:
    """One uci section: its name (generated for anonymous ones), type and ordered options."""

    __slots__ = ("anonymous", "name", "options", "type")

    def __init__(self, name, stype, anonymous=False, options=None):
        self.name = name
        self.type = stype
        self.anonymous = anonymous
        self.options = dict(options or {})

    def copy(self):
        options = {k: list(v) if isinstance(v, list) else v for k, v in self.options.items()}
        return Section(self.name, self.type, self.anonymous, options)

    def __eq__(self, other):
        return isinstance(other, Section) and (
            self.name,
            self.type,
            self.anonymous,
            self.options,
        ) == (other.name, other.type, other.anonymous, other.options)

    def __repr__(self):
        kind = "anonymous " if self.anonymous else ""
        return f"Section({kind}{self.type} {self.name!r} {self.options!r})"


# --------------------------------------------------------------------------------- reading


def _split_values(text):
    """The values of one ``uci show`` line: quoted words separated by spaces (\\' escapes)."""
    values = []
    current = []
    started = False
    i = 0
    while i < len(text):
        char = text[i]
        if char == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise UciError(f"unterminated quote in uci value: {text}")
            current.append(text[i + 1 : end])
            started = True
            i = end + 1
        elif char == "\\" and i + 1 < len(text):
            current.append(text[i + 1])
            started = True
            i += 2
        elif char == " ":
            if started:
                values.append("".join(current))
                current, started = [], False
            i += 1
        else:
            current.append(char)
            started = True
            i += 1
    if started:
        values.append("".join(current))
    return values


def parse_show(text, config):
    """Parse ``uci -X show CONFIG`` output into an ordered list of ``Section``.

    Anonymous sections are recognised by their generated ``cfgNNXXXX`` names (``-X``) or by the
    extended ``@type[n]`` syntax. A list of one element prints exactly like a single option;
    such values come back as plain strings.
    """
    sections = []
    by_name = {}
    prefix = f"{config}."
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if not line.startswith(prefix) or "=" not in line:
            raise UciError(f"line {number} of uci show is not about '{config}': {line}")
        path, value = line[len(prefix) :].split("=", 1)
        parts = path.split(".")
        if len(parts) == 1:
            name = parts[0]
            extended = _EXTENDED.match(name)
            anonymous = bool(extended) or bool(_GENERATED.match(name))
            section = Section(name, value.strip("'"), anonymous)
            sections.append(section)
            by_name[name] = section
        elif len(parts) == 2:
            name, option = parts
            if name not in by_name:
                raise UciError(f"line {number} of uci show names an unknown section: {line}")
            values = _split_values(value)
            if len(values) == 1:
                by_name[name].options[option] = values[0]
            else:
                by_name[name].options[option] = values
        else:
            raise UciError(f"line {number} of uci show is not a section or option: {line}")
    return sections


# --------------------------------------------------------------------------------- desired


def _value(value, where, item=False):
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple)):
        items = [_value(v, where, item=True) for v in value]
        if any(v is None for v in items):
            raise UciError(f"{where}: list items must not be null")
        # An empty list is no option at all, as uci stores it.
        return items or None
    if isinstance(value, dict):
        raise UciError(f"{where}: a uci value is a string or a list of strings, not a mapping")
    text = str(value)
    if "\n" in text or "\r" in text:
        raise UciError(f"{where}: uci values cannot hold line breaks")
    # uci set with an empty value deletes the option: ask for that, not for an option that
    # can never be read back. (A list keeps an empty item.)
    return text if item else text or None


def normalize_sections(sections, prefix=DEFAULT_PREFIX, marker=DEFAULT_MARKER):
    """Check and normalise the desired sections; every problem is reported at once.

    Each entry: ``name`` (named section) or ``match`` (option names identifying an anonymous
    section by their desired values), ``type``, ``options`` (value, list, or None to remove),
    ``state`` (present/absent) and ``replace`` (remove options not listed).
    """
    errors = []
    result = []
    seen = set()
    for index, raw in enumerate(sections or []):
        where = f"sections[{index}]"
        name = raw.get("name")
        stype = raw.get("type")
        match = list(raw.get("match") or [])
        state = raw.get("state") or "present"
        options = {}
        if name is not None:
            name = str(name)
            where = f"sections[{index}] ({name})"
            if not _NAME.match(name):
                errors.append(f"{where}: a section name holds only letters, digits and '_'")
        if not stype or not _TYPE.match(str(stype)):
            errors.append(f"{where}: type {stype!r} is not a uci section type")
        if (name is None) == (not match):
            errors.append(f"{where}: give either name or match")
        for key, value in (raw.get("options") or {}).items():
            key = str(key)
            if not _NAME.match(key):
                errors.append(f"{where}: option name {key!r} holds more than letters, digits, _")
                continue
            if key == marker:
                errors.append(f"{where}: option {key!r} is the ownership marker; it is set alone")
                continue
            try:
                options[key] = _value(value, f"{where}.{key}")
            except UciError as exc:
                errors.append(str(exc))
        for key in match:
            if options.get(key) is None:
                errors.append(f"{where}: match option {key!r} needs a value in options")
        if name is not None:
            identity = (name,)
        else:
            identity = (stype, tuple((k, str(options.get(k))) for k in match))
        if identity in seen:
            errors.append(f"{where}: the same section is listed twice")
        seen.add(identity)
        result.append(
            {
                "name": name,
                "type": str(stype),
                "match": match,
                "options": options,
                "state": state,
                "replace": bool(raw.get("replace")),
            }
        )
    if errors:
        raise UciError("; ".join(errors))
    return result


# --------------------------------------------------------------------------------- planning


def owned(section, prefix=DEFAULT_PREFIX, marker=DEFAULT_MARKER):
    """Whether the collection made ``section``: its name carries the prefix, or the marker."""
    if not section.anonymous and prefix and section.name.startswith(prefix):
        return True
    return bool(marker) and section.options.get(marker) == MARKER_VALUE


def _same(current, wanted):
    if isinstance(wanted, list) and not isinstance(current, list):
        return len(wanted) == 1 and wanted[0] == current
    return current == wanted


def _find(sections, want):
    if want["name"] is not None:
        for section in sections:
            if section.name == want["name"]:
                return section
        return None
    for section in sections:
        if section.type != want["type"]:
            continue
        if all(_same(section.options.get(k), want["options"][k]) for k in want["match"]):
            return section
    return None


class _Plan:
    def __init__(self, before):
        self.before = before
        self.after = [s.copy() for s in before]
        self.operations = []
        self.warnings = []
        self.new_anonymous = 0

    def op(self, *operation):
        self.operations.append(operation)


def _update(plan, section, want, ref, marker):
    for key, value in want["options"].items():
        current = section.options.get(key)
        if value is None:
            if current is not None:
                plan.op("delete", ref, key)
                del section.options[key]
        elif not _same(current, value):
            if isinstance(value, list):
                plan.op("list", ref, key, value, current is not None)
            else:
                plan.op("set", ref, key, value)
            section.options[key] = value
    if want["replace"]:
        for key in list(section.options):
            if key not in want["options"] and key != marker:
                plan.op("delete", ref, key)
                del section.options[key]


def plan_changes(
    current,
    desired,
    prefix=DEFAULT_PREFIX,
    marker=DEFAULT_MARKER,
    purge=False,
    purge_types=None,
):
    """Compare parsed sections with normalised desired ones.

    Returns ``(operations, after, warnings)``: the operations in the order the batch runs them
    (deletions first, then changes to existing sections, then new sections), the predicted
    sections afterwards, and warnings about sections left alone because they are not owned.
    """
    plan = _Plan(current)
    after = plan.after
    wanted_ids = set()
    deletions = []
    updates = []
    creations = []
    for want in desired:
        section = _find(after, want)
        if want["state"] == "absent":
            if section is None:
                continue
            if owned(section, prefix, marker):
                deletions.append(section)
            else:
                plan.warnings.append(
                    f"section {section.name} ({section.type}) was not made by this collection; "
                    "left in place"
                )
            continue
        if section is None:
            creations.append(want)
            continue
        wanted_ids.add(id(section))
        updates.append((section, want))
    if purge:
        types = set(purge_types or [])
        doomed = {id(s) for s in deletions}
        for section in after:
            if id(section) in wanted_ids or id(section) in doomed:
                continue
            if types and section.type not in types:
                continue
            if owned(section, prefix, marker):
                deletions.append(section)
    for section in deletions:
        plan.op("delete_section", section.name)
    deleted = {id(s) for s in deletions}
    after[:] = [s for s in after if id(s) not in deleted]
    for section, want in updates:
        if section.type != want["type"]:
            plan.op("section", section.name, want["type"])
            section.type = want["type"]
        _update(plan, section, want, section.name, marker)
    for want in creations:
        if want["name"] is not None:
            section = Section(want["name"], want["type"])
            plan.op("section", want["name"], want["type"])
            ref = want["name"]
        else:
            plan.new_anonymous += 1
            section = Section(f"@{want['type']}[-1]", want["type"], anonymous=True)
            plan.op("add", want["type"])
            ref = f"@{want['type']}[-1]"
            if marker:
                plan.op("set", ref, marker, MARKER_VALUE)
                section.options[marker] = MARKER_VALUE
        after.append(section)
        _update(plan, section, dict(want, replace=False), ref, marker)
    return plan.operations, after, plan.warnings


# --------------------------------------------------------------------------------- writing


def quote(value):
    """A value in uci's quoting: single quotes, an embedded quote as '\\''."""
    return "'" + str(value).replace("'", "'\\''") + "'"


def batch_lines(config, operations):
    """The ``uci batch`` input for ``operations`` (without the final commit)."""
    lines = []
    for operation in operations:
        kind = operation[0]
        if kind == "delete_section":
            lines.append(f"delete {config}.{operation[1]}")
        elif kind == "section":
            lines.append(f"set {config}.{operation[1]}={quote(operation[2])}")
        elif kind == "add":
            lines.append(f"add {config} {operation[1]}")
        elif kind == "set":
            lines.append(f"set {config}.{operation[1]}.{operation[2]}={quote(operation[3])}")
        elif kind == "delete":
            lines.append(f"delete {config}.{operation[1]}.{operation[2]}")
        elif kind == "list":
            ref, key, values, existed = operation[1:]
            if existed:
                lines.append(f"delete {config}.{ref}.{key}")
            lines.extend(f"add_list {config}.{ref}.{key}={quote(v)}" for v in values)
        else:  # pragma: no cover - operations come from plan_changes only
            raise UciError(f"unknown operation {kind}")
    return lines


def render_show(config, sections):
    """Sections as ``uci show`` prints them, anonymous ones as ``@type[n]`` (for diffs)."""
    counts = {}
    lines = []
    for section in sections:
        if section.anonymous:
            index = counts.get(section.type, 0)
            ref = f"@{section.type}[{index}]"
        else:
            ref = section.name
        counts[section.type] = counts.get(section.type, 0) + 1
        lines.append(f"{config}.{ref}={section.type}")
        for key, value in section.options.items():
            text = " ".join(quote(v) for v in value) if isinstance(value, list) else quote(value)
            lines.append(f"{config}.{ref}.{key}={text}")
    return "".join(line + "\n" for line in lines)
