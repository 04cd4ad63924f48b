"""Load ``seed.yaml``: batches into the BatchesTable, people into the ministry simulator."""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from boto3.dynamodb.types import TypeSerializer

from prakerja.clock import iso
from prakerja_local.ministry import MinistrySimulator

DEFAULT_SEED = Path(__file__).with_name("seed.yaml")
QUOTA_ENV = "PRAKERJA_LOCAL_QUOTA"
_OFFSETS = {"opens_in_hours": "opens_at", "closes_in_hours": "closes_at", "announce_in_hours": "announce_at"}


def load_seed(path: Path | str | None = None) -> dict[str, Any]:
    """The seed document (default: the package's ``seed.yaml``)."""
    with open(path or DEFAULT_SEED, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def commitment(secret: str) -> str:
    """The published commitment to a draw secret: the sha256 hex of the secret string."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def batch_items(
    spec: dict[str, Any],
    start: datetime,
    secret_factory: Callable[[], str] | None = None,
    quota: int | None = None,
) -> list[dict[str, Any]]:
    """The META item and the listing index item of one seeded batch."""
    secret = (secret_factory or (lambda: secrets.token_hex(32)))()
    times = {attr: iso(start + timedelta(hours=float(spec[key]))) for key, attr in _OFFSETS.items()}
    extra = {k: v for k, v in spec.items() if k not in _OFFSETS and k != "batch_id"}
    batch_id = str(spec["batch_id"])
    meta = {
        **extra,
        "pk": f"BATCH#{batch_id}",
        "sk": "META",
        "batch_id": batch_id,
        **times,
        "quota": int(quota if quota is not None else spec.get("quota", 10)),
        "commitment": commitment(secret),
        "secret": secret,
        "status": "SCHEDULED",
    }
    index = {"pk": "BATCHES", "sk": f"{times['opens_at']}#{batch_id}", "batch_id": batch_id}
    return [meta, index]


def _quota_override() -> int | None:
    value = os.environ.get(QUOTA_ENV)
    return int(value) if value else None


def seed_batches(dynamodb: Any, table_name: str, specs: list[dict[str, Any]], start: datetime) -> list[dict[str, Any]]:
    """Write every batch of ``specs`` to ``table_name``; returns the META items."""
    serializer = TypeSerializer()
    quota = _quota_override()
    metas = []
    for spec in specs:
        items = batch_items(spec, start, quota=quota)
        for item in items:
            dynamodb.put_item(TableName=table_name, Item={k: serializer.serialize(v) for k, v in item.items()})
        metas.append(items[0])
    return metas


def seed_ministry(simulator: MinistrySimulator, people: list[dict[str, Any]]) -> int:
    """Add ``people`` to the simulator's register; returns how many."""
    for person in people:
        simulator.add(person)
    return len(people)
