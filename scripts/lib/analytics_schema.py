"""Writes the product-event shape Terraform declares from the one the code publishes.

The domain's ``avro_schema()`` (focus.domain.analytics_events) is the contract: the topic
``product-events`` validates every message against it, and the BigQuery subscription writes each
of its fields to the same-named column of ``analytics.events``. Terraform cannot import Python, so
this writes both as files next to it (infra/terraform/schemas/):

  product-events.avsc          the topic schema (google_pubsub_schema.product_events)
  product-events.table.json    the table's columns (google_bigquery_table.events)

tests/test_infra.py fails when either differs from what this would write. Usage:
  .venv/bin/python scripts/lib/analytics_schema.py           write both files
  .venv/bin/python scripts/lib/analytics_schema.py --check   exit 1 if either is stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from focus.domain.analytics_events import avro_schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "infra" / "terraform" / "schemas"
TOPIC_SCHEMA = SCHEMAS / "product-events.avsc"
TABLE_SCHEMA = SCHEMAS / "product-events.table.json"

# The BigQuery type of each Avro type a BigQuery subscription writes with use_topic_schema
# (cloud.google.com/pubsub/docs/bigquery, "Schema compatibility").
AVRO_TO_BIGQUERY = {
    "string": "STRING",
    "int": "INTEGER",
    "long": "INTEGER",
    "boolean": "BOOLEAN",
    "float": "FLOAT",
    "double": "FLOAT",
    "bytes": "BYTES",
}
LOGICAL_TO_BIGQUERY = {"timestamp-micros": "TIMESTAMP", "timestamp-millis": "TIMESTAMP"}
# Columns whose BigQuery type is not the Avro type's own. Pub/Sub writes an Avro string to a JSON
# or TIMESTAMP column when its value is in that type's format (else the message is refused and
# dead-lettered): `properties` is a JSON object in a string, stored as JSON so models read one
# key without parsing the rest; times may travel as RFC 3339 strings.
STRING_AS = {"properties": "JSON", "event_time": "TIMESTAMP", "ingest_time": "TIMESTAMP"}


def column(field: dict[str, Any]) -> dict[str, Any]:
    """The BigQuery column a topic-schema field is written to."""
    kind: Any = field["type"]
    mode = "REQUIRED"
    if isinstance(kind, list):
        others = [k for k in kind if k != "null"]
        if len(others) != 1 or len(kind) != 2:
            raise ValueError(f"{field['name']}: only [null, T] unions map to a column")
        kind, mode = others[0], "NULLABLE"
    if isinstance(kind, dict):
        logical = kind.get("logicalType")
        if logical not in LOGICAL_TO_BIGQUERY:
            raise ValueError(f"{field['name']}: no column type for {kind}")
        bigquery = LOGICAL_TO_BIGQUERY[logical]
    elif kind == "string" and field["name"] in STRING_AS:
        bigquery = STRING_AS[field["name"]]
    elif kind in AVRO_TO_BIGQUERY:
        bigquery = AVRO_TO_BIGQUERY[kind]
    else:
        raise ValueError(f"{field['name']}: no column type for {kind!r}")
    found = {"name": field["name"], "type": bigquery, "mode": mode}
    if field.get("doc"):
        found["description"] = field["doc"]
    return found


def table_schema(schema: dict[str, Any]) -> list[dict[str, Any]]:
    if schema.get("type") != "record":
        raise ValueError("the topic schema must be one record")
    return [column(field) for field in schema["fields"]]


def rendered() -> dict[Path, str]:
    """Each file's text as the code's schema gives it."""
    schema = avro_schema()
    return {
        TOPIC_SCHEMA: json.dumps(schema, indent=2) + "\n",
        TABLE_SCHEMA: json.dumps(table_schema(schema), indent=2) + "\n",
    }


def stale() -> list[Path]:
    return [
        path for path, text in rendered().items() if not path.is_file() or path.read_text() != text
    ]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    if args.check:
        paths = stale()
        for path in paths:
            print(f"stale: {path.relative_to(ROOT)}", file=sys.stderr)
        return 1 if paths else 0
    SCHEMAS.mkdir(parents=True, exist_ok=True)
    for path, text in rendered().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
