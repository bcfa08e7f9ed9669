# Copyright: (c) 2026, spitikos maintainers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Files, directories and links of a host, compared and written in one pass.

Private to spitikos.homelab (the leading underscore): the engine of the homelab_files module.
``check_entries`` reads the host and reports every bad entry at once; ``plan_entries`` works out
what each entry would change; ``apply_changes`` carries the plan out. Nothing is written unless
every entry passed the checks.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
import tempfile

# What a diff shows in place of a secret's old and new text.
SECRET_BEFORE = "(secret content, not shown: old)\n"  # noqa: S105 - a placeholder
SECRET_AFTER = "(secret content, not shown: new)\n"  # noqa: S105 - a placeholder


class HostFilesError(Exception):
    """Bad entries; ``problems`` lists every one of them."""

    def __init__(self, problems):
        super().__init__("; ".join(problems))
        self.problems = problems


class ApplyError(Exception):
    """A change failed part-way: ``applied`` lists the paths changed before ``path`` failed."""

    def __init__(self, path, label, cause, applied):
        reason = getattr(cause, "strerror", None) or str(cause)
        super().__init__(f"{label}: {reason}")
        self.path = path
        self.label = label
        self.applied = applied


def _mode(value):
    """A mode as an int, or None when unmanaged, by Ansible's rules: a string is octal digits
    ('0644', '644'); an integer is the mode itself, so an unquoted YAML ``0644`` (which YAML reads
    as the integer 420) is 0644, not 0420."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"mode {value!r} is not a mode; quote an octal mode such as '0644'")
    if isinstance(value, int):
        if not 0 <= value <= 0o7777:
            raise ValueError(f"mode {value} is out of range; quote an octal mode such as '0644'")
        return value
    text = str(value)
    if not text.isdigit() or any(c not in "01234567" for c in text) or len(text) > 4:
        raise ValueError(f"mode '{text}' is not an octal mode such as '0644'")
    return int(text, 8)


def _numeric_id(name, option, check_mode):
    """The uid of an ``owner`` or the gid of a ``group`` by name; None when not given."""
    if name is None:
        return None
    try:
        if option == "owner":
            return pwd.getpwnam(name).pw_uid
        return grp.getgrnam(name).gr_gid
    except KeyError:
        if check_mode:
            # An earlier task would have created it; check mode did not run that task.
            return -1
        kind = "user" if option == "owner" else "group"
        raise ValueError(f"{option} '{name}' is not a {kind} on this host") from None


def _lstat(path):
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None


def _text_of(entry):
    if entry.get("secret_content") is not None:
        return entry["secret_content"]
    return entry.get("content")


def _read(path):
    with open(path, "rb") as handle:
        return handle.read()


def check_entries(entries, check_mode=False):
    """Normalised entries, or HostFilesError naming every bad one (nothing is changed here)."""
    problems = []
    normalised = []
    directories = set()  # directories an earlier entry creates
    seen = set()
    for index, entry in enumerate(entries):
        path = entry.get("path") or ""
        label = entry.get("label") or f"files[{index}] ({path})"
        state = entry.get("state") or "file"
        try:
            if not os.path.isabs(path) or path != os.path.normpath(path):
                raise ValueError(f"path '{path}' is not an absolute, normalised path")
            if path in seen:
                raise ValueError(f"path '{path}' is named twice")
            seen.add(path)
            mode = _mode(entry.get("mode"))
            uid = _numeric_id(entry.get("owner"), "owner", check_mode)
            gid = _numeric_id(entry.get("group"), "group", check_mode)
            text = _text_of(entry)
            if state == "file" and text is None:
                raise ValueError("a file needs content or secret_content")
            if state != "file" and text is not None:
                raise ValueError(f"content is only for files, not state '{state}'")
            if state == "link" and not entry.get("src"):
                raise ValueError("a link needs src")
            if state != "link" and entry.get("src"):
                raise ValueError(f"src is only for links, not state '{state}'")
            create = entry.get("create", True) is not False
            if state != "file" and not create:
                raise ValueError(f"create is only for files, not state '{state}'")
            current = _lstat(path)
            parent = os.path.dirname(path)
            missing_parent = not os.path.isdir(parent) and parent not in directories
            if state != "absent" and create and current is None and missing_parent:
                raise ValueError(f"the directory {parent} does not exist")
            if current is not None:
                kind = stat.S_IFMT(current.st_mode)
                if state == "directory" and kind != stat.S_IFDIR:
                    raise ValueError(f"{path} exists and is not a directory")
                if state in ("file", "link") and kind == stat.S_IFDIR:
                    raise ValueError(f"{path} is a directory")
                if state == "absent" and kind == stat.S_IFDIR:
                    raise ValueError(f"{path} is a directory; only files and links are removed")
            if state == "link" and entry.get("require_src") and not os.path.exists(entry["src"]):
                raise ValueError(f"{entry['src']} does not exist")
        except ValueError as exc:
            problems.append(f"{label}: {exc}")
            continue
        if state == "directory":
            directories.add(path)
        normalised.append(
            {
                "path": path,
                "state": state,
                "mode": mode,
                "uid": uid,
                "gid": gid,
                "owner": entry.get("owner"),
                "group": entry.get("group"),
                "text": text,
                "secret": entry.get("secret_content") is not None,
                "src": entry.get("src"),
                "keep_files": bool(entry.get("keep_files")),
                "create": create,
                "hold": bool(entry.get("hold")),
                "label": label,
            }
        )
    if problems:
        raise HostFilesError(problems)
    return normalised


def _attribute_changes(entry, current):
    """Which of mode, owner and group differ from ``current`` (an lstat result)."""
    changes = []
    if current is None:
        return changes
    if entry["mode"] is not None and stat.S_IMODE(current.st_mode) != entry["mode"]:
        changes.append("mode")
    if entry["uid"] is not None and current.st_uid != entry["uid"]:
        changes.append("owner")
    if entry["gid"] is not None and current.st_gid != entry["gid"]:
        changes.append("group")
    return changes


def _attributes(current, entry):
    """The before/after description of a path's type and attributes, for diffs."""
    if current is None:
        return {"state": "absent"}
    kind = stat.S_IFMT(current.st_mode)
    state = {stat.S_IFDIR: "directory", stat.S_IFLNK: "link"}.get(kind, "file")
    described = {"state": state, "mode": f"{stat.S_IMODE(current.st_mode):04o}"}
    if entry["owner"] is not None:
        described["owner"] = _user_name(current.st_uid)
    if entry["group"] is not None:
        described["group"] = _group_name(current.st_gid)
    return described


