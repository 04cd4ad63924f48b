"""Data access for batches (gelombang) and their write-sharded membership.

Items in the Batches table:

* ``BATCH#<id>`` / ``META``: batch settings and state (``status``: SCHEDULED, CLOSED, DRAWN,
  ANNOUNCED; OPEN is derived from the time), ``commitment`` (sha256 of the draw secret),
  after the draw ``seed``, ``secret``, ``participants``, ``selected``, ``result_key``.
* ``BATCHES`` / ``<opens_at>#<id>``: the listing index (one small partition, read-mostly).
* ``BATCH#<id>#M#<shard>`` / ``<applicant_id>``: one member, ``joined_at`` stamped by the
  server, ``province_code`` and ``priority`` (flagged at join time). ``member_shards``
  partitions spread the launch-peak joins (thousands a second) so no key takes more than a few
  hundred writes a second; the draw reads the shards in parallel.
* ``BATCH#<id>#P#A#<applicant_id>`` / ``PRIORITY`` and ``BATCH#<id>#P#N#<nik_hmac>`` /
  ``PRIORITY``: the batch's priority list, one item per entry (an applicant id, or the keyed
  HMAC of a NIK as stored beside the biodata). Each entry is its own partition, so the lookups
  at join time never heat one key; ``META.priority_list`` holds the count.

On AWS the ``secret`` is written only by ``reveal`` after the close (``prakerja-ops batches
reveal``); before that the table holds only its ``commitment``.
"""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from boto3.dynamodb.conditions import Key

from prakerja.adapters.aws import table
from prakerja.adapters.dynamo import applied, plain


