"""The names that cross codebases (``focus.domain.wires``) are exactly what the codebases deploy:
every task name is a task-queue function (a queue is named after its function) and every topic
has its Pub/Sub consumer, both ways, and Terraform creates what they need. Offline: the functions
are read from ``functions/*/main.py``, never imported."""

from __future__ import annotations

import ast

import iac

from focus.domain.events import DomainEvent
from focus.domain.wires import CONSUMED_OUTSIDE_CODE, EXTERNAL_TOPICS, Task, Topic

FUNCTIONS = sorted((iac.ROOT / "functions").glob("*/main.py"))


def _decorated(decorator: str) -> dict[str, ast.Call]:
    """Every function in ``functions/*/main.py`` decorated with ``decorator(...)`` (as the code
    spells it, e.g. ``tasks_fn.on_task_dispatched``), with the decorator's call."""
    found: dict[str, ast.Call] = {}
    for path in FUNCTIONS:
        for node in ast.parse(path.read_text(), filename=str(path)).body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for call in node.decorator_list:
                if isinstance(call, ast.Call) and ast.unparse(call.func) == decorator:
                    found[node.name] = call
    return found


def _topic_of(call: ast.Call) -> str:
    """The topic a Pub/Sub consumer listens on: a ``Topic`` member (or, if someone spelt it out,
    a literal)."""
    (topic,) = [k.value for k in call.keywords if k.arg == "topic"]
    if isinstance(topic, ast.Constant) and isinstance(topic.value, str):
        return topic.value
    spelt = ast.unparse(topic)
    assert spelt.startswith("Topic."), f"a consumer's topic is named by focus.domain.wires: {spelt}"
    return Topic[spelt.removeprefix("Topic.")].value


def test_every_task_is_a_task_queue_function_and_every_task_queue_function_a_task() -> None:
    assert set(_decorated("tasks_fn.on_task_dispatched")) == {task.value for task in Task}


def test_every_topic_has_its_consumer_and_every_consumer_listens_on_a_topic() -> None:
    """Except the topics a BigQuery subscription consumes (the product events)."""
    consumers = _decorated("pubsub_fn.on_message_published")

    assert consumers
    assert {_topic_of(call) for call in consumers.values()} == {
        topic.value for topic in set(Topic) - CONSUMED_OUTSIDE_CODE
    }


def test_every_topic_carries_a_domain_event_and_every_event_names_its_topic() -> None:
    """Except the topics another system publishes to (Google Play's notifications) and those
    consumed outside the code, whose messages follow the topic's own schema (product events)."""
    events = DomainEvent.__subclasses__()

    assert events
    assert {event.topic for event in events} == set(Topic) - EXTERNAL_TOPICS - CONSUMED_OUTSIDE_CODE


def test_terraform_creates_every_topic_and_dead_letters_only_real_tasks() -> None:
    tf = iac.load()

    assert set(tf.locals["topics"]) == {topic.value for topic in set(Topic) - CONSUMED_OUTSIDE_CODE}
    # The topics consumed outside the code are declared beside their warehouse (analytics.tf).
    assert {tf.locals["analytics_topic"]} == {topic.value for topic in CONSUMED_OUTSIDE_CODE}
    assert set(tf.locals["dead_lettered_tasks"]) <= {task.value for task in Task}
    # Each consumer Terraform names is the function that listens on that topic.
    consumers = _decorated("pubsub_fn.on_message_published")
    assert {name: _topic_of(call) for name, call in consumers.items()} == {
        settings["consumer"]: topic for topic, settings in tf.locals["topics"].items()
    }
