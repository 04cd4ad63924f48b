"""The draw's audit record (pure, no I/O): run the draw, write and read its record, re-run it.

The record (format ``prakerja-draw/1``) is one JSON object: the published settings, the secret,
the participants digest, the seed, the counts, and ``ranking``: one row ``[participant_id,
outcome, rank, province_code, priority]`` per line in rank order (so it can be streamed). The
rules of the draw itself are in :mod:`prakerja.domain.selection`; the batch timeline that calls
this is in :mod:`prakerja.services.batches`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import IO, Any

from prakerja.domain import selection

AUDIT_FORMAT = "prakerja-draw/1"
AUDIT_COLUMNS = ["participant_id", "outcome", "rank", "province_code", "priority"]


def run_draw(*, batch_id: str, closes_at: str, quota: int, priority_share: float,
             province_quotas: dict[str, int] | None, commitment: str, secret: str, ids: list[str],
             provinces: list[str | None], flags: bytearray) -> tuple[dict[str, Any], Iterator[list]]:
    """Run the draw (pure): its audit header (the published settings, the secret, the participants
    digest, the seed and the counts) and an iterator over the ranking rows ``[participant_id,
    outcome, rank, province_code, priority]`` in rank order. ``ids``, ``provinces`` and
    ``flags`` are parallel columns."""
    digest = selection.participants_digest(ids)
    seed = selection.draw_seed(secret, digest)
    result = selection.draw_ids(ids, flags if priority_share else None,
                                provinces if province_quotas is not None else None, quota=quota, seed=seed,
                                priority_share=priority_share, province_quotas=province_quotas)
    header = {"format": AUDIT_FORMAT, "batch_id": batch_id, "closes_at": closes_at, "quota": quota,
              "priority_share": priority_share, "province_quotas": province_quotas, "commitment": commitment,
              "secret": secret, "participants_digest": digest, "seed": seed, "participants": len(ids),
              "selected": result.selected_count, "columns": AUDIT_COLUMNS}

    def rows() -> Iterator[list]:
        order = result.ranked_index
        assert order is not None  # select() always sets it
        cut = result.selected_count
        for start in range(0, len(ids), 1 << 16):  # the input position of each ranked id, a chunk at a time
            positions = order[start : start + (1 << 16)]
            for rank, i in enumerate(positions.tolist() if hasattr(positions, "tolist") else positions, start + 1):
                yield [ids[i], "SELECTED" if rank <= cut else "NOT_SELECTED", rank, provinces[i], flags[i]]

    return header, rows()


def build_audit(**draw: Any) -> dict[str, Any]:
    """The whole audit record of :func:`run_draw` (arguments alike) as one dict."""
    header, rows = run_draw(**draw)
    return header | {"ranking": list(rows)}


def write_audit(header: Mapping[str, Any], rows: Iterable[list], out: IO[bytes],
                on_row: Callable[[list], None] | None = None) -> None:
    """Write an audit record as JSON with one ranking row per line (so it can be read back row by
    row without loading it whole, :func:`audit_rows`); ``on_row`` sees each row as it is written."""
    out.write(json.dumps(dict(header), separators=(",", ":"))[:-1].encode() + b',"ranking":[')
    sep = b"\n"
    for row in rows:
        out.write(sep + json.dumps(row, separators=(",", ":")).encode())
        sep = b",\n"
        if on_row is not None:
            on_row(row)
    out.write(b"\n]}\n")


def audit_rows(lines: Iterable[bytes]) -> Iterator[list]:
    """The ranking rows of an audit record written by :func:`write_audit`, read line by line."""
    for line in lines:
        text = line.strip().rstrip(b",")
        if text.startswith(b"[") and text.endswith(b"]"):
            yield json.loads(text)


def verify_audit(audit: Mapping[str, Any], published_commitment: str | None = None) -> list[str]:
    """Re-run a draw from its audit record; returns the problems found (empty: it matches).

    Checks that the revealed secret hashes to the commitment (and to ``published_commitment``,
    the value published before the batch opened, when given), that the participants digest and
    the seed follow from the published participant list and the secret, and that the draw with
    the published quota, priority share and province quotas gives exactly the published ranking.
    """
    try:
        return _verify(audit, published_commitment)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        return [f"malformed audit record: {type(exc).__name__}: {exc}"]


def _verify(audit: Mapping[str, Any], published_commitment: str | None) -> list[str]:
    problems: list[str] = []
    secret, ranking = audit["secret"], audit["ranking"]
    if selection.commitment(secret) != audit["commitment"]:
        problems.append("the secret does not hash to the commitment in the record")
    if published_commitment is not None and published_commitment != audit["commitment"]:
        problems.append("the commitment in the record is not the one published for the batch")
    ids = [row[0] for row in ranking]
    digest = selection.participants_digest(ids)
    if digest != audit["participants_digest"]:
        problems.append("the participants digest does not match the published participant list")
    seed = selection.draw_seed(secret, digest)
    if seed != audit["seed"]:
        problems.append("the seed does not follow from the secret and the participant list")
    share = float(audit.get("priority_share") or 0.0)
    quotas = audit.get("province_quotas")
    flags = bytearray(1 if len(row) > 4 and row[4] else 0 for row in ranking) if share else None
    provinces = [row[3] if len(row) > 3 else None for row in ranking] if quotas is not None else None
    again = selection.draw_ids(ids, flags, provinces, quota=int(audit["quota"]), seed=seed, priority_share=share,
                               province_quotas={k: int(v) for k, v in quotas.items()} if quotas is not None else None)
    published = [(str(r[0]), str(r[1]), int(r[2])) for r in ranking]
    rerun = [(pid, "SELECTED" if sel else "NOT_SELECTED", rank) for pid, sel, rank in again.iter_ranking()]
    if rerun != published:
        differing = sum(1 for a, b in zip(rerun, published, strict=True) if a != b)
        problems.append(f"the re-run draw differs from the published ranking in {differing} of {len(rerun)} rows")
    if "selected" in audit and int(audit["selected"]) != again.selected_count:
        problems.append("the published number selected differs from the re-run draw")
    return problems
