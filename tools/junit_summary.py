"""Add up the JUnit XML reports of a test run and print one closing line.

`make test` runs many pytest sessions (one per package and Python); this prints the total,
as 'N passed, N failed, N skipped', and exits non-zero if any test failed or none ran.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else ".tox")
    total = failed = skipped = 0
    reports = sorted(root.glob("junit-*.xml"))
    for report in reports:
        for suite in ET.parse(report).getroot().iter("testsuite"):
            total += int(suite.get("tests", 0))
            failed += int(suite.get("failures", 0)) + int(suite.get("errors", 0))
            skipped += int(suite.get("skipped", 0))
    passed = total - failed - skipped
    print(f"test reports: {len(reports)}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
