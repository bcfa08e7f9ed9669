"""Prints the figures of every test layer and exits non-zero when any layer failed.

Reads RESULTS/steps.tsv (one line per layer: name, exit code, seconds) written by scripts/test,
and the JUnit reports of the pytest layers (RESULTS/<layer>.xml) for their test counts.
"""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def junit_counts(path: Path) -> dict[str, int]:
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    if not path.exists():
        return counts
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    for suite in suites:
        for key in counts:
            counts[key] += int(suite.get(key, 0))
    return counts


def main(results: Path) -> int:
    rows = []
    passed = failed = skipped = 0
    for line in (results / "steps.tsv").read_text().splitlines():
        name, rc, seconds = line.split("\t")
        ok = rc == "0"
        xml = results / f"{name}.xml"
        if xml.exists():
            c = junit_counts(xml)
            bad = c["failures"] + c["errors"]
            good = c["tests"] - bad - c["skipped"]
            detail = f"{good} passed, {bad} failed, {c['skipped']} skipped"
            if c["tests"] == 0:
                ok = False
                detail = "no test ran"
            elif c["skipped"] == c["tests"]:
                # A layer whose every test skipped has proven nothing (a missing tool, mostly).
                ok = False
                detail = f"all {c['tests']} tests skipped"
            passed += good
            failed += bad
            skipped += c["skipped"]
            if not ok and bad == 0:
                failed += 1  # the layer itself broke (collection error, crash)
        else:
            detail = "ok" if ok else f"exit code {rc}"
            passed += ok
            failed += not ok
        rows.append((name, "PASS" if ok else "FAIL", detail, seconds))

    width = max(len(r[0]) for r in rows)
    print()
    print("Test layers")
    for name, status, detail, seconds in rows:
        print(f"  {name:<{width}}  {status}  {int(seconds):>5d}s  {detail}")
    print()
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 0 if all(r[1] == "PASS" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
