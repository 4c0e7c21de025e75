"""Write (or, with --check, verify) the mobile API contract in docs/ from the codebases that
serve the app's callables: api, and webhooks (restorePurchases, beside the store libraries)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"


CALLABLE_CODEBASES = ("api", "webhooks")


def load_api_codebase() -> None:
    """Import each CALLABLE_CODEBASES' main.py so its callables register themselves."""
    os.environ.setdefault("GCLOUD_PROJECT", "demo-focus")
    for codebase in CALLABLE_CODEBASES:
        module = f"focus_{codebase}_main"
        if module in sys.modules:
            continue
        spec = importlib.util.spec_from_file_location(
            module, ROOT / "functions" / codebase / "main.py"
        )
        assert spec is not None and spec.loader is not None
        sys.modules[module] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[module])


def committed(paths: list[str]) -> dict[str, str | None]:
    found = {str(p.relative_to(DOCS)): p.read_text() for p in (DOCS / "api").rglob("*.json")}
    for path in paths:
        file = DOCS / path
        found.setdefault(path, file.read_text() if file.exists() else None)
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if docs/ disagree with the code")
    args = parser.parse_args()
    load_api_codebase()
    from focus_tools import api_contract

    generated = api_contract.files()
    if args.check:
        stale = api_contract.drift(committed(list(generated)))
        for path in stale:
            print(f"docs/{path} disagrees with the code", file=sys.stderr)
        if stale:
            print(
                "run scripts/api-contract (and add a version change if a head model broke)",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for stale_file in (DOCS / "api").rglob("*.json"):
        if str(stale_file.relative_to(DOCS)) not in generated:
            stale_file.unlink()
    for path, content in generated.items():
        (DOCS / path).parent.mkdir(parents=True, exist_ok=True)
        (DOCS / path).write_text(content)
    print(f"wrote {len(generated)} contract files under docs/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
