"""Rules for showing and handing over personal data (access requests under Law 27/2022): masking
for an operator's terminal, and which stored items belong to whom. Pure, no I/O."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any


def mask_email(email: str) -> str:
    """An address masked for display: the first character of the local part and of the domain,
    and the top-level domain, ``budi.santoso@example.co.id`` -> ``b***@e***.id``. Anything that
    is not ``local@domain`` is masked completely (``***``). Never raises."""
    local, at, domain = str(email).strip().rpartition("@")
    if not at or not local or not domain:
        return "***"
    labels = domain.split(".")
    tld = f".{labels[-1]}" if len(labels) > 1 and labels[-1] else ""
    return f"{local[0]}***@{labels[0][:1]}***{tld}"


def _lookup_form(text: Any) -> str:
    return unicodedata.normalize("NFKC", str(text).strip()).lower() if isinstance(text, str) else ""


def outbox_item_names(item: Mapping[str, Any], applicant_id: str, emails: Iterable[str]) -> bool:
    """Whether a pending outbox item is about the applicant: its message names the applicant id
    (``applicant_id`` of a NIK check, ``ref`` of an email) or is an email to one of ``emails``
    (the addresses held for the applicant, in any case). A body that is not JSON names no one."""
    try:
        body = json.loads(item["body"]) if isinstance(item.get("body"), str) else dict(item.get("body") or {})
    except (ValueError, TypeError):
        return False
    if not isinstance(body, dict):
        return False
    if applicant_id in (body.get("applicant_id"), body.get("ref")):
        return True
    wanted = {_lookup_form(e) for e in emails if e}
    return bool(wanted) and _lookup_form(body.get("to")) in wanted
