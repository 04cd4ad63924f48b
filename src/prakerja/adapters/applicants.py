"""Data access for applicants (the only code that touches the Applicants table's items).

Item shapes (``pk`` / ``sk``):

* ``APP#<id>`` / ``PROFILE``: email in its normalised form (``prakerja.domain.accounts.normalise_email``;
  profiles written before issue 16 hold it as typed), ``email_key`` (HMAC) and its key id ``email_kid``,
  ``email_generation`` (one up per change of address), password hash,
  ``session_generation`` (refresh and access tokens of older generations are dead; one up per
  sign-out, password reset or change), ``password_generation`` (one up per password reset or
  change; reset links of older generations are dead), consent
  (``consent_version``, ``consent_at``, ``consent_withdrawn_at``), ``steps`` map
  (``{step: {status, reason, updated_at}}``), ``active_batch`` and ``active_batch_closes_at`` (one
  open batch at a time), ``selected_batch``.
* ``EMAIL#<hmac>`` / ``SENTINEL``: uniqueness guard written in the same transaction as the
  profile (``applicant_id``, ``kid``).
* ``NIK#<hmac>`` / ``SENTINEL``: the account whose data the ministry VERIFIED for this NIK
  (``applicant_id``, ``kid``, ``verified_at``), written by the NIK worker in the same
  transaction as the VERIFIED check on BIODATA (issue 16): a pending or rejected submission
  holds no sentinel. A sentinel without ``verified_at`` is a claim written at submission before
  that change; it counts only while its applicant's nik step is VERIFIED.
* ``TOKEN#<sha256>`` / ``TOKEN``: single-use email tokens (verification, reset, change).
* ``REFRESH#<sha256>`` / ``TOKEN`` and ``FAMILY#<id>`` / ``FAMILY``: rotating refresh tokens.
* ``APP#<id>`` / ``KTP#<upload_id>``: one issued upload and its outcome.
* ``APP#<id>`` / ``BIODATA``: the latest biodata version and its NIK check outcome.
* ``APP#<id>`` / ``ASSESSMENT``: the test attempt.
* ``APP#<id>`` / ``MEMBER#<batch_id>``: a batch membership and, after the draw, its result.

All times are ISO 8601 UTC strings (``clock.iso``); ``ttl`` attributes are epoch seconds.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from prakerja.adapters.aws import table
from prakerja.adapters.dynamo import applied, conditional, plain


def app_pk(applicant_id: str) -> str:
    """Partition key of an applicant's items."""
    return f"APP#{applicant_id}"


def sentinel_pk(kind: str, key: str) -> str:
    """Partition key of a uniqueness sentinel: ``kind`` EMAIL or NIK, ``key`` the keyed HMAC."""
    return f"{kind}#{key}"


def _sentinel(kind: str, key: str) -> dict[str, str]:
    return {"pk": sentinel_pk(kind, key), "sk": "SENTINEL"}


#: partition-key prefix of the items linked to an applicant from outside its partition -> kind
_LINKED = {"EMAIL#": "email_sentinel", "NIK#": "nik_sentinel", "TOKEN#": "email_token",
           "REFRESH#": "refresh_token", "FAMILY#": "revoked_family"}
#: sort key (or its prefix, ending in #) inside ``APP#<id>`` -> kind
_PARTITION = {"PROFILE": "profile", "BIODATA": "biodata", "ASSESSMENT": "assessment", "KTP#": "ktp_upload",
              "MEMBER#": "membership"}


def kind_of(item: Mapping[str, Any]) -> str:
    """What an Applicants-table item is, read from its ``pk``/``sk`` (the one reader of the key
    formats above, for the privacy export and erasure and the re-key): ``profile``, ``biodata``,
    ``assessment``, ``ktp_upload``, ``membership``, ``applicant_item`` (another item of the
    applicant's partition), ``email_sentinel``, ``nik_sentinel``, ``email_token``,
    ``refresh_token``, ``revoked_family``, or ``other``."""
    pk, sk = str(item.get("pk", "")), str(item.get("sk", ""))
    if pk.startswith("APP#"):
        for key, kind in _PARTITION.items():
            if sk == key or (key.endswith("#") and sk.startswith(key)):
                return kind
        return "applicant_item"
    for prefix, kind in _LINKED.items():
        if pk.startswith(prefix):
            return kind
    return "other"


def sentinel_kind(item: Mapping[str, Any]) -> str | None:
    """``EMAIL`` or ``NIK`` for a uniqueness sentinel (the ``kind`` that :func:`sentinel_pk` and
    the sentinel methods take), None for any other item."""
    return {"email_sentinel": "EMAIL", "nik_sentinel": "NIK"}.get(kind_of(item))


def linked_key(item: Mapping[str, Any]) -> str:
    """The part of a linked item's ``pk`` after its kind (the HMAC of a sentinel, the hash of a
    token, the id of a refresh-token family); of an applicant's item, the applicant id."""
    return str(item.get("pk", "")).split("#", 1)[-1]


