"""Every Firestore path is built by ``focus.adapters.paths``: a collection renamed there is renamed
everywhere, and a typo cannot create a collection the rules, the registry and erasure never see.

Pure: reads the source, no emulator.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATHS = ROOT / "shared" / "focus" / "adapters" / "paths.py"
SOURCES = sorted(
    [
        *(ROOT / "shared" / "focus").rglob("*.py"),
        *(ROOT / "functions").glob("*/main.py"),
        *(ROOT / "tools" / "focus_tools").rglob("*.py"),
    ]
)
# Calls whose first argument (for QuerySpec: its second, after the description) is a path.
TAKES_A_PATH = {"document": 0, "collection": 0, "collection_group": 0, "QuerySpec": 1}


def spelled_paths(source: str) -> list[int]:
    """Lines where a path is spelled as a literal or f-string instead of coming from ``paths``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        index = TAKES_A_PATH.get(str(name))
        if index is None or len(node.args) <= index:
            continue
        argument = node.args[index]
        if isinstance(argument, ast.JoinedStr) or (
            isinstance(argument, ast.Constant) and isinstance(argument.value, str)
        ):
            found.append(node.lineno)
    return sorted(found)


def test_no_path_is_built_outside_the_paths_module() -> None:
    spelled = {
        str(path.relative_to(ROOT)): lines
        for path in SOURCES
        if path != PATHS and (lines := spelled_paths(path.read_text()))
    }

    assert spelled == {}


def test_a_spelled_path_is_found() -> None:
    source = (
        'db.document(f"users/{uid}")\n'
        'ref.collection("chunks").document(str(index))\n'
        'store.QuerySpec("open erasures", "erasures")\n'
        "db.document(paths.user(uid)).collection(paths.EXPORT_CHUNKS).document()\n"
    )

    assert spelled_paths(source) == [1, 2, 3]