class BatchStore:
    """Repository over the Batches table."""

    def __init__(self, table_name: str, shards: int = 16) -> None:
        self.name = table_name
        self.shards = shards

    @property
    def t(self) -> Any:
        return table(self.name)

    def put_batch(self, meta: dict) -> bool:
        """Create a batch (META and index items). Overwrites nothing: False if it exists."""
        items = [
            {"Put": {"TableName": self.name, "Item": {"pk": f"BATCH#{meta['batch_id']}", "sk": "META", **meta},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": self.name,
                     "Item": {"pk": "BATCHES", "sk": f"{meta['opens_at']}#{meta['batch_id']}",
                              "batch_id": meta["batch_id"]}}},
        ]
        return applied(lambda: self.t.meta.client.transact_write_items(TransactItems=items))

    def reveal_secret(self, batch_id: str, secret: str, commitment: str, at: str) -> bool:
        """Store the draw ``secret`` (revealed at ``at``, ISO UTC) if the batch's commitment is
        still ``commitment`` and no secret is stored yet. False otherwise (a different secret was
        revealed first, or the batch is gone). 1 conditional UpdateItem."""
        return self._update_batch(batch_id, {"secret": secret, "revealed_at": at},
                                  "commitment = :c AND attribute_not_exists(secret)", {":c": commitment})

    def close_by_operator(self, batch_id: str, closes_at: str, at: str) -> bool:
        """Close a SCHEDULED batch now (``closes_at``, ``closed_at``: ISO UTC): status CLOSED,
        ``closed_by`` operator. False when it is not SCHEDULED any more (a tick or another
        operator closed it first). 1 conditional UpdateItem."""
        return self._update_batch(batch_id, {"status": "CLOSED", "closes_at": closes_at, "closed_at": at,
                                             "closed_by": "operator"}, "#status = :s", {":s": "SCHEDULED"})

    def bring_announcement_forward(self, batch_id: str, announce_at: str, now: str) -> bool:
        """Set ``announce_at`` (ISO UTC) on a batch that has closed by ``now`` and is not
        ANNOUNCED. False otherwise. 1 conditional UpdateItem."""
        return self._update_batch(batch_id, {"announce_at": announce_at}, "#status <> :a AND closes_at <= :n",
                                  {":a": "ANNOUNCED", ":n": now})

    def _update_batch(self, batch_id: str, values: dict, condition: str, cond_values: dict | None = None,
                      cond_names: dict | None = None) -> bool:
        """Set ``values`` on a batch's META item if ``condition`` holds (it may use ``#status``
        and the placeholders in ``cond_values``/``cond_names``). False when it does not."""
        names = {f"#k{i}": k for i, k in enumerate(values)} | (cond_names or {})
        if "#status" in condition:
            names["#status"] = "status"
        vals = {f":v{i}": v for i, v in enumerate(values.values())} | (cond_values or {})
        return applied(lambda: self.t.update_item(
            Key={"pk": f"BATCH#{batch_id}", "sk": "META"},
            UpdateExpression="SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(values))),
            ConditionExpression=f"attribute_exists(pk) AND ({condition})",
            ExpressionAttributeNames=names, ExpressionAttributeValues=vals))

    @staticmethod
    def parse_key(pk: str) -> dict[str, str]:
        """What a Batches item's partition key names, the one place that reads the key formats
        written here: ``BATCH#<id>#M#<shard>`` -> ``{"kind": "member", "batch_id"}``;
        ``BATCH#<id>#P#A#<id>`` / ``BATCH#<id>#P#N#<hmac>`` -> ``{"kind": "priority_list_entry",
        "batch_id", "entry": "applicant id" | "NIK (keyed HMAC)" | "unknown"}``."""
        parts = pk.split("#")
        if len(parts) >= 4 and parts[2] == "M":
            return {"kind": "member", "batch_id": parts[1]}
        entry = {"A": "applicant id", "N": "NIK (keyed HMAC)"}.get(parts[3] if len(parts) > 3 else "", "unknown")
        return {"kind": "priority_list_entry", "batch_id": parts[1], "entry": entry}

    # ------------------------------------------------------------------ priority list
    @staticmethod
    def applicant_entry(applicant_id: str) -> str:
        """The priority list entry of an applicant id (32 hex), as :meth:`put_priority` takes it."""
        return f"A#{applicant_id}"

    @staticmethod
    def nik_entry(nik_key: str) -> str:
        """The priority list entry of a NIK, by its keyed HMAC (``nik_key`` as biodata stores it)."""
        return f"N#{nik_key}"

    @staticmethod
    def _priority_pk(batch_id: str, key: str) -> str:
        return f"BATCH#{batch_id}#P#{key}"

    def put_priority(self, batch_id: str, keys: list[str]) -> int:
        """Write the priority list entries ``keys`` (:meth:`applicant_entry`, :meth:`nik_entry`);
        idempotent. Returns how many were written."""
        with self.t.batch_writer(overwrite_by_pkeys=["pk", "sk"]) as writer:
            for key in keys:
                writer.put_item(Item={"pk": self._priority_pk(batch_id, key), "sk": "PRIORITY"})
        return len(keys)

    def is_priority(self, batch_id: str, keys: list[str]) -> bool:
        """True when any of ``keys`` is on the batch's priority list (one BatchGetItem)."""
        if not keys:
            return False
        request = {self.name: {"Keys": [{"pk": self._priority_pk(batch_id, k), "sk": "PRIORITY"} for k in keys],
                               "ConsistentRead": True, "ProjectionExpression": "pk"}}
        while request:
            reply = self.t.meta.client.batch_get_item(RequestItems=request)
            if reply.get("Responses", {}).get(self.name):
                return True
            request = reply.get("UnprocessedKeys") or {}
        return False

    def get_batch(self, batch_id: str) -> dict | None:
        """A batch's META item, or None."""
        item = self.t.get_item(Key={"pk": f"BATCH#{batch_id}", "sk": "META"}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def list_batches(self) -> list[dict]:
        """Every batch, ordered by opening time."""
        ids = [i["batch_id"] for i in self.t.query(KeyConditionExpression=Key("pk").eq("BATCHES")).get("Items", [])]
        return [b for b in (self.get_batch(i) for i in ids) if b]

    def shard_of(self, applicant_id: str) -> int:
        """The membership shard of an applicant (stable)."""
        return zlib.crc32(applicant_id.encode()) % self.shards

    def member_put(self, batch_id: str, applicant_id: str, item: dict) -> dict:
        """Transaction item adding a member (fails if already a member)."""
        pk = f"BATCH#{batch_id}#M#{self.shard_of(applicant_id):02d}"
        return {"Put": {"TableName": self.name, "Item": {"pk": pk, "sk": applicant_id, **item},
                        "ConditionExpression": "attribute_not_exists(pk)"}}

    def members(self, batch_id: str, joined_before: str) -> list[dict]:
        """Members whose server-stamped ``joined_at`` is before ``joined_before`` (ISO UTC),
        read from all shards in parallel."""
        with ThreadPoolExecutor(max_workers=min(8, self.shards)) as pool:
            parts = pool.map(lambda s: self._shard(batch_id, s, joined_before), range(self.shards))
        return [m for part in parts for m in part]

    def _shard(self, batch_id: str, shard: int, joined_before: str) -> list[dict]:
        out: list[dict] = []
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(f"BATCH#{batch_id}#M#{shard:02d}"),
            "FilterExpression": "joined_at < :c",
            "ExpressionAttributeValues": {":c": joined_before},
            "ConsistentRead": True,
        }
        while True:
            page = self.t.query(**kwargs)
            out.extend({"applicant_id": i["sk"], **plain(i)} for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return out
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def member_columns(self, batch_id: str, joined_before: str) -> tuple[list[str], list[str | None], bytearray]:
        """The draw's input for members joined before ``joined_before``, as three parallel columns
        (applicant ids, province codes, priority flags), read from all shards in parallel and
        projected to what the draw needs: no per-member dicts are kept, so millions fit in a
        Lambda's memory."""
        with ThreadPoolExecutor(max_workers=min(8, self.shards)) as pool:
            parts = list(pool.map(lambda s: self._shard_columns(batch_id, s, joined_before), range(self.shards)))
        ids: list[str] = []
        provinces: list[str | None] = []
        flags = bytearray()
        for part_ids, part_provinces, part_flags in parts:
            ids.extend(part_ids)
            provinces.extend(part_provinces)
            flags.extend(part_flags)
        return ids, provinces, flags

    def _shard_columns(self, batch_id: str, shard: int,
                       joined_before: str) -> tuple[list[str], list[str | None], bytearray]:
        ids: list[str] = []
        provinces: list[str | None] = []
        flags = bytearray()
        shared: dict[str, str] = {}  # one string object per province code
        kwargs: dict[str, Any] = {
            "KeyConditionExpression": Key("pk").eq(f"BATCH#{batch_id}#M#{shard:02d}"),
            "FilterExpression": "joined_at < :c",
            "ProjectionExpression": "sk, province_code, priority",
            "ExpressionAttributeValues": {":c": joined_before},
            "ConsistentRead": True,
        }
        while True:
            page = self.t.query(**kwargs)
            for item in page.get("Items", []):
                ids.append(item["sk"])
                code = item.get("province_code")
                provinces.append(shared.setdefault(code, code) if code is not None else None)
                flags.append(1 if item.get("priority") else 0)
            if "LastEvaluatedKey" not in page:
                return ids, provinces, flags
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def advance(self, batch_id: str, from_status: str, values: dict) -> bool:
        """Move a batch's stored status on (``values`` must include ``status``), only from
        ``from_status``. False when another tick got there first."""
        names = {f"#k{i}": k for i, k in enumerate(values)} | {"#status": "status"}
        vals = {f":v{i}": v for i, v in enumerate(values.values())} | {":from": from_status}
        return applied(lambda: self.t.update_item(
            Key={"pk": f"BATCH#{batch_id}", "sk": "META"},
            UpdateExpression="SET " + ", ".join(f"#k{i} = :v{i}" for i in range(len(values))),
            ConditionExpression="#status = :from",
            ExpressionAttributeNames=names, ExpressionAttributeValues=vals))