class ApplicantStore:
    """Repository over the Applicants table. Methods return plain dicts (no Decimals)."""

    def __init__(self, table_name: str) -> None:
        self.name = table_name

    @property
    def t(self) -> Any:
        return table(self.name)

    # ------------------------------------------------------------------ accounts
    def create_account(self, profile: dict, email_key: str, kid: str, extra: Iterable[dict] = ()) -> bool:
        """Create the profile and its email sentinel atomically, plus ``extra`` transaction items.

        Returns False (writing nothing) when the email is already taken."""
        aid = profile["applicant_id"]
        items = [
            {"Put": {"TableName": self.name, "Item": {"pk": app_pk(aid), "sk": "PROFILE", **profile},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": self.name,
                     "Item": {**_sentinel("EMAIL", email_key), "applicant_id": aid, "kid": kid},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            *extra,
        ]
        return applied(lambda: self.t.meta.client.transact_write_items(TransactItems=items))

    def applicant_for_email(self, email_key: str) -> str | None:
        """The applicant id registered under the HMAC ``email_key``, or None."""
        item = self.t.get_item(Key=_sentinel("EMAIL", email_key), ConsistentRead=True).get("Item")
        return item["applicant_id"] if item else None

    def find_email(self, email_keys: Iterable[str]) -> tuple[str, str] | None:
        """``(applicant_id, email_key)`` of the first of ``email_keys`` (HMACs of one address under
        the current, then the previous key ids) that has a sentinel, or None."""
        for email_key in email_keys:
            if aid := self.applicant_for_email(email_key):
                return aid, email_key
        return None

    def sentinel_free(self, kind: str, key: str, applicant_id: str | None = None) -> dict:
        """Transaction item (``ConditionCheck``) requiring that no ``kind`` (``EMAIL`` or ``NIK``)
        sentinel ``key`` exists, or that it belongs to ``applicant_id``: how a write under the
        current key id also guards the uniqueness held by a previous key id's sentinel."""
        check: dict[str, Any] = {"TableName": self.name, "Key": _sentinel(kind, key),
                                 "ConditionExpression": "attribute_not_exists(pk)"}
        if applicant_id:
            check["ConditionExpression"] += " OR applicant_id = :a"
            check["ExpressionAttributeValues"] = {":a": applicant_id}
        return {"ConditionCheck": check}

    def get_profile(self, applicant_id: str) -> dict | None:
        """The PROFILE item, or None."""
        item = self.t.get_item(Key={"pk": app_pk(applicant_id), "sk": "PROFILE"}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def update_profile(self, applicant_id: str, values: dict) -> None:
        """Set attributes (dotted paths allowed) on an existing profile."""
        self.transact([self.update_item(applicant_id, "PROFILE", values, "attribute_exists(pk)")])

    def step_update(self, applicant_id: str, step: str, status: str, reason: str | None, at: str,
                    from_statuses: Iterable[str]) -> dict:
        """The transaction item (``Update``) moving ``step`` to ``status`` if it is in ``from_statuses``."""
        condition, values = _status_in("steps.#s.#st", from_statuses)
        values[":new"] = {"status": status, "reason": reason, "updated_at": at}
        return {"Update": {
            "TableName": self.name, "Key": {"pk": app_pk(applicant_id), "sk": "PROFILE"},
            "UpdateExpression": "SET steps.#s = :new",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#s": step, "#st": "status"},
            "ExpressionAttributeValues": values,
        }}

    def set_step(self, applicant_id: str, step: str, status: str, reason: str | None, at: str,
                 from_statuses: Iterable[str], extra: Iterable[dict] = ()) -> bool:
        """Move one step (conditional on its current status); False when the condition fails."""
        return self.transact([self.step_update(applicant_id, step, status, reason, at, from_statuses), *extra])

    def mark_email_undeliverable(self, applicant_id: str, email_key: str, reason: str, at: str,
                                 from_statuses: Iterable[str]) -> bool:
        """Move the email step to UNDELIVERABLE (``reason``: BOUNCED, COMPLAINED) if it is in
        ``from_statuses`` and the profile still has the address ``email_key``; False otherwise."""
        item = self.step_update(applicant_id, "email", "UNDELIVERABLE", reason, at, from_statuses)
        update = item["Update"]
        update["ConditionExpression"] += " AND email_key = :bounced_key"
        update["ExpressionAttributeValues"][":bounced_key"] = email_key
        return self.transact([item])

    def transact(self, items: list[dict]) -> bool:
        """Run a transaction (or a single update); False when any condition fails."""
        if len(items) == 1 and "Update" in items[0]:
            update = dict(items[0]["Update"])
            update.pop("TableName")
            return applied(lambda: self.t.update_item(**update))
        return applied(lambda: self.t.meta.client.transact_write_items(TransactItems=items))

    def next_counter(self, applicant_id: str, name: str) -> int:
        """Atomically add one to a counter on the profile and return the new value (1 first)."""
        response = self.t.update_item(Key={"pk": app_pk(applicant_id), "sk": "PROFILE"},
                                      UpdateExpression="ADD #n :one", ConditionExpression="attribute_exists(pk)",
                                      ExpressionAttributeNames={"#n": name}, ExpressionAttributeValues={":one": 1},
                                      ReturnValues="UPDATED_NEW")
        return int(response["Attributes"][name])

    def delete_account(self, applicant_id: str, email_key: str, nik_key: str | None = None) -> bool:
        """Delete every item of the applicant, then (atomically) the profile and its email and NIK
        sentinels, which frees the address and the NIK. Retrying after a crash finishes the job
        (the profile goes last). Returns False when the profile was already gone."""
        rest = [(i["pk"], i["sk"]) for i in self._items(applicant_id) if i["sk"] != "PROFILE"]
        with self.t.batch_writer() as batch:
            for pk, sk in rest:
                batch.delete_item(Key={"pk": pk, "sk": sk})
        owned = {"ConditionExpression": "attribute_not_exists(pk) OR applicant_id = :a",
                 "ExpressionAttributeValues": {":a": applicant_id}}
        items = [
            {"Delete": {"TableName": self.name, "Key": {"pk": app_pk(applicant_id), "sk": "PROFILE"},
                        "ConditionExpression": "attribute_exists(pk)"}},
            {"Delete": {"TableName": self.name, "Key": _sentinel("EMAIL", email_key), **owned}},
        ]
        # the NIK sentinel only if it is ours: a pending or rejected submission holds none, and the
        # NIK may be verified for someone else. Read after BIODATA is gone, so the NIK worker (whose
        # claim is conditional on BIODATA) cannot write one for this applicant any more. One read.
        if nik_key and self.nik_owner(nik_key) == applicant_id:
            items.append({"Delete": {"TableName": self.name, "Key": _sentinel("NIK", nik_key),
                                     **owned}})
        return self.transact(items)

    def password_set(self, applicant_id: str, password_hash: str, at: str, expect_hash: str | None = None) -> dict:
        """Transaction item storing a new password hash and ending every session (``session_generation``
        goes up by one; refresh and access tokens of older generations stop working) and every
        reset link issued before (``password_generation`` goes up by one). With ``expect_hash`` the
        write happens only if the stored hash is still that one (no lost concurrent change)."""
        condition, values = "attribute_exists(pk)", {":h": password_hash, ":at": at, ":one": 1}
        if expect_hash is not None:
            condition += " AND password_hash = :old"
            values[":old"] = expect_hash
        return {"Update": {
            "TableName": self.name, "Key": {"pk": app_pk(applicant_id), "sk": "PROFILE"},
            "UpdateExpression": ("SET password_hash = :h, password_changed_at = :at "
                                 "ADD session_generation :one, password_generation :one"),
            "ConditionExpression": condition, "ExpressionAttributeValues": values,
        }}

    def end_sessions(self, applicant_id: str) -> None:
        """Raise the profile's ``session_generation`` by one (every refresh and access token issued
        before stops working); nothing happens when the profile is gone."""
        applied(lambda: self.t.update_item(Key={"pk": app_pk(applicant_id), "sk": "PROFILE"},
                                           UpdateExpression="ADD session_generation :one",
                                           ConditionExpression="attribute_exists(pk)",
                                           ExpressionAttributeValues={":one": 1}))

    def email_swap(self, applicant_id: str, old_key: str, new_key: str, new_kid: str, typed: str,
                   at: str) -> list[dict]:
        """Transaction items moving the account to a new address (``typed``: its normalised form;
        HMAC ``new_key``): the profile (only if its address is still ``old_key``; the email step
        becomes VERIFIED, since the new address was proven by its link; ``email_generation`` goes
        up by one, which outdates links issued for the old address), the new sentinel (only if the
        address is free) and the removal of the old one. Order: profile, new sentinel, old sentinel."""
        return [
            {"Update": {
                "TableName": self.name, "Key": {"pk": app_pk(applicant_id), "sk": "PROFILE"},
                "UpdateExpression": "SET #e = :e, #k = :k, #kid = :kid, steps.#e = :step ADD email_generation :one",
                "ConditionExpression": "#k = :old",
                "ExpressionAttributeNames": {"#e": "email", "#k": "email_key", "#kid": "email_kid"},
                "ExpressionAttributeValues": {":e": typed, ":k": new_key, ":kid": new_kid, ":old": old_key, ":one": 1,
                                              ":step": {"status": "VERIFIED", "reason": None, "updated_at": at}},
            }},
            {"Put": {"TableName": self.name,
                     "Item": {**_sentinel("EMAIL", new_key), "applicant_id": applicant_id, "kid": new_kid},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Delete": {"TableName": self.name, "Key": _sentinel("EMAIL", old_key),
                        "ConditionExpression": "applicant_id = :a",
                        "ExpressionAttributeValues": {":a": applicant_id}}},
        ]

    def _items(self, applicant_id: str) -> list[dict]:
        items: list[dict] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("pk").eq(app_pk(applicant_id))}
        while True:
            page = self.t.query(**kwargs)
            items.extend(page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ------------------------------------------------------------------ single-use tokens
    def token_put(self, token_hash: str, item: dict) -> dict:
        """Transaction item storing an email token (``item``: purpose, applicant_id, expires_at, ttl)."""
        return {"Put": {"TableName": self.name, "Item": {"pk": f"TOKEN#{token_hash}", "sk": "TOKEN", **item},
                        "ConditionExpression": "attribute_not_exists(pk)"}}

    def get_token(self, token_hash: str) -> dict | None:
        """A stored email token, or None."""
        item = self.t.get_item(Key={"pk": f"TOKEN#{token_hash}", "sk": "TOKEN"}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def token_spend(self, token_hash: str, at: str) -> dict:
        """Transaction item marking a token used, only if unused."""
        return {"Update": {
            "TableName": self.name, "Key": {"pk": f"TOKEN#{token_hash}", "sk": "TOKEN"},
            "UpdateExpression": "SET used_at = :at",
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(used_at)",
            "ExpressionAttributeValues": {":at": at},
        }}

    # ------------------------------------------------------------------ refresh tokens
    def put_refresh(self, token_hash: str, item: dict) -> None:
        """Store a refresh token (``item``: applicant_id, family, expires_at, ttl)."""
        self.t.put_item(Item={"pk": f"REFRESH#{token_hash}", "sk": "TOKEN", **item})

    def get_refresh(self, token_hash: str) -> dict | None:
        """A stored refresh token, or None."""
        item = self.t.get_item(Key={"pk": f"REFRESH#{token_hash}", "sk": "TOKEN"}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def rotate_refresh(self, old_hash: str, new_hash: str, new_item: dict, at: str) -> bool:
        """Mark the old token rotated and store the new one, atomically; False if already rotated."""
        return self.transact([
            {"Update": {"TableName": self.name, "Key": {"pk": f"REFRESH#{old_hash}", "sk": "TOKEN"},
                        "UpdateExpression": "SET rotated_at = :at",
                        "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(rotated_at)",
                        "ExpressionAttributeValues": {":at": at}}},
            {"Put": {"TableName": self.name, "Item": {"pk": f"REFRESH#{new_hash}", "sk": "TOKEN", **new_item}}},
        ])

    def revoke_family(self, family: str, at: str, ttl: int) -> None:
        """Revoke every refresh token of a family (sign-out, or reuse detected)."""
        self.t.put_item(Item={"pk": f"FAMILY#{family}", "sk": "FAMILY", "revoked_at": at, "ttl": ttl})

    def family_revoked(self, family: str) -> bool:
        """Whether a refresh-token family was revoked."""
        return "Item" in self.t.get_item(Key={"pk": f"FAMILY#{family}", "sk": "FAMILY"}, ConsistentRead=True)

    # ------------------------------------------------------------------ KTP uploads
    def put_upload(self, applicant_id: str, upload_id: str, item: dict) -> None:
        """Record an issued upload (``item``: content_type, issued_at, key, ttl)."""
        self.t.put_item(Item={"pk": app_pk(applicant_id), "sk": f"KTP#{upload_id}", "upload_id": upload_id, **item})

    # The KTP verdict recorder's reads and writes (issue 16 item 11): its IAM grant (template.yaml,
    # KtpVerdictFunction; the photo parser has none) allows GetItem only with a projection of
    # ``pk``, ``sk``, ``sequence``, ``processed_version`` and UpdateItem only of ``steps``,
    # ``ktp_sequence``, ``ktp_key``, the upload's outcome attributes and the funnel marker, on
    # ``APP#`` partitions (and the ``ktp_valid`` funnel counters), returning nothing. Each method names what it touches.
    def has_profile(self, applicant_id: str) -> bool:
        """Whether the applicant's PROFILE exists (strongly consistent). Reads the key only
        (``pk``, ``sk``): no personal attribute leaves the table."""
        response = self.t.get_item(Key={"pk": app_pk(applicant_id), "sk": "PROFILE"}, ConsistentRead=True,
                                   ProjectionExpression="#pk, #sk", ExpressionAttributeNames={"#pk": "pk", "#sk": "sk"})
        return "Item" in response

    def upload_progress(self, applicant_id: str, upload_id: str) -> dict | None:
        """An issued upload as ``{"upload_id", "sequence" (int, per applicant, from 1),
        "processed_version" (str, or None before the first outcome)}``, or None when no such
        upload was issued. Reads ``pk``, ``sk``, ``sequence`` and ``processed_version`` only."""
        item = self.t.get_item(Key={"pk": app_pk(applicant_id), "sk": f"KTP#{upload_id}"}, ConsistentRead=True,
                               ProjectionExpression="#sk, #seq, #pv",
                               ExpressionAttributeNames={"#sk": "sk", "#seq": "sequence",
                                                         "#pv": "processed_version"}).get("Item")
        if not item:
            return None
        return {"upload_id": upload_id, "sequence": int(item["sequence"]),
                "processed_version": item.get("processed_version")}

    def record_upload_outcome(self, applicant_id: str, upload_id: str, status: str, reason: str | None,
                              version: str, at: str) -> bool:
        """Store an upload's outcome (``status`` VALID or REJECTED, ``reason`` code or None, the S3
        ``version`` checked, ``at`` ISO UTC) as ``status``, ``reason``, ``processed_version`` and
        ``processed_at``; only if the upload item exists. False when it does not."""
        return self._conditional_update(
            {"pk": app_pk(applicant_id), "sk": f"KTP#{upload_id}"},
            "SET #st = :st, #r = :r, #pv = :pv, #pa = :pa", "attribute_exists(#pk)",
            {"#pk": "pk", "#st": "status", "#r": "reason", "#pv": "processed_version", "#pa": "processed_at"},
            {":st": status, ":r": reason, ":pv": version, ":pa": at})

    # (``steps.ktp`` is written as a literal path: a ``#placeholder`` for ``ktp`` would name it
    # among the request's attributes if IAM counts every expression attribute name)
    def ktp_valid(self, applicant_id: str, step: dict, sequence: int, output_key: str) -> bool:
        """Make a VALID upload the applicant's KTP: ``steps.ktp = step``, ``ktp_sequence`` and
        ``ktp_key`` (the normalised photo's S3 key), only if the profile exists and holds no
        later-issued upload (``ktp_sequence`` absent or at most ``sequence``). False otherwise."""
        return self._conditional_update(
            {"pk": app_pk(applicant_id), "sk": "PROFILE"}, "SET steps.ktp = :step, #seq = :seq, #key = :key",
            "attribute_exists(#pk) AND (attribute_not_exists(#seq) OR #seq <= :seq)",
            {"#pk": "pk", "#seq": "ktp_sequence", "#key": "ktp_key"},
            {":step": step, ":seq": sequence, ":key": output_key})

    def ktp_refused(self, applicant_id: str, step: dict, sequence: int) -> bool:
        """Record a refused upload (issued ``sequence``) as ``steps.ktp = step``, only if the
        profile exists, its KTP is not VALID (a refused photo never replaces a valid KTP) and the
        step does not show a later-issued upload (``steps.ktp.upload_seq`` absent or at most
        ``sequence``). False otherwise."""
        return self._conditional_update(
            {"pk": app_pk(applicant_id), "sk": "PROFILE"}, "SET steps.ktp = :step",
            "attribute_exists(#pk) AND NOT steps.ktp.#st = :valid"
            " AND (attribute_not_exists(steps.ktp.upload_seq) OR steps.ktp.upload_seq <= :seq)",
            {"#pk": "pk", "#st": "status"}, {":step": step, ":valid": "VALID", ":seq": sequence})

    def ktp_processing(self, applicant_id: str, step: dict, sequence: int, from_statuses: frozenset[str]) -> bool:
        """Show the upload issued ``sequence`` as being checked (``steps.ktp = step``, a PROCESSING
        step), only if the profile exists, the step's status is one of ``from_statuses`` (the
        state machine's: never over a VALID KTP) and the step shows no outcome or notice of this
        upload or a later-issued one (``steps.ktp.upload_seq`` absent or below ``sequence``). So
        a notice that arrives after its upload's verdict, or one of an older upload, writes
        nothing. False otherwise. One conditional UpdateItem (about 1 WCU, whatever the outcome)."""
        status_condition, values = _status_in("steps.ktp.#st", from_statuses)
        return self._conditional_update(
            {"pk": app_pk(applicant_id), "sk": "PROFILE"}, "SET steps.ktp = :step",
            f"attribute_exists(#pk) AND {status_condition}"
            " AND (attribute_not_exists(steps.ktp.upload_seq) OR steps.ktp.upload_seq < :seq)",
            {"#pk": "pk", "#st": "status"}, {":step": step, ":seq": sequence, **values})

    # ------------------------------------------------------------------ biodata and the test
    def biodata(self, applicant_id: str) -> dict | None:
        """The applicant's BIODATA item (the latest submitted version; strongly consistent), or None."""
        return self.get_item(applicant_id, "BIODATA")

    def biodata_of(self, applicant_ids: Iterable[str]) -> dict[str, dict]:
        """``{applicant_id: BIODATA item}`` for those that have one (BatchGetItem, strongly consistent)."""
        return self.get_items(applicant_ids, "BIODATA")

    def biodata_put(self, applicant_id: str, item: dict) -> dict:
        """Transaction item storing biodata version ``item["version"]`` (with its sealed NIK/KK,
        ``nik_key`` and ``check: None``). Its condition: this is the first version, or the stored
        one is the previous version and the ministry has not VERIFIED it (a verified version is
        never superseded: its NIK sentinel was written with it, issue 16). A lost condition
        means another submission got there first (the caller answers 409)."""
        version = int(item["version"])
        return self.put_item(applicant_id, "BIODATA", item,
                             condition="attribute_not_exists(version) OR (version = :prev AND "
                                       "(attribute_not_exists(#c) OR #c = :null OR #c.#r <> :verified))",
                             values={":prev": version - 1, ":null": None, ":verified": "VERIFIED"},
                             names={"#c": "check", "#r": "result"})

    def assessment(self, applicant_id: str) -> dict | None:
        """The applicant's ASSESSMENT item (the running or finished test), or None."""
        return self.get_item(applicant_id, "ASSESSMENT")

    # ------------------------------------------------------------------ generic sub-items
    # (for the stores of this package that compose the applicant's items: adapters/membership.py)
    def get_item(self, applicant_id: str, sk: str) -> dict | None:
        """Any of the applicant's items by sort key (BIODATA, ASSESSMENT, MEMBER#...)."""
        item = self.t.get_item(Key={"pk": app_pk(applicant_id), "sk": sk}, ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def put_item(self, applicant_id: str, sk: str, item: dict, condition: str | None = None,
                 values: dict | None = None, names: dict | None = None) -> dict:
        """Transaction item putting one of the applicant's items (``condition`` with its
        placeholders ``values`` and ``names``)."""
        put: dict[str, Any] = {"TableName": self.name, "Item": {"pk": app_pk(applicant_id), "sk": sk, **item}}
        if condition:
            put["ConditionExpression"] = condition
        if values:
            put["ExpressionAttributeValues"] = values
        if names:
            put["ExpressionAttributeNames"] = names
        return {"Put": put}

    def update_item(self, applicant_id: str, sk: str, values: dict, condition: str | None = None,
                    cond_values: dict | None = None, cond_names: dict | None = None) -> dict:
        """Transaction item setting attributes of one of the applicant's items.

        Keys of ``values`` may be dotted paths into maps (``"steps.ktp"``)."""
        return {"Update": _update(self.name, {"pk": app_pk(applicant_id), "sk": sk}, values, condition,
                                  cond_values, cond_names)}

    def remove_attribute(self, applicant_id: str, sk: str, name: str) -> None:
        """Remove one top-level attribute of one of the applicant's items (one UpdateItem; a
        missing item, which it never creates, or attribute is no error)."""
        self._conditional_update({"pk": app_pk(applicant_id), "sk": sk}, "REMOVE #a", "attribute_exists(#pk)",
                                 {"#pk": "pk", "#a": name}, {})

    def memberships(self, applicant_id: str) -> list[dict]:
        """The applicant's batch memberships (MEMBER#... items), oldest first by join time."""
        condition = Key("pk").eq(app_pk(applicant_id)) & Key("sk").begins_with("MEMBER#")
        page = self.t.query(KeyConditionExpression=condition,
                            ConsistentRead=True)
        return sorted((plain(i) for i in page.get("Items", [])), key=lambda i: i.get("joined_at", ""))

    # ------------------------------------------------------------------ NIK sentinels (issue 16)
    # Written only by the NIK worker on a VERIFIED answer, together with the check on BIODATA.
    # ``displace``: the applicant of a submission-time claim (no ``verified_at``; its nik step not
    # VERIFIED) that this write replaces; the condition then requires it to be unchanged.
    @staticmethod
    def _nik_condition(applicant_id: str, displace: str | None) -> dict:
        if displace:
            return {"ConditionExpression": "applicant_id = :o AND attribute_not_exists(verified_at)",
                    "ExpressionAttributeValues": {":o": displace}}
        return {"ConditionExpression": "attribute_not_exists(pk) OR applicant_id = :a",
                "ExpressionAttributeValues": {":a": applicant_id}}

    def nik_sentinel_claim(self, nik_key: str, applicant_id: str, kid: str, at: str,
                           displace: str | None = None) -> dict:
        """Transaction item (``Put``) making ``applicant_id`` the verified holder of the NIK with
        HMAC ``nik_key`` (under ``kid``) at ``at``: only if the sentinel is absent or already
        ours (or, with ``displace``, still that applicant's unverified claim)."""
        return {"Put": {"TableName": self.name,
                        "Item": {**_sentinel("NIK", nik_key), "applicant_id": applicant_id, "kid": kid,
                                 "verified_at": at},
                        **self._nik_condition(applicant_id, displace)}}

    def nik_sentinel_clear(self, nik_key: str, applicant_id: str, displace: str | None = None) -> dict:
        """Transaction item (``Delete``) for the same NIK's sentinel under another HMAC key id:
        it must be absent or ours (or ``displace``'s unverified claim), and goes."""
        return {"Delete": {"TableName": self.name, "Key": _sentinel("NIK", nik_key),
                           **self._nik_condition(applicant_id, displace)}}

    def nik_not_verified(self, applicant_id: str) -> dict:
        """Transaction item (``ConditionCheck``): the applicant's nik step is not VERIFIED (or the
        profile is gone)."""
        return {"ConditionCheck": {
            "TableName": self.name, "Key": {"pk": app_pk(applicant_id), "sk": "PROFILE"},
            "ConditionExpression": "attribute_not_exists(pk) OR attribute_not_exists(steps.#s.#st) "
                                   "OR steps.#s.#st <> :verified",
            "ExpressionAttributeNames": {"#s": "nik", "#st": "status"},
            "ExpressionAttributeValues": {":verified": "VERIFIED"}}}

    def nik_verified_check(self, applicant_id: str, version: int, check: dict, nik_key: str, kid: str) -> dict:
        """Transaction item (``Update``) storing a VERIFIED check on BIODATA ``version`` (unless
        one is there already) with its NIK lookup under ``nik_key``/``kid`` (the sentinel's)."""
        return {"Update": {
            "TableName": self.name, "Key": {"pk": app_pk(applicant_id), "sk": "BIODATA"},
            "UpdateExpression": "SET #c = :check, nik_key = :k, nik_kid = :kid",
            "ConditionExpression": "version = :v AND (attribute_not_exists(#c) OR #c = :null)",
            "ExpressionAttributeNames": {"#c": "check"},
            "ExpressionAttributeValues": {":check": check, ":v": version, ":null": None, ":k": nik_key,
                                          ":kid": kid}}}

    def nik_sentinel_release(self, nik_key: str, applicant_id: str) -> dict:
        """Transaction item (``Delete``) removing the applicant's own sentinel (a new submission:
        a pending claim holds none); only while it is still theirs."""
        return {"Delete": {"TableName": self.name, "Key": _sentinel("NIK", nik_key),
                           "ConditionExpression": "applicant_id = :a",
                           "ExpressionAttributeValues": {":a": applicant_id}}}

    def nik_owner(self, nik_key: str) -> str | None:
        """The applicant holding a NIK (by HMAC), or None."""
        item = self.t.get_item(Key=_sentinel("NIK", nik_key), ConsistentRead=True).get("Item")
        return item["applicant_id"] if item else None

    def find_nik(self, nik_keys: Iterable[str]) -> tuple[str, str] | None:
        """``(applicant_id, nik_key)`` of the first of ``nik_keys`` (HMACs of one NIK under the
        current, then the previous key ids) that has a sentinel, or None."""
        for nik_key in nik_keys:
            if aid := self.nik_owner(nik_key):
                return aid, nik_key
        return None

    # ------------------------------------------------------------------ key rotation (re-key)
    def items_under_kids(self, kids: Iterable[str]) -> Iterator[dict]:
        """Every item keyed under one of the HMAC key ids ``kids``: EMAIL/NIK sentinels (``kid``),
        profiles (``email_kid``) and biodata (``nik_kid``). A paged, strongly consistent Scan:
        for the background re-key and ``keys status``, never for a request."""
        kids = list(kids)
        if not kids:
            return
        condition = Attr("kid").is_in(kids) | Attr("email_kid").is_in(kids) | Attr("nik_kid").is_in(kids)
        kwargs: dict[str, Any] = {"FilterExpression": condition, "ConsistentRead": True}
        while True:
            page = self.t.scan(**kwargs)
            yield from (plain(i) for i in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def get_sentinel(self, kind: str, key: str) -> dict | None:
        """An ``EMAIL`` or ``NIK`` sentinel (``applicant_id``, ``kid``), or None."""
        item = self.t.get_item(Key=_sentinel(kind, key), ConsistentRead=True).get("Item")
        return plain(item) if item else None

    def rekey_email(self, applicant_id: str, old_key: str, new_key: str, kid: str) -> list[dict]:
        """Transaction items moving the applicant's email lookup from HMAC ``old_key`` to
        ``new_key`` under key id ``kid``: PROFILE's ``email_key``/``email_kid`` (only while it
        still holds ``old_key``) and the EMAIL sentinel (free or already ours)."""
        return self._rekey_items("EMAIL", applicant_id, "PROFILE", old_key, new_key, kid)

    def rekey_nik(self, applicant_id: str, version: int, old_key: str, new_key: str, kid: str,
                  sentinel: dict | None, move_sentinel: bool) -> list[dict]:
        """Transaction items moving the NIK lookup of biodata ``version`` from ``old_key`` to
        ``new_key`` under ``kid`` (only while BIODATA is still that version with that key) and,
        with ``move_sentinel`` (the NIK sentinel is the applicant's: ``sentinel``, the old item,
        whose attributes such as ``verified_at`` are kept), the sentinel with it."""
        return self._rekey_items("NIK", applicant_id, "BIODATA", old_key, new_key, kid, "version = :v",
                                 {":v": version}, sentinel=sentinel, move_sentinel=move_sentinel)

    def _rekey_items(self, kind: str, applicant_id: str, sk: str, old_key: str, new_key: str, kid: str,
                    condition: str = "", values: dict | None = None, sentinel: dict | None = None,
                    move_sentinel: bool = True) -> list[dict]:
        """Transaction items moving one lookup of the applicant to the HMAC ``new_key`` under key
        id ``kid``: the holder item ``sk`` (PROFILE: ``email_key``/``email_kid``; BIODATA:
        ``nik_key``/``nik_kid``; only while it still holds ``old_key``, and ``condition``), the new
        ``kind`` sentinel (free or already ours; with the attributes of ``sentinel``, the old one,
        such as ``verified_at``) and the removal of the old one (if ours). ``move_sentinel=False``:
        the holder item only (a NIK whose check is not VERIFIED holds no sentinel)."""
        attr = "email" if kind == "EMAIL" else "nik"
        cond = "#k = :old" + (f" AND ({condition})" if condition else "")
        ours = {"ConditionExpression": "attribute_not_exists(pk) OR applicant_id = :a",
                "ExpressionAttributeValues": {":a": applicant_id}}
        holder = {"Update": {"TableName": self.name, "Key": {"pk": app_pk(applicant_id), "sk": sk},
                             "UpdateExpression": "SET #k = :new, #kid = :kid", "ConditionExpression": cond,
                             "ExpressionAttributeNames": {"#k": f"{attr}_key", "#kid": f"{attr}_kid"},
                             "ExpressionAttributeValues": {":new": new_key, ":kid": kid, ":old": old_key,
                                                           **(values or {})}}}
        if not move_sentinel:
            return [holder]
        kept = {k: v for k, v in (sentinel or {}).items() if k not in ("pk", "sk", "applicant_id", "kid")}
        return [
            holder,
            {"Put": {"TableName": self.name,
                     "Item": {**kept, "pk": sentinel_pk(kind, new_key), "sk": "SENTINEL", "applicant_id": applicant_id,
                              "kid": kid},
                     **ours}},
            {"Delete": {"TableName": self.name, "Key": _sentinel(kind, old_key), **ours}},
        ]

    def delete_stale_sentinel(self, kind: str, key: str, applicant_id: str, kid: str) -> bool:
        """Delete a sentinel left under a previous key id (its applicant is gone or no longer
        holds it), only if it still belongs to ``applicant_id`` under ``kid``."""
        return applied(lambda: self.t.delete_item(Key=_sentinel(kind, key),
                                                  ConditionExpression="applicant_id = :a AND kid = :kid",
                                                  ExpressionAttributeValues={":a": applicant_id, ":kid": kid}))

    # ------------------------------------------------------------------ NIK check (issue 5)
    # The PROFILE's ``nik_version`` names the biodata version the nik step is about; the worker's
    # writes are single-item conditional updates (no transactions), each safe to repeat.
    def nik_pending_update(self, applicant_id: str, version: int, at: str, from_statuses: Iterable[str]) -> dict:
        """Transaction item: the nik step becomes PENDING for biodata ``version`` (if its status
        is in ``from_statuses``)."""
        item = self.step_update(applicant_id, "nik", "PENDING", None, at, from_statuses)
        update = item["Update"]
        update["UpdateExpression"] += ", nik_version = :nv"
        update["ExpressionAttributeValues"][":nv"] = version
        return item

    def get_items(self, applicant_ids: Iterable[str], sk: str) -> dict[str, dict]:
        """One kind of item (``sk``) of several applicants, strongly consistent, in one round trip
        per 100 keys: applicant id -> item (missing ones left out)."""
        ids = list(dict.fromkeys(applicant_ids))
        found: dict[str, dict] = {}
        for start in range(0, len(ids), 100):
            keys = [{"pk": app_pk(aid), "sk": sk} for aid in ids[start:start + 100]]
            request: dict[str, Any] = {self.name: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self.t.meta.client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self.name, []):
                    found[item["pk"].removeprefix("APP#")] = plain(item)
                request = response.get("UnprocessedKeys") or {}
        return found

    def record_nik_check(self, applicant_id: str, version: int, check: dict) -> bool:
        """Store the ministry's outcome on BIODATA ``version`` unless one is there already (or the
        version was superseded). False when nothing was written."""
        return self._conditional_update(
            {"pk": app_pk(applicant_id), "sk": "BIODATA"}, "SET #c = :check",
            "version = :v AND (attribute_not_exists(#c) OR #c = :null)",
            {"#c": "check"}, {":check": check, ":v": version, ":null": None})

    def nik_outcome(self, applicant_id: str, version: int, status: str, reason: str | None, at: str,
                    marker: str | None = None) -> tuple[bool, bool]:
        """Move the nik step from PENDING to ``status`` if it is still about ``version`` (one
        single-item conditional update). With ``marker`` (a funnel first-time attribute, see
        :mod:`prakerja.adapters.funnel`) the same write sets it to ``at`` unless already set.

        Returns ``(moved, first)``: whether the step moved, and whether this write set the marker."""
        expression, names = "SET steps.#s = :new", {"#s": "nik", "#st": "status"}
        if marker:
            expression += ", #m = if_not_exists(#m, :at)"
            names["#m"] = marker
        kwargs: dict[str, Any] = {
            "Key": {"pk": app_pk(applicant_id), "sk": "PROFILE"}, "UpdateExpression": expression,
            "ConditionExpression": "steps.#s.#st = :pending AND nik_version = :v", "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": {":new": {"status": status, "reason": reason, "updated_at": at},
                                          ":pending": "PENDING", ":v": version} | ({":at": at} if marker else {}),
            "ReturnValues": "UPDATED_OLD",
        }
        response = conditional(lambda: self.t.update_item(**kwargs))
        if response is None:
            return False, False
        return True, bool(marker) and marker not in (response.get("Attributes") or {})

    def count_nik_failure(self, applicant_id: str, version: int, kind: str, at: str) -> int | None:
        """Count one failed ministry call on BIODATA ``version``; the attempts so far, or None when
        the version was superseded or already has an outcome."""
        response = conditional(lambda: self.t.update_item(
            Key={"pk": app_pk(applicant_id), "sk": "BIODATA"},
            UpdateExpression="ADD attempts :one SET last_error = :k, last_error_at = :at",
            ConditionExpression="version = :v AND (attribute_not_exists(#c) OR #c = :null)",
            ExpressionAttributeNames={"#c": "check"},
            ExpressionAttributeValues={":one": 1, ":k": kind, ":at": at, ":v": version, ":null": None},
            ReturnValues="UPDATED_NEW"))
        return None if response is None else int(response["Attributes"]["attempts"])

    def nik_dead_lettered(self, applicant_id: str, version: int, at: str) -> bool:
        """Note that BIODATA ``version``'s check went to the DLQ and start its attempts afresh, so a
        redriven message gets the full number of attempts again."""
        return self._conditional_update(
            {"pk": app_pk(applicant_id), "sk": "BIODATA"},
            "SET attempts = :zero, dead_lettered_at = :at ADD dead_letters :one", "version = :v", None,
            {":zero": 0, ":at": at, ":one": 1, ":v": version})

    def _conditional_update(self, key: dict, expression: str, condition: str, names: dict | None,
                            values: dict) -> bool:
        kwargs: dict[str, Any] = {"Key": key, "UpdateExpression": expression, "ConditionExpression": condition}
        if names:
            kwargs["ExpressionAttributeNames"] = names
        if values:  # (DynamoDB refuses an empty map)
            kwargs["ExpressionAttributeValues"] = values
        return applied(lambda: self.t.update_item(**kwargs))


def _status_in(path: str, statuses: Iterable[str]) -> tuple[str, dict[str, Any]]:
    """``(<path> = :f0 OR <path> = :f1 ...)`` and its values: a step's status is one of ``statuses``."""
    values: dict[str, Any] = {f":f{i}": status for i, status in enumerate(sorted(statuses))}
    return "(" + " OR ".join(f"{path} = {v}" for v in values) + ")", values


def _update(table_name: str, key: dict, values: dict, condition: str | None, cond_values: dict | None = None,
            cond_names: dict | None = None) -> dict:
    """A low-level Update with placeholders for every (possibly dotted) attribute path."""
    names: dict[str, str] = dict(cond_names or {})
    vals: dict[str, Any] = dict(cond_values or {})
    sets = []
    for i, (path, value) in enumerate(values.items()):
        parts = []
        for j, part in enumerate(path.split(".")):
            names[f"#p{i}_{j}"] = part
            parts.append(f"#p{i}_{j}")
        vals[f":v{i}"] = value
        sets.append(f"{'.'.join(parts)} = :v{i}")
    update: dict[str, Any] = {"TableName": table_name, "Key": key, "UpdateExpression": "SET " + ", ".join(sets),
                              "ExpressionAttributeNames": names, "ExpressionAttributeValues": vals}
    if condition:
        update["ConditionExpression"] = condition
    return update
