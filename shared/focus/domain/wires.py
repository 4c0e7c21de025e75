"""The names that cross codebases: task queues and Pub/Sub topics, each written once.

One codebase enqueues a task or publishes an event and another one (or the same one, later)
receives it, by name: a misspelt name would be a queue or topic nobody serves. So every enqueue,
publish and dead letter names its target with these members (``focus.adapters.messaging`` only
takes them), and ``tests/test_wires.py`` checks that they are exactly the task-queue and Pub/Sub
functions ``functions/*/main.py`` deploy. Pure names, no Google: the domain's events name their
topic with them too (``focus.domain.events``).
"""

from __future__ import annotations

import zlib
from enum import StrEnum


class Task(StrEnum):
    """Task-queue functions. A task-queue function's queue is named after the function, so each
    value is both the function's name and its queue's."""

    COMPLETE_SESSION_AT_PLANNED_END = "completeSessionAtPlannedEnd"
    COUNT_COMPLETED_SESSION = "countCompletedSession"
    DERIVE_DAYS = "deriveDays"
    ERASE_ACCOUNT = "eraseAccount"
    BUILD_EXPORT = "buildExport"
    SEND_PUSH = "sendPush"
    SEND_CAMPAIGN_BATCH = "sendCampaignBatch"
    PREPARE_INSIGHTS = "prepareInsights"
    APPLY_INSIGHT_RESULTS = "applyInsightResults"
    WRITE_NUDGE = "writeNudge"


# Cloud Tasks dispatches at most 500 tasks a second from one queue; a task busier than that at
# 10M daily users (scripts/limits-sim) runs on several queues, its lanes: functions of the same
# body named ``<task>``, ``<task>2``, ... ``<task>N``. A person's tasks always take the same lane
# (``lane_of``), so a task id still deduplicates (named tasks are unique per queue) and one
# person's tasks are no more concurrent than on one queue. Changing a count moves people to other
# lanes: a task enqueued twice across that deploy may run twice, which every task body survives.
LANES: dict[Task, int] = {
    Task.COMPLETE_SESSION_AT_PLANNED_END: 2,
    Task.COUNT_COMPLETED_SESSION: 2,
    Task.DERIVE_DAYS: 2,
    Task.SEND_PUSH: 4,
}


def lanes(task: Task) -> tuple[str, ...]:
    """Every queue (and task-queue function) of ``task``: its own name first."""
    return (task.value, *(f"{task.value}{n}" for n in range(2, LANES.get(task, 1) + 1)))


def has_lanes(task_name: str) -> bool:
    """Whether the task named ``task_name`` runs on more than one queue."""
    return any(task.value == task_name and count > 1 for task, count in LANES.items())


def lane_of(task: Task, person: str) -> str:
    """The queue ``person``'s ``task`` goes to: a stable hash (CRC-32 of the uid, the same in
    every process and release, unlike Python's salted ``hash``)."""
    names = lanes(task)
    return names[zlib.crc32(person.encode()) % len(names)]


def task_of_lane(queue: str) -> str:
    """The task whose lane ``queue`` is (``sendPush3`` -> ``sendPush``); any other name as is."""
    for task in LANES:
        if queue in lanes(task):
            return task.value
    return queue


class Topic(StrEnum):
    """Pub/Sub topics carrying domain events (infra/terraform/locals.tf, ``topics``)."""

    SESSION_COMPLETED = "session-completed"
    # Google Play's real-time developer notifications (the Play Console publishes them here).
    PLAY_NOTIFICATIONS = "play-billing-notifications"
    # Product events for the warehouse (focus.domain.analytics_events, docs/analytics.md).
    PRODUCT_EVENTS = "product-events"


# Topics another system publishes to, in its own format (not a focus.domain.events DomainEvent).
EXTERNAL_TOPICS = frozenset({Topic.PLAY_NOTIFICATIONS})

# Topics we publish to that no function consumes: a BigQuery subscription writes each message to
# the warehouse (infra/terraform/analytics.tf). Their messages follow the topic's Avro schema, not
# a DomainEvent's shape, and Terraform declares them beside the warehouse, not in ``topics``.
CONSUMED_OUTSIDE_CODE = frozenset({Topic.PRODUCT_EVENTS})

# Dead letters of a topic or task-queue function ``S`` wait on topic ``S-dead-letter``
# (infra/terraform/pubsub.tf, scripts/dead-letters).
DEAD_LETTER_SUFFIX = "-dead-letter"
