"""What a call to a Google API needs from IAM, declared next to the adapter that makes it.

Adapters (``clients``, ``logs``, ``tracing``) list a ``Need`` per call; the IAM analysis
(``focus_tools.permissions``) collects them per codebase and checks Terraform grants exactly those.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Resource kinds a permission applies to.
PROJECT = "project"
TOPIC = "topic"  # a Pub/Sub topic, by name
QUEUE = "queue"  # a Cloud Tasks queue, by name (a task-queue function's queue is named after it)
SERVICE = "service"  # the Cloud Run service of a function, by function name
SECRET = "secret"  # a Secret Manager secret, by id
SELF = "self"  # the codebase's own runtime service account
# A Cloud Storage bucket, by the name the code and Terraform share (infra/terraform
# local.bucket_names: "insight-batches" is the bucket "<project>-insight-batches").
BUCKET = "bucket"


@dataclass(frozen=True, order=True)
class Need:
    """One IAM permission on one resource. ``name`` is the resource's name (empty for the
    project and the codebase's own account); in a declaration, ``argument`` may name the called
    function's parameter that holds it instead, with ``suffix`` appended (``<source>-dead-letter``).
    ``when_keyword``: only calls passing that keyword argument as ``True`` need it. ``lanes``:
    the named task's every lane (``focus.domain.wires.lanes``), the call choosing one at run
    time."""

    permission: str
    kind: str = PROJECT
    name: str = ""
    argument: str = ""
    suffix: str = ""
    when_keyword: str = ""
    lanes: bool = False
    why: str = field(default="", compare=False)
