"""The pytest plugin (registered through the ``pytest11`` entry point).

Settings (``[tool.pytest.ini_options]`` or pytest.ini)::

    firebase_project    = demo-project   # the project id the suite runs with
    firebase_region     = us-central1    # default region of callables and schedules
    firebase_rules_file = firestore.rules  # loaded into the emulator once per session (optional)
    play_endpoint_variable = PLAY_ENDPOINT  # the variable naming a local Play server's URL
    vertex_endpoint_variable = VERTEX_ENDPOINT  # ... a local Vertex AI server's URL
    storage_endpoint_variable = STORAGE_EMULATOR_HOST  # ... a local Cloud Storage server's URL

Fixtures:

* ``firebase_suite`` (session): the ``EmulatorSuite``; fails clearly if no suite is running.
* ``firebase`` (function): the same suite with Firestore and Auth cleared before the test.
* ``firestore_rules`` (function): ``load(source)`` replaces the rules for one test, and the
  configured rules file is loaded again afterwards.
* ``play`` (function): a ``PlayRemote`` for the local Google Play server a suite runner started
  (``firebase_emulator_harness.play``), at the URL in the environment variable
  ``play_endpoint_variable`` names; emptied of purchases, acknowledgements and failures before
  and after the test. The test is skipped when the variable is unset.
* ``vertex`` (function): a ``VertexRemote`` for the local Vertex AI server
  (``firebase_emulator_harness.vertex``) at the URL in ``vertex_endpoint_variable``; its scripted
  answers, requests and batch jobs forgotten before and after the test. Skipped when unset.
* ``cloud_storage`` (function): a ``StorageRemote`` for the local Cloud Storage server
  (``firebase_emulator_harness.cloud_storage``) at the URL in ``storage_endpoint_variable``;
  emptied of objects before and after the test. Skipped when unset.

Option ``--rule-coverage``: a final check (it runs after every other test and reports like one)
fails unless the session evaluated every expression of the configured rules file and saw every
condition both pass and fail (a check never seen failing was never shown to deny anything); it
lists the expressions and conditions that fall short. The emulator counts coverage from the last time rules were loaded,
so the plugin adds up the coverage of every stretch with the configured rules loaded (the
``firestore_rules`` fixture takes a reading before it replaces them). Coverage is judged on the
whole default selection only: with test paths on the command line, or tests deselected
(``-k``, ``-m``, ``--lf``, ...), the check is skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from firebase_emulator_harness.cloud_storage import StorageRemote
from firebase_emulator_harness.errors import EmulatorNotRunning
from firebase_emulator_harness.firestore import (
    RuleCoverageReport,
    Span,
    one_sided_conditions,
    outcomes,
    uncovered_expressions,
)
from firebase_emulator_harness.play import PlayRemote
from firebase_emulator_harness.suite import EmulatorSuite
from firebase_emulator_harness.vertex import VertexRemote


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
    parser.addini(
        "play_endpoint_variable",
        "environment variable holding the URL of the local Google Play server (the play fixture)",
        default="PLAY_ENDPOINT",
    )
    parser.addini(
        "vertex_endpoint_variable",
        "environment variable holding the URL of the local Vertex AI server (the vertex fixture)",
        default="VERTEX_ENDPOINT",
    )
    parser.addini(
        "storage_endpoint_variable",
        "environment variable holding the URL of the local Cloud Storage server (the "
        "cloud_storage fixture)",
        default="STORAGE_EMULATOR_HOST",
    )
    parser.addoption(
        "--rule-coverage",
        action="store_true",
        help="fail the run unless the tests evaluated every expression of firebase_rules_file and "
        "saw every condition both pass and fail (judged only when the whole default test "
        "selection runs)",
    )


@dataclass
class RuleCoverage:
    """Coverage of the configured rules, added up over every stretch they were loaded."""

    source: str
    seen: dict[Span, set[str]] = field(default_factory=dict)  # what each expression came to
    loaded: bool = False  # the configured rules were loaded in this session
    deselected: int = 0

    def absorb(self, report: RuleCoverageReport) -> bool:
        """Add a coverage report's outcomes; False if it is about other rules."""
        if report["rules"]["files"][0]["content"] != self.source:
            return False
        for span, kinds in outcomes(report).items():
            self.seen.setdefault(span, set()).update(kinds)
        return True


RULE_COVERAGE = pytest.StashKey[RuleCoverage]()


class RuleCoverageGap(Exception):
    """Rule expressions no test evaluated, or why coverage could not be judged."""


