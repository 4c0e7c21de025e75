"""Look for any trace of a person (uid, email, ...) in Firestore and Firebase Auth.

    scripts/erasure-scan <uid> [<email> ...]                 # against the running emulators
    GCLOUD_PROJECT=<project> scripts/erasure-scan <uid> ...  # production (application default
                                                             # credentials; reads every document)
Exit status 0 when nothing is found, 1 otherwise (each finding is printed).
"""

from __future__ import annotations

import argparse
import sys


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "identifiers", nargs="+", help="the uid first, then emails or other identifiers"
    )
    args = parser.parse_args()
    from focus_tools.erasure_scan import scan

    findings = scan(args.identifiers)
    for finding in findings:
        print(finding)
    print(f"{len(findings)} trace(s) found", file=sys.stderr)
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
