"""DynamoDB capacity units from item sizes, by DynamoDB's published rules (pure, no boto3).

Why computed and not read: moto (5.2.5, the pinned emulator) answers ``ReturnConsumedCapacity``
with fixed placeholders (0.5 per ``GetItem``, 1.0 per ``PutItem``/``Query``/``Scan``, 2.0 per
transactional read, whatever the item size: ``moto/dynamodb/responses.py``,
``include_consumed_capacity``), so its ``ConsumedCapacity`` would measure the emulator, not the
design. The units here follow the DynamoDB Developer Guide:

* item size (``item_size``): "Item sizes and formats"
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
  attribute names and values in UTF-8 bytes; a number (approximately) 1 byte per 2 significant
  digits + 1; binary its bytes; null and boolean 1 byte; a list or map 3 bytes + 1 byte per
  element + the elements; a set the sum of its elements.
* reads ("Read capacity units"): one unit per 4 KB, rounded up, strongly consistent; half of that
  eventually consistent; a read of a missing item still costs the minimum; ``Query``/``Scan`` sum
  the sizes of the items read and round up once; ``BatchGetItem`` rounds up each item;
  ``TransactGetItems`` costs 2x.
* writes ("Write capacity units"): one unit per 1 KB, rounded up, of the larger of the item before
  and after (``PutItem`` replacing, ``UpdateItem``) or of the deleted item; at least 1 (also when
  the condition fails); ``BatchWriteItem`` per item; ``TransactWriteItems`` 2x per item,
  ``ConditionCheck`` included.
* global secondary indexes ("Provisioned throughput considerations for Global Secondary Indexes",
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html): a write that puts an
  item in an index costs 1 index write of the projected entry (its projected attributes, the
  table's and the index's keys, + 100 bytes); one that changes the index key 2 (delete + put);
  removing the item from the index 1; an update that changes no projected attribute 0.

Items are DynamoDB's low-level JSON (``{"S": "..."}``, ``{"N": "12"}``, ...), as botocore sends
and receives them. Units are floats (0.5 steps for eventually consistent reads).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
INDEX_ENTRY_OVERHEAD_BYTES = 100


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one low-level attribute value."""
    (kind, body), = value.items()
    if kind == "S":
        return len(body.encode())
    if kind == "N":
        return _number_size(str(body))
    if kind == "B":
        return len(body) if isinstance(body, bytes | bytearray) else len(base64.b64decode(body))
    if kind in {"NULL", "BOOL"}:
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in body)
    if kind == "NS":
        return sum(_number_size(str(n)) for n in body)
    if kind == "BS":
        return sum(value_size({"B": b}) for b in body)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in body)
    if kind == "M":
        return 3 + sum(1 + len(k.encode()) + value_size(v) for k, v in body.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Mapping[str, Any] | None) -> int:
    """Bytes of an item (0 for None): each attribute's name and value."""
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(v) for name, v in item.items())


def read_units(size: int, consistent: bool) -> float:
    """Read units of one read of ``size`` bytes (the minimum when nothing was found)."""
    units = max(1, math.ceil(size / READ_UNIT_BYTES))
    return float(units) if consistent else units / 2


def write_units(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> float:
    """Write units of one item write: the larger of the item before and after, per 1 KB, at least 1."""
    return float(max(1, math.ceil(max(item_size(before), item_size(after)) / WRITE_UNIT_BYTES)))


@dataclass(frozen=True)
class Index:
    """A global secondary index: its key attributes and projection (``ALL``, ``KEYS_ONLY``,
    ``INCLUDE`` with ``non_key``)."""

    name: str
    keys: tuple[str, ...]
    projection: str
    non_key: tuple[str, ...] = ()

    def entry(self, item: Mapping[str, Any] | None, table_keys: tuple[str, ...]) -> dict[str, Any] | None:
        """The item's entry in the index, or None when it lacks the index's key."""
        if not item or any(k not in item for k in self.keys):
            return None
        if self.projection == "ALL":
            return dict(item)
        names = set(self.keys) | set(table_keys) | (set(self.non_key) if self.projection == "INCLUDE" else set())
        return {k: v for k, v in item.items() if k in names}


def index_writes(index: Index, table_keys: tuple[str, ...], before: Mapping[str, Any] | None,
                 after: Mapping[str, Any] | None) -> float:
    """Index write units one item write costs on ``index`` (GSI rules above)."""
    old, new = index.entry(before, table_keys), index.entry(after, table_keys)

    def units(entry: Mapping[str, Any]) -> float:
        return float(max(1, math.ceil((item_size(entry) + INDEX_ENTRY_OVERHEAD_BYTES) / WRITE_UNIT_BYTES)))

    if old is None and new is None:
        return 0.0
    if old is None:
        return units(new or {})
    if new is None:
        return units(old)
    if any(old.get(k) != new.get(k) for k in index.keys):
        return units(old) + units(new)
    return units(new) if old != new else 0.0
