"""Writes docs/variables.md, the reference of every variable the collection reads.

Sources, read fresh on every run:
- every role's ``meta/argument_specs.yml`` (entry points and their options);
- ``SETTINGS`` in ``plugins/module_utils/_catalogue.py`` (which ``homelab_*`` settings the
  catalogue reads, in that order), each described by its row of the "Topology variables" table
  in ``docs/catalogue.md``;
- the roles' ``defaults/main.yml``, for the ``homelab_*`` and ``vault_*`` variables their
  defaults are taken from.

Usage: ``python tests/harness/variable_reference.py`` rewrites the file
(``scripts/variable-reference`` runs this); ``--check`` only compares and exits 1 when the file
is out of date. The output is deterministic: the same tree always gives the same bytes.
"""

from __future__ import annotations

import argparse
import difflib
import importlib.util
import json
import re
import sys
import textwrap
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
OUTPUT = Path("docs/variables.md")
CATALOGUE_MODULE = Path("plugins/module_utils/_catalogue.py")
CATALOGUE_DOC = Path("docs/catalogue.md")
CATALOGUE_TABLE_HEADING = "## Topology variables"
REGENERATE = "scripts/variable-reference"

# Ansible's documentation markup (C(), O(), ...) and what it becomes in Markdown.
_MARKUP = re.compile(r"\b(RV|HORIZONTALLINE|[CVOEMIBUPL])\(([^)]*)\)")
_CODE_MARKUP = {"C", "V", "O", "RV", "E", "M", "P"}
# A variable used in a Jinja expression; names in quotes (hostvars keys, facts) are not.
_VARIABLE = re.compile(r"(?<!['\"\w])((?:homelab|vault)_[a-z0-9_]+)")
# The catalogue's own list of services has its fields documented in a section of its own.
_SERVICES_ROW = (
    "`homelab_services`",
    "list of dict",
    "`[]`",
    "The service catalogue, one entry per host name; its fields are described in "
    "[catalogue.md](catalogue.md#service-fields).",
)


class SourceError(Exception):
    """A source the reference is generated from is missing or malformed."""


# ---------------------------------------------------------------------------------------------
# Markdown helpers


def _escape_text(text: str) -> str:
    """Plain text for a table cell: no raw HTML, no column breaks, no stray emphasis."""
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("*", "\\*")
    )


def code(text: str) -> str:
    """A code span for a table cell (a backtick inside takes a longer fence)."""
    text = text.replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def markup(text: str) -> str:
    """Ansible documentation markup to Markdown, safe inside a table cell."""
    out = []
    pos = 0
    for match in _MARKUP.finditer(text):
        out.append(_escape_text(text[pos : match.start()]))
        kind, body = match.group(1), match.group(2)
        if kind in _CODE_MARKUP:
            out.append(code(body))
        elif kind == "I":
            out.append(f"*{_escape_text(body)}*")
        elif kind == "B":
            out.append(f"**{_escape_text(body)}**")
        elif kind == "U":
            out.append(f"<{body}>")
        elif kind == "L":
            label, url = body.rsplit(",", 1) if "," in body else (body, body)
            out.append(f"[{_escape_text(label.strip())}]({url.strip()})")
        pos = match.end()
    out.append(_escape_text(text[pos:]))
    return "".join(out)


def paragraphs(description: object) -> list[str]:
    """A spec description (a string or a list of strings) as Markdown paragraphs."""
    if description is None:
        return []
    items = description if isinstance(description, list) else [description]
    return [markup(" ".join(str(item).split())) for item in items]


def wrap(text: str) -> list[str]:
    """A paragraph outside tables, folded at 100 characters (code spans never contain one)."""
    return textwrap.wrap(text, 100, break_long_words=False, break_on_hyphens=False)


def value(data: object) -> str:
    """A default or a choice, as a code span."""
    if isinstance(data, str):
        return code(data) if data else '`""`'
    return code(json.dumps(data, sort_keys=True))


def anchor(heading: str) -> str:
    """The anchor GitHub gives a heading."""
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


# ---------------------------------------------------------------------------------------------
# Role argument specs


