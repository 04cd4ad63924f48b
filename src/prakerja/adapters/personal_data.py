"""Finding and deleting everything stored about one applicant, across tables; the privacy audit trail.

Used by :mod:`prakerja.services.privacy` (operators' access requests and erasures, and the
citizen's own ``DELETE /v1/me``). Where each kind of item is found, without a table scan:

* Applicants table, ``APP#<id>`` partition: one Query (profile, biodata, test, uploads,
  memberships).
* Applicants table, items keyed by something else that name the applicant in ``applicant_id``
  (the EMAIL#/NIK# sentinels under every HMAC key id, ``TOKEN#<sha256>`` email tokens,
  ``REFRESH#<sha256>`` refresh tokens): the keys-only ``ApplicantIndex`` GSI on ``applicant_id``
  (one Query; eventually consistent, so a token written in the same second may be missed: it
  leads nowhere once the profile is gone and expires by TTL).
* ``FAMILY#<family>`` (a revoked session): by the ``family`` of the applicant's refresh tokens.
* Pending outbox items (``OUTBOX#<id>``, deleted right after they are sent, so normally none):
  every shard of ``OutboxIndex``, bounded by the outbox's size; the caller picks those that name
  the applicant.
* Limits table: the per-applicant counters ``COUNT#resend#<id>``, ``COUNT#reset-mail#<id>``,
  ``QUOTA#corrections#<id>``, ``QUOTA#nik_used#<id>``, ``QUOTA#ktp_presigns#<id>`` (one Query
  each). Sign-in failure counters are keyed by an HMAC of the email key and the client address
  and cannot be found without the address; they hold no personal data and expire within two windows (30 minutes).
* Batches table: ``BATCH#<batch>#M#<shard>`` / ``<id>`` (the shard is a function of the id) and
  the priority entries ``BATCH#<batch>#P#A#<id>`` and ``BATCH#<batch>#P#N#<nik_hmac>``, for
  every batch (a short list).

The audit trail: one JSON object per operator action in the Audit bucket under
``privacy/YYYY/MM/DD/<HHMMSS>Z-<action>-<random>.json`` (UTC), naming the operator, the action,
the time and the applicant id, never the email or any other personal data.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key

from prakerja.adapters.aws import client, table
from prakerja.adapters.batches import BatchStore
from prakerja.adapters.dynamo import applied, plain

APPLICANT_INDEX = "ApplicantIndex"
OUTBOX_INDEX = "OutboxIndex"
#: Limits-table counters whose subject is the applicant id (``<prefix><applicant_id>``)
LIMIT_PREFIXES = ("COUNT#resend#", "COUNT#reset-mail#", "QUOTA#corrections#", "QUOTA#nik_used#",
                  "QUOTA#ktp_presigns#")


def limit_counter(item: dict) -> str:
    """The name of the counter or quota a Limits item belongs to (its ``pk`` without the
    subject): ``COUNT#resend``, ``QUOTA#corrections``, ..."""
    return str(item["pk"]).rsplit("#", 1)[0]


