"""verify_nik (HTTP): biodata form, its live preview, and the stored biodata (NIK masked)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends

from prakerja.adapters.crypto import Envelopes
from prakerja.api import responses as r
from prakerja.api.app import create_app, lambda_handler
from prakerja.api.auth import bearer
from prakerja.domain.biodata import Biodata
from prakerja.services.biodata import BiodataService
from prakerja.services.security import AccessClaims
from prakerja.services.wiring import build
from prakerja.settings import BiodataSettings

w = build(BiodataSettings)
biodata = BiodataService(w, Envelopes(w.settings.pii_key_id))
signed_in = bearer(w.access_tokens, w.store)

app = create_app("prakerja verify_nik")


@app.put("/v1/me/biodata", status_code=202, response_model=r.BiodataAccepted)
def put_biodata(body: Biodata, claims: Annotated[AccessClaims, Depends(signed_in)]) -> dict:
    return biodata.put(claims.applicant_id, body)


@app.get("/v1/me/biodata", response_model=r.BiodataStored, response_model_exclude_unset=True)
def get_biodata(claims: Annotated[AccessClaims, Depends(signed_in)]) -> dict:
    return biodata.get(claims.applicant_id)


@app.post("/v1/me/biodata/preview", response_model=r.BiodataPreview)
def preview(body: Annotated[dict[str, Any], Body()], claims: Annotated[AccessClaims, Depends(signed_in)]) -> dict:
    return biodata.preview(body)


handler = lambda_handler(app)