class RuleCoverageCheck(pytest.Item):
    """The ``--rule-coverage`` check, run after every other test."""

    def runtest(self) -> None:
        state = self.config.stash[RULE_COVERAGE]
        if self.config.args_source == pytest.Config.ArgsSource.ARGS:
            pytest.skip("rule coverage is judged on the default test selection (no test paths)")
        if state.deselected:
            pytest.skip(f"rule coverage is judged on every test ({state.deselected} deselected)")
        if not state.loaded:
            raise RuleCoverageGap("no test used the emulators, so no rule was evaluated")
        try:
            suite = _suite(self.config)
        except EmulatorNotRunning as exc:
            raise RuleCoverageGap(str(exc)) from None
        report = suite.firestore.rule_coverage()
        if not state.absorb(report):
            raise RuleCoverageGap(
                "the emulator no longer enforces the configured rules (a test replaced them "
                "without the firestore_rules fixture), so their coverage is unknown"
            )
        problems = []
        if missing := uncovered_expressions(report, also_covered=state.seen.keys()):
            problems.append(
                f"{len(missing)} expression(s) no test evaluated (line:column  expression):\n"
                + "\n".join(f"  {m}" for m in missing)
            )
        if one_sided := one_sided_conditions(report, state.seen):
            problems.append(
                f"{len(one_sided)} condition(s) no test saw both pass and fail "
                "(a check never seen failing was never shown to deny anything):\n"
                + "\n".join(f"  {m}" for m in one_sided)
            )
        if problems:
            raise RuleCoverageGap(f"{self.path.name}: " + "\n".join(problems))

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: str | None = None
    ) -> str:
        if isinstance(excinfo.value, RuleCoverageGap):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.path.name} coverage"


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("rule_coverage", False):
        source = _configured_rules(config)
        if source is None:
            raise pytest.UsageError("--rule-coverage needs the firebase_rules_file setting")
        config.stash[RULE_COVERAGE] = RuleCoverage(source)


def pytest_deselected(items: list[pytest.Item]) -> None:
    if items and RULE_COVERAGE in items[0].config.stash:
        items[0].config.stash[RULE_COVERAGE].deselected += len(items)


@pytest.hookimpl(trylast=True)  # after -k / -m / --lf have deselected what they deselect
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if RULE_COVERAGE in config.stash:
        rules = Path(config.rootpath) / str(config.getini("firebase_rules_file"))
        items.append(
            RuleCoverageCheck.from_parent(
                session, name="coverage", path=rules, nodeid=f"{rules.name}::coverage"
            )
        )


def _suite(config: pytest.Config) -> EmulatorSuite:
    return EmulatorSuite(
        project=str(config.getini("firebase_project")),
        region=str(config.getini("firebase_region")),
    )


def _configured_rules(config: pytest.Config) -> str | None:
    name = str(config.getini("firebase_rules_file"))
    if not name:
        return None
    return (Path(config.rootpath) / name).read_text()


@pytest.fixture(scope="session")
def firebase_suite(pytestconfig: pytest.Config) -> EmulatorSuite:
    try:
        suite = _suite(pytestconfig)
    except EmulatorNotRunning as exc:
        pytest.fail(str(exc), pytrace=False)
    if (rules := _configured_rules(pytestconfig)) is not None and "firestore" in suite.endpoints:
        suite.firestore.load_rules(rules)  # also restarts the emulator's rule coverage
        if RULE_COVERAGE in pytestconfig.stash:
            pytestconfig.stash[RULE_COVERAGE].loaded = True
    return suite


@pytest.fixture
def firebase(firebase_suite: EmulatorSuite) -> EmulatorSuite:
    firebase_suite.reset()
    return firebase_suite


@pytest.fixture
def firestore_rules(
    firebase_suite: EmulatorSuite, pytestconfig: pytest.Config
) -> Iterator[Callable[[str], None]]:
    if RULE_COVERAGE in pytestconfig.stash:
        # Loading other rules restarts the emulator's coverage: keep what the configured ones had.
        pytestconfig.stash[RULE_COVERAGE].absorb(firebase_suite.firestore.rule_coverage())
    yield firebase_suite.firestore.load_rules
    if (rules := _configured_rules(pytestconfig)) is not None:
        firebase_suite.firestore.load_rules(rules)


def _local_server_url(config: pytest.Config, setting: str, what: str) -> str:
    """The URL in the variable the ini ``setting`` names; the test is skipped if it is unset."""
    variable = str(config.getini(setting))
    url = os.environ.get(variable)
    if not url:
        pytest.skip(f"no local {what} server ({variable} unset)")
    return url


@pytest.fixture
def play(pytestconfig: pytest.Config) -> Iterator[PlayRemote]:
    server = PlayRemote(_local_server_url(pytestconfig, "play_endpoint_variable", "Google Play"))
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def vertex(pytestconfig: pytest.Config) -> Iterator[VertexRemote]:
    server = VertexRemote(_local_server_url(pytestconfig, "vertex_endpoint_variable", "Vertex AI"))
    server.reset()
    yield server
    server.reset()


@pytest.fixture
def cloud_storage(pytestconfig: pytest.Config) -> Iterator[StorageRemote]:
    url = _local_server_url(pytestconfig, "storage_endpoint_variable", "Cloud Storage")
    server = StorageRemote(url)
    server.reset()
    yield server
    server.reset()