def _query_all(t: Any, **kwargs: Any) -> list[dict]:
    items: list[dict] = []
    while True:
        page = t.query(**kwargs)
        items.extend(page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


class PersonalDataStore:
    """Reads and deletes one applicant's items in the Applicants, Limits and Batches tables.

    Every method returns plain dicts (no Decimals) that keep ``pk`` and ``sk``."""

    def __init__(self, applicants_table: str, limits_table: str, batches: BatchStore, outbox_shards: int = 8) -> None:
        self.applicants_table, self.limits_table = applicants_table, limits_table
        self.batches = batches
        self.outbox_shards = outbox_shards

    # ------------------------------------------------------------------ Applicants table
    def partition(self, applicant_id: str) -> list[dict]:
        """Every item of the ``APP#<id>`` partition (strongly consistent)."""
        t = table(self.applicants_table)
        return [plain(i) for i in _query_all(t, KeyConditionExpression=Key("pk").eq(f"APP#{applicant_id}"),
                                             ConsistentRead=True)]

    def linked(self, applicant_id: str) -> list[dict]:
        """Items outside the partition that carry ``applicant_id`` (sentinels, email and refresh
        tokens; the PROFILE too), read in full after the keys-only index query."""
        t = table(self.applicants_table)
        keys = [{"pk": i["pk"], "sk": i["sk"]}
                for i in _query_all(t, IndexName=APPLICANT_INDEX,
                                    KeyConditionExpression=Key("applicant_id").eq(applicant_id))
                if not str(i["pk"]).startswith("APP#")]
        return [i for i in self.get_many(self.applicants_table, keys) if i.get("applicant_id") == applicant_id]

    def families(self, families: Iterable[str]) -> list[dict]:
        """The ``FAMILY#<family>`` items (revoked sessions) of the given families."""
        keys = [{"pk": f"FAMILY#{f}", "sk": "FAMILY"} for f in dict.fromkeys(families) if f]
        return self.get_many(self.applicants_table, keys)

    def pending_outbox(self) -> list[dict]:
        """Every outbox item not yet sent, from every shard of ``OutboxIndex`` (normally none or
        a few: items are deleted as soon as they are sent)."""
        t = table(self.applicants_table)
        out: list[dict] = []
        for shard in range(self.outbox_shards):
            out.extend(plain(i) for i in _query_all(t, IndexName=OUTBOX_INDEX,
                                                    KeyConditionExpression=Key("outbox_shard").eq(str(shard))))
        return out

    # ------------------------------------------------------------------ Limits table
    def limits(self, applicant_id: str) -> list[dict]:
        """The per-applicant counters and quotas (every window still stored)."""
        if not self.limits_table:
            return []
        t = table(self.limits_table)
        return [plain(i) for prefix in LIMIT_PREFIXES
                for i in _query_all(t, KeyConditionExpression=Key("pk").eq(f"{prefix}{applicant_id}"),
                                    ConsistentRead=True)]

    # ------------------------------------------------------------------ Batches table
    def batch_items(self, applicant_id: str, nik_keys: Iterable[str]) -> list[dict]:
        """The applicant's member items and priority-list entries in every batch."""
        shard = self.batches.shard_of(applicant_id)
        keys = []
        for meta in self.batches.list_batches():
            bid = meta["batch_id"]
            keys.append({"pk": f"BATCH#{bid}#M#{shard:02d}", "sk": applicant_id})
            keys.append({"pk": f"BATCH#{bid}#P#A#{applicant_id}", "sk": "PRIORITY"})
            keys.extend({"pk": f"BATCH#{bid}#P#N#{n}", "sk": "PRIORITY"} for n in dict.fromkeys(nik_keys) if n)
        return self.get_many(self.batches.name, keys)

    # ------------------------------------------------------------------ generic
    def get_many(self, table_name: str, keys: list[dict]) -> list[dict]:
        """The items that exist among ``keys`` (strongly consistent, 100 keys per request)."""
        found: list[dict] = []
        ddb = table(table_name).meta.client
        for start in range(0, len(keys), 100):
            request: dict[str, Any] = {table_name: {"Keys": keys[start:start + 100], "ConsistentRead": True}}
            while request:
                reply = ddb.batch_get_item(RequestItems=request)
                found.extend(plain(i) for i in reply.get("Responses", {}).get(table_name, []))
                request = reply.get("UnprocessedKeys") or {}
        return found

    def delete(self, table_name: str, keys: Iterable[dict]) -> int:
        """Delete items by key (batched). Returns how many keys were sent."""
        count = 0
        with table(table_name).batch_writer(overwrite_by_pkeys=["pk", "sk"]) as writer:
            for key in keys:
                writer.delete_item(Key={"pk": key["pk"], "sk": key["sk"]})
                count += 1
        return count

    def delete_owned(self, keys: Iterable[dict], applicant_id: str) -> int:
        """Delete Applicants-table items only while they still name ``applicant_id`` (a NIK
        sentinel freed meanwhile may belong to someone else by now). Returns how many went."""
        t = table(self.applicants_table)

        def owned_delete(key: dict) -> bool:
            return applied(lambda: t.delete_item(Key={"pk": key["pk"], "sk": key["sk"]},
                                                 ConditionExpression="applicant_id = :a",
                                                 ExpressionAttributeValues={":a": applicant_id}))

        return sum(owned_delete(key) for key in keys)


class PrivacyAuditLog:
    """Writes the privacy audit trail (see the module docstring) to the Audit bucket."""

    PREFIX = "privacy/"

    def __init__(self, bucket: str) -> None:
        self.bucket = bucket

    def write(self, record: dict[str, Any], at: datetime) -> str:
        """Store one record (JSON-ready, no personal data); returns its key."""
        key = (f"{self.PREFIX}{at:%Y/%m/%d}/{at:%H%M%S}Z-{record.get('action', 'action')}-"
               f"{secrets.token_hex(6)}.json")
        client("s3").put_object(Bucket=self.bucket, Key=key, ContentType="application/json",
                                Body=json.dumps(record, sort_keys=True).encode())
        return key

    def records(self, day: datetime | None = None) -> list[dict[str, Any]]:
        """The records stored (of one UTC day when given), oldest key first."""
        prefix = self.PREFIX + (f"{day:%Y/%m/%d}/" if day else "")
        s3, out = client("s3"), []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for entry in page.get("Contents", []):
                body = s3.get_object(Bucket=self.bucket, Key=entry["Key"])["Body"].read()
                out.append({"key": entry["Key"], **json.loads(body)})
        return sorted(out, key=lambda r: r["key"])


def caller_identity() -> str | None:
    """The AWS principal making the calls (STS ``GetCallerIdentity`` ARN), or None if unknown."""
    try:
        return str(client("sts").get_caller_identity()["Arn"])
    except Exception:  # no credentials, no network: the caller falls back to the local user
        return None
