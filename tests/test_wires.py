"""The names that cross codebases (``focus.domain.wires``) are exactly what the codebases deploy:
every task name is a task-queue function (a queue is named after its function) and every topic
has its Pub/Sub consumer, both ways, and Terraform creates what they need. Offline: the functions
are read from ``functions/*/main.py``, never imported."""

from __future__ import annotations

import ast

import iac

from focus.domain.events import DomainEvent
from focus.domain.wires import (
    CONSUMED_OUTSIDE_CODE,
    EXTERNAL_TOPICS,
    LANES,
    Task,
    Topic,
    lane_of,
    lanes,
)

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
    """A task with lanes is a task-queue function per lane (``<task>``, ``<task>2``, ...)."""
    assert set(_decorated("tasks_fn.on_task_dispatched")) == {
        lane for task in Task for lane in lanes(task)
    }


def test_the_lanes_of_a_task_share_one_retry_policy_and_concurrency() -> None:
    """Lanes are one queue split in several: a lane that retried or throttled differently would
    make a person's tasks behave by the hash of their uid."""
    decorated = _decorated("tasks_fn.on_task_dispatched")
    for task in LANES:
        first, *others = lanes(task)
        assert others, task
        for lane in others:
            assert ast.unparse(decorated[lane]) == ast.unparse(decorated[first]), lane


def test_a_persons_tasks_always_take_the_same_lane_and_people_spread_over_all() -> None:
    people = [f"person-{n}" for n in range(400)]
    for task, count in LANES.items():
        assert {lane_of(task, p) for p in people} == set(lanes(task))
        assert all(lane_of(task, p) == lane_of(task, p) for p in people)
        busiest = max(sum(lane_of(task, p) == lane for p in people) for lane in lanes(task))
        assert busiest < 1.3 * len(people) / count
    assert lane_of(Task.SEND_PUSH, "person-4") == "sendPush4"  # a stable hash, not hash()


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
