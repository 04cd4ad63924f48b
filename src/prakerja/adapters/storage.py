"""S3 access for KTP photos: presigned POSTs, reading what landed, storing the normalised image.

The only code that touches the KTP bucket.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from botocore.config import Config

from prakerja.adapters.aws import client


class PhotoStore:
    """The KTP bucket."""

    def __init__(self, bucket: str, region: str = "ap-southeast-3") -> None:
        self.bucket = bucket
        self.region = region

    def presigned_post(self, key: str, content_type: str, min_bytes: int, max_bytes: int,
                       expires_seconds: int) -> dict[str, Any]:
        """A presigned POST (regional SigV4) whose policy pins the key, the exact Content-Type and
        the byte range. Returns ``{"url", "fields"}``."""
        s3 = _presign_client(self.region)
        return s3.generate_presigned_post(
            Bucket=self.bucket, Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"key": key}, {"Content-Type": content_type},
                        ["content-length-range", min_bytes, max_bytes]],
            ExpiresIn=expires_seconds,
        )

    def latest(self, key: str) -> dict | None:
        """The current version of ``key`` as ``{"VersionId", "ContentLength" (bytes), "ETag"}``
        (``VersionId`` empty when the bucket is unversioned), or None when the object is gone
        (no version, or a delete marker on top).

        A ListObjectVersions of the key, not a HeadObject: without ``s3:ListBucket`` (which the
        photo worker does not get: it would list every applicant's keys) S3 answers a HeadObject
        of a missing key with 403, not 404, so a redelivered notification for an original already
        deleted would look like a permission failure and end in the DLQ. One LIST request."""
        paginator = client("s3").get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
            for entry in page.get("DeleteMarkers", []):
                if entry["Key"] == key and entry.get("IsLatest"):
                    return None
            for entry in page.get("Versions", []):
                if entry["Key"] == key and entry.get("IsLatest"):
                    version = str(entry.get("VersionId") or "")
                    return {"VersionId": "" if version == "null" else version,
                            "ContentLength": int(entry.get("Size", 0)), "ETag": str(entry.get("ETag", ""))}
        return None

    def read(self, key: str, version_id: str | None = None, limit: int | None = None) -> bytes:
        """The object's bytes (of one version; at most ``limit`` bytes when given)."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            kwargs["VersionId"] = version_id
        if limit is not None:
            kwargs["Range"] = f"bytes=0-{limit - 1}"
        return client("s3").get_object(**kwargs)["Body"].read()

    def write(self, key: str, data: bytes, content_type: str) -> str:
        """Store bytes; returns the new version id (may be empty when unversioned)."""
        response = client("s3").put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)
        return str(response.get("VersionId") or "")

    def delete_all_versions(self, key: str) -> int:
        """Delete every version and delete marker of ``key``; returns how many were deleted."""
        s3 = client("s3")
        deleted = 0
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=key):
            for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if entry["Key"] == key:
                    s3.delete_object(Bucket=self.bucket, Key=key, VersionId=entry["VersionId"])
                    deleted += 1
        return deleted

    def versions_under(self, prefix: str) -> list[dict[str, Any]]:
        """Every version and delete marker of every object under ``prefix``:
        ``[{key, version_id, size (bytes, 0 for a marker), last_modified (ISO UTC), is_latest,
        delete_marker}]``, in S3's listing order."""
        out: list[dict[str, Any]] = []
        for page in client("s3").get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=prefix):
            for entry, marker in [(v, False) for v in page.get("Versions", [])] + \
                                 [(m, True) for m in page.get("DeleteMarkers", [])]:
                out.append({"key": entry["Key"], "version_id": entry.get("VersionId"),
                            "size": int(entry.get("Size", 0)), "last_modified": _iso(entry.get("LastModified")),
                            "is_latest": bool(entry.get("IsLatest")), "delete_marker": marker})
        return out

    def delete_versions(self, entries: list[dict[str, Any]]) -> int:
        """Delete the given versions and delete markers (``{key, version_id}`` as listed by
        :meth:`versions_under`), 1,000 per request. Returns how many S3 confirmed; raises
        RuntimeError naming the first key S3 refused (so a caller can retry the whole erasure)."""
        s3, deleted = client("s3"), 0
        for start in range(0, len(entries), 1000):
            objects = [{"Key": e["key"], "VersionId": e["version_id"]} if e.get("version_id") else {"Key": e["key"]}
                       for e in entries[start:start + 1000]]
            reply = s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": False})
            if reply.get("Errors"):
                first = reply["Errors"][0]
                raise RuntimeError(f"S3 refused to delete {first.get('Key')}: {first.get('Code')}")
            deleted += len(reply.get("Deleted", []))
        return deleted

    def presigned_get(self, key: str, version_id: str | None, expires_seconds: int) -> str:
        """A presigned GET URL (regional SigV4) for one version of ``key``."""
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if version_id:
            params["VersionId"] = version_id
        return _presign_client(self.region).generate_presigned_url("get_object", Params=params,
                                                                   ExpiresIn=expires_seconds)

    def versions(self, key: str) -> list[str]:
        """Version ids (and delete markers) still held for ``key``."""
        page = client("s3").list_object_versions(Bucket=self.bucket, Prefix=key)
        return [e["VersionId"] for e in page.get("Versions", []) + page.get("DeleteMarkers", []) if e["Key"] == key]


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else str(value)


_PRESIGN: dict[str, Any] = {}


def _presign_client(region: str) -> Any:
    if region not in _PRESIGN:
        import boto3

        _PRESIGN[region] = boto3.session.Session().client(
            "s3", region_name=region, config=Config(signature_version="s3v4"))
    return _PRESIGN[region]
