"""batches (HTTP): list batches (public) and join the open one."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from prakerja.adapters.batches import BatchStore
from prakerja.api import responses as r
from prakerja.api.app import create_app, lambda_handler
from prakerja.api.auth import bearer
from prakerja.services.batches import Batches
from prakerja.services.security import AccessClaims
from prakerja.services.wiring import build
from prakerja.settings import BatchesSettings

w = build(BatchesSettings)
batches = Batches(w, BatchStore(w.settings.batches_table, w.settings.member_shards))
signed_in = bearer(w.access_tokens, w.store)

app = create_app("prakerja batches")

BatchId = Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_\-]+$")]


@app.get("/v1/batches", response_model=r.Batches, response_model_exclude_unset=True)
def list_batches() -> dict:
    return {"batches": batches.list()}


@app.post("/v1/batches/{batch_id}/participants", status_code=201, response_model=r.Joined)
def join(batch_id: BatchId, claims: Annotated[AccessClaims, Depends(signed_in)]) -> dict:
    return batches.join(claims.applicant_id, batch_id)


handler = lambda_handler(app)