def _type(option: dict) -> str:
    kind = option.get("type", "str")
    if kind == "list" and option.get("elements"):
        kind = f"list of {option['elements']}"
    parts = [kind]
    if option.get("choices") is not None:
        parts.append("one of " + ", ".join(value(c) for c in option["choices"]))
    if option.get("no_log"):
        parts.append("secret (never logged)")
    return "; ".join(parts)


def _default(option: dict) -> str:
    if option.get("required"):
        return "**required**"
    if "default" in option:
        return value(option["default"])
    return "—"


def _option_rows(options: dict, prefix: str = "") -> list[str]:
    rows = []
    for name, option in options.items():
        option = option or {}
        full = f"{prefix}{name}"
        cells = [
            code(full),
            _type(option),
            _default(option),
            "<br>".join(paragraphs(option.get("description"))),
        ]
        rows.append("| " + " | ".join(cells) + " |")
        if option.get("suboptions"):
            nested = f"{full}[]." if option.get("type") == "list" else f"{full}."
            rows.extend(_option_rows(option["suboptions"], nested))
    return rows


def _entry_points(specs: dict) -> list[str]:
    names = list(specs)
    return (["main"] if "main" in names else []) + [n for n in names if n != "main"]


def role_specs(repo: Path) -> list[tuple[str, dict]]:
    """Every role with an argument spec, by name: ``[(role, argument_specs)]``."""
    roles = []
    for path in sorted((repo / "roles").glob("*/meta/argument_specs.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        specs = data.get("argument_specs")
        if not isinstance(specs, dict) or not specs:
            raise SourceError(f"{path.relative_to(repo)}: no argument_specs entry points")
        roles.append((path.parents[1].name, specs))
    return roles


def render_role(role: str, specs: dict) -> list[str]:
    lines = [f"## {role}", ""]
    lines += wrap(
        "Entry points: "
        + ", ".join(f"`{e}`" for e in _entry_points(specs))
        + f". `ansible-doc -t role spitikos.homelab.{role}` shows the same."
    )
    lines.append("")
    for entry in _entry_points(specs):
        spec = specs[entry] or {}
        lines += [f"### {role}: {entry}", ""]
        if spec.get("short_description"):
            lines += [*wrap(markup(" ".join(str(spec["short_description"]).split()))), ""]
        for paragraph in paragraphs(spec.get("description")):
            lines += [*wrap(paragraph), ""]
        options = spec.get("options") or {}
        if not options:
            lines += ["No options.", ""]
            continue
        lines += ["| variable | type | default | description |", "|---|---|---|---|"]
        lines += _option_rows(options)
        lines.append("")
    return lines


# ---------------------------------------------------------------------------------------------
# The catalogue's settings


def catalogue_settings(repo: Path) -> dict:
    """``SETTINGS`` of the catalogue module, loaded from its file (it imports nothing else)."""
    path = repo / CATALOGUE_MODULE
    spec = importlib.util.spec_from_file_location("_homelab_catalogue_for_docs", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return dict(module.SETTINGS)


def _split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip())
    return [c.strip() for c in cells[1:-1]]


def catalogue_rows(repo: Path) -> dict[str, tuple[str, ...]]:
    """The rows of docs/catalogue.md's topology table, by variable name."""
    lines = (repo / CATALOGUE_DOC).read_text(encoding="utf-8").splitlines()
    try:
        start = lines.index(CATALOGUE_TABLE_HEADING)
    except ValueError:
        raise SourceError(f"{CATALOGUE_DOC} has no '{CATALOGUE_TABLE_HEADING}' section") from None
    rows = {}
    in_table = False
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            in_table = True
            cells = _split_row(line)
            match = re.fullmatch(r"`([a-z0-9_]+)`", cells[0]) if cells else None
            if match and len(cells) == 4:
                # In-page links of catalogue.md point into catalogue.md from here.
                rows[match.group(1)] = tuple(c.replace("](#", "](catalogue.md#") for c in cells)
        elif in_table or line.startswith("## "):
            break
    return rows


def undescribed_settings(repo: Path) -> list[str]:
    """Settings the catalogue reads that docs/catalogue.md's topology table does not describe."""
    rows = catalogue_rows(repo)
    return [n for n in catalogue_settings(repo) if n not in rows and n != "homelab_services"]


def render_catalogue(repo: Path) -> list[str]:
    settings = catalogue_settings(repo)
    rows = catalogue_rows(repo)
    lines = [
        "## Catalogue settings",
        "",
        *wrap(
            f"Every `homelab_*` variable the catalogue reads (`SETTINGS` in `{CATALOGUE_MODULE}`), "
            "in its order. Keep them in `group_vars/all/`. The rules they are checked against are "
            "in [catalogue.md](catalogue.md#rules)."
        ),
        "",
        "| variable | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for name, default in settings.items():
        if name in rows:
            cells = rows[name]
        elif name == "homelab_services":
            cells = _SERVICES_ROW
        else:
            cells = (
                code(name),
                "—",
                "unset" if default is None else value(default),
                "**Not described yet** in [catalogue.md](catalogue.md#topology-variables).",
            )
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


# ---------------------------------------------------------------------------------------------
# homelab_* and vault_* variables behind role defaults


def _strings(data: object):
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for item in data.values():
            yield from _strings(item)
    elif isinstance(data, list):
        for item in data:
            yield from _strings(item)


def inventory_feeds(repo: Path) -> dict[str, list[str]]:
    """``{homelab_* or vault_* name: [role variables whose default reads it]}``."""
    settings = set(catalogue_settings(repo))
    feeds: dict[str, set[str]] = {}
    for path in sorted((repo / "roles").glob("*/defaults/main.yml")):
        defaults = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for variable, default in defaults.items():
            for text in _strings(default):
                for name in _VARIABLE.findall(text):
                    if name not in settings:
                        feeds.setdefault(name, set()).add(variable)
    return {name: sorted(feeds[name]) for name in sorted(feeds)}


def render_feeds(repo: Path) -> list[str]:
    feeds = inventory_feeds(repo)
    lines = [
        "## Inventory variables behind role defaults",
        "",
        *wrap(
            "Variables outside the catalogue that role defaults are taken from, so one inventory "
            "value sets several roles. `vault_*` names hold secrets: keep them in an "
            "ansible-vault encrypted file."
        ),
        "",
        "| variable | default of |",
        "|---|---|",
    ]
    for name, variables in feeds.items():
        lines.append(f"| {code(name)} | " + ", ".join(code(v) for v in variables) + " |")
    lines.append("")
    return lines


# ---------------------------------------------------------------------------------------------
# The page


def render(repo: Path = REPO) -> str:
    """The text of docs/variables.md for the tree at ``repo``."""
    roles = role_specs(repo)
    lines = [
        "# Variable reference",
        "",
        f"<!-- Generated by {REGENERATE}; do not edit by hand. -->",
        "",
        *wrap(
            "Every variable the collection reads, generated from the roles' argument specs, the "
            f"catalogue's settings and the roles' defaults: run `{REGENERATE}` after changing "
            "any of them. A default of — means the spec declares none: the description says what "
            "applies (often another variable, or a value computed at run time)."
        ),
        "",
        "- [Catalogue settings](#catalogue-settings)",
        "- [Inventory variables behind role defaults](#inventory-variables-behind-role-defaults)",
    ]
    lines += [f"- [{role}](#{anchor(role)})" for role, _specs in roles]
    lines.append("")
    lines += render_catalogue(repo)
    lines += render_feeds(repo)
    for role, specs in roles:
        lines += render_role(role, specs)
    while lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write docs/variables.md.")
    parser.add_argument("--check", action="store_true", help="only report whether it is current")
    args = parser.parse_args(argv)
    try:
        text = render(REPO)
    except SourceError as error:
        print(f"variable reference: {error}", file=sys.stderr)
        return 2
    path = REPO / OUTPUT
    current = path.read_text(encoding="utf-8") if path.exists() else ""
    if args.check:
        if current == text:
            return 0
        sys.stdout.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                text.splitlines(keepends=True),
                str(OUTPUT),
                f"{OUTPUT} (generated)",
            )
        )
        print(f"{OUTPUT} is out of date: run {REGENERATE}", file=sys.stderr)
        return 1
    if current != text:
        path.write_text(text, encoding="utf-8")
        print(f"wrote {OUTPUT}")
    else:
        print(f"{OUTPUT} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