def _user_name(uid):
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _group_name(gid):
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


def _wanted(entry):
    described = {"state": entry["state"]}
    if entry["state"] == "absent":
        return described
    if entry["mode"] is not None:
        described["mode"] = f"{entry['mode']:04o}"
    if entry["owner"] is not None:
        described["owner"] = entry["owner"]
    if entry["group"] is not None:
        described["group"] = entry["group"]
    return described


def plan_entries(entries):
    """For each entry, what would change: a list of change records (unchanged entries left out).

    A record holds the entry, ``action`` (write, attributes, mkdir, link, remove) and ``diff``.
    Entries with ``keep_files`` whose path holds a regular file are reported in the second list.
    """
    changes = []
    kept = []
    for entry in entries:
        path = entry["path"]
        current = _lstat(path)
        kind = stat.S_IFMT(current.st_mode) if current is not None else None
        state = entry["state"]
        action = None
        before_text = after_text = None
        if state == "absent":
            if current is not None:
                action = "remove"
        elif state == "directory":
            if current is None:
                action = "mkdir"
            elif _attribute_changes(entry, current):
                action = "attributes"
        elif state == "link":
            if kind == stat.S_IFREG and entry["keep_files"]:
                kept.append(path)
            elif kind != stat.S_IFLNK or os.readlink(path) != entry["src"]:
                action = "link"
            elif _attribute_changes(dict(entry, mode=None), current):
                # A link's own owner and group; its mode means nothing on Linux.
                action = "attributes"
        elif current is None and not entry["create"]:
            continue
        else:
            wanted = entry["text"].encode("utf-8")
            existing = _read(path) if kind == stat.S_IFREG else None
            if existing != wanted:
                action = "write"
                if existing is None:
                    before_text = ""
                elif entry["secret"]:
                    before_text = SECRET_BEFORE
                else:
                    before_text = existing.decode("utf-8", errors="replace")
                after_text = SECRET_AFTER if entry["secret"] else entry["text"]
            elif _attribute_changes(entry, current):
                action = "attributes"
        if action is None:
            continue
        diff = {
            "before_header": path,
            "after_header": path,
        }
        if action == "write":
            diff["before"] = before_text
            diff["after"] = after_text
        else:
            before = _attributes(current, entry)
            after = _wanted(entry)
            if state == "link":
                if kind == stat.S_IFLNK:
                    before["src"] = os.readlink(path)
                after["src"] = entry["src"]
            diff["before"] = _describe(before)
            diff["after"] = _describe(after)
        changes.append({"entry": entry, "action": action, "diff": diff})
    return changes, kept


