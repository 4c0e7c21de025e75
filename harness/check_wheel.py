"""Build the harness wheel and show it installs and works outside this checkout.

    python harness/check_wheel.py [OUT_DIR]      # default OUT_DIR: .local/dist

Builds ``firebase_emulator_harness-*.whl`` into OUT_DIR (from a copy of harness/, so the checkout
gets no build/ or egg-info), checks that it ships ``py.typed``, the README as its description and
the licence, installs it with its dependencies into an empty folder, and imports it there from
the base interpreter in isolated mode (``python -I``: no venv, no PYTHONPATH, no user site), where
the pytest plugin must be registered and the CLI must answer ``--help``. Fails on the first
problem; a run takes about 30 s (pip fetches setuptools, requests and pytest).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HARNESS = Path(__file__).resolve().parent
PACKAGE = "firebase_emulator_harness"
PIP = (sys.executable, "-m", "pip", "--disable-pip-version-check")


def pip(*arguments: str) -> None:
    """Run pip quietly; on failure show what it said (the machine's pip configuration may add
    warnings about index folders that do not exist: noise unless something fails)."""
    done = subprocess.run(
        [*PIP, *arguments], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if done.returncode != 0:
        sys.exit(f"error: pip {' '.join(arguments)} failed:\n{done.stdout}")


def build(out_dir: Path) -> Path:
    for old in out_dir.glob(f"{PACKAGE}-*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory() as scratch:
        source = Path(scratch) / "harness"
        shutil.copytree(
            HARNESS,
            source,
            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "tests"),
        )
        built = subprocess.run(
            [sys.executable, "-m", "build", "--wheel", "--outdir", str(out_dir), str(source)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if built.returncode != 0:
            sys.exit(f"error: python -m build failed:\n{built.stdout}")
    (wheel,) = out_dir.glob(f"{PACKAGE}-*.whl")
    return wheel


def contents_problems(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata,) = [n for n in names if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    dist_info = metadata.rsplit("/", 1)[0]
    readme_title = (HARNESS / "README.md").read_text().splitlines()[0]
    expected = {
        "the py.typed marker": f"{PACKAGE}/py.typed" in names,
        "the LICENSE": f"{dist_info}/licenses/LICENSE" in names,
        "the licence expression": "License-Expression: Apache-2.0" in text.splitlines(),
        "the README as description": "Description-Content-Type: text/markdown" in text
        and readme_title in text,
        "the emulators module": f"{PACKAGE}/emulators.py" in names,
        "no tests": not any(n.startswith("tests/") for n in names),
    }
    return [f"{wheel.name} lacks {what}" for what, ok in expected.items() if not ok]


SMOKE = f"""
import importlib.metadata, runpy, sys
target = sys.argv[1]
sys.path.insert(0, target)
import {PACKAGE}, {PACKAGE}.emulators, {PACKAGE}.plugin
assert {PACKAGE}.__file__.startswith(target), {PACKAGE}.__file__
plugins = importlib.metadata.entry_points(group="pytest11")
assert "{PACKAGE}" in [p.name for p in plugins], list(plugins)
sys.argv = ["{PACKAGE}", "--help"]
try:
    runpy.run_module("{PACKAGE}", run_name="__main__")
except SystemExit as exit:
    assert exit.code == 0, exit.code
"""


def install_and_import(wheel: Path) -> None:
    base_python = getattr(sys, "_base_executable", sys.executable)
    with tempfile.TemporaryDirectory() as target:
        pip("install", "--target", target, str(wheel))
        subprocess.run(
            [base_python, "-I", "-c", SMOKE, target],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def main() -> int:
    out_dir = Path(sys.argv[1] if len(sys.argv) > 1 else ".local/dist").resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    wheel = build(out_dir)
    if problems := contents_problems(wheel):
        print("\n".join(f"error: {p}" for p in problems), file=sys.stderr)
        return 1
    install_and_import(wheel)
    print(
        f"harness wheel: {wheel} (py.typed, README, LICENSE); "
        "installs and imports in a clean interpreter"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
