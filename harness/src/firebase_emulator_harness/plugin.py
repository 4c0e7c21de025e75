"""The pytest plugin (registered through the ``pytest11`` entry point).

Settings (``[tool.pytest.ini_options]`` or pytest.ini)::

    firebase_project    = demo-project   # the project id the suite runs with
    firebase_region     = us-central1    # default region of callables and schedules
    firebase_rules_file = firestore.rules  # loaded into the emulator once per session (optional)

Fixtures:

* ``firebase_suite`` (session): the ``EmulatorSuite``; fails clearly if no suite is running.
* ``firebase`` (function): the same suite with Firestore and Auth cleared before the test.
* ``firestore_rules`` (function): ``load(source)`` replaces the rules for one test, and the
  configured rules file is loaded again afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from firebase_emulator_harness.errors import EmulatorNotRunning
from firebase_emulator_harness.suite import EmulatorSuite


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "firebase_project", "Firebase project id of the running Emulator Suite", default="demo-test"
    )
    parser.addini(
        "firebase_region",
        "default region of callables and scheduled functions",
        default="us-central1",
    )
    parser.addini(
        "firebase_rules_file", "Firestore rules file to load once per session", default=""
    )


def _configured_rules(config: pytest.Config) -> str | None:
    name = str(config.getini("firebase_rules_file"))
    if not name:
        return None
    return (Path(config.rootpath) / name).read_text()


@pytest.fixture(scope="session")
def firebase_suite(pytestconfig: pytest.Config) -> EmulatorSuite:
    try:
        suite = EmulatorSuite(
            project=str(pytestconfig.getini("firebase_project")),
            region=str(pytestconfig.getini("firebase_region")),
        )
    except EmulatorNotRunning as exc:
        pytest.fail(str(exc), pytrace=False)
    if (rules := _configured_rules(pytestconfig)) is not None and "firestore" in suite.endpoints:
        suite.firestore.load_rules(rules)
    return suite


@pytest.fixture
def firebase(firebase_suite: EmulatorSuite) -> EmulatorSuite:
    firebase_suite.reset()
    return firebase_suite


@pytest.fixture
def firestore_rules(
    firebase_suite: EmulatorSuite, pytestconfig: pytest.Config
) -> Iterator[Callable[[str], None]]:
    yield firebase_suite.firestore.load_rules
    if (rules := _configured_rules(pytestconfig)) is not None:
        firebase_suite.firestore.load_rules(rules)