def _describe(attributes):
    return "".join(f"{key}: {value}\n" for key, value in sorted(attributes.items()))


def _set_attributes(path, entry, follow=True):
    if entry["mode"] is not None and follow:
        os.chmod(path, entry["mode"])
    if entry["uid"] is not None or entry["gid"] is not None:
        uid = -1 if entry["uid"] is None else entry["uid"]
        gid = -1 if entry["gid"] is None else entry["gid"]
        if follow:
            os.chown(path, uid, gid)
        else:
            os.lchown(path, uid, gid)


def _move_into_place(temporary, path, prepare):
    """Let ``prepare(temporary)`` finish the temporary path, then rename it over ``path``. On any
    failure the temporary path is removed and ``path`` is left as it was."""
    try:
        prepare(temporary)
        os.replace(temporary, path)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise


def replace_file(path, data, prepare=None, prefix=".homelab-"):
    """Write ``data`` to a temporary file beside ``path``, let ``prepare(temporary)`` set its
    attributes, then rename it over ``path`` (see _move_into_place)."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=prefix)

    def fill(staged):
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        if prepare is not None:
            prepare(staged)

    _move_into_place(temporary, path, fill)


def _write(entry):
    path = entry["path"]

    def prepare(temporary):
        if entry["mode"] is None:
            # Keep the mode of the file replaced, or the umask's default for a new one.
            existing = _lstat(path)
            if existing is not None and stat.S_ISREG(existing.st_mode):
                os.chmod(temporary, stat.S_IMODE(existing.st_mode))
            else:
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(temporary, 0o666 & ~umask)
        _set_attributes(temporary, entry)

    replace_file(path, entry["text"].encode("utf-8"), prepare)


def _link(entry):
    path = entry["path"]
    temporary = os.path.join(os.path.dirname(path), f".homelab-link-{os.getpid()}")
    if os.path.lexists(temporary):
        os.unlink(temporary)
    os.symlink(entry["src"], temporary)
    _move_into_place(temporary, path, lambda link: _set_attributes(link, entry, follow=False))


def apply_changes(changes):
    """Carry out ``plan_entries``' changes, in the order given. When one fails, raise ApplyError
    naming it and the paths already changed, so the caller reports them as changed."""
    applied = []
    for change in changes:
        entry = change["entry"]
        try:
            _apply(change["action"], entry)
        except OSError as exc:
            raise ApplyError(entry["path"], entry["label"], exc, applied) from exc
        applied.append(entry["path"])
    return applied


def _apply(action, entry):
    if action == "write":
        _write(entry)
    elif action == "mkdir":
        os.mkdir(entry["path"], 0o755 if entry["mode"] is None else entry["mode"])
        _set_attributes(entry["path"], entry)
    elif action == "attributes":
        _set_attributes(entry["path"], entry, follow=entry["state"] != "link")
    elif action == "link":
        _link(entry)
    elif action == "remove":
        os.unlink(entry["path"])
