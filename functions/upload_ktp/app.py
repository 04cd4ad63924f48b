"""upload_ktp (HTTP): hands out a presigned POST so the browser uploads the KTP photo to S3."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from pydantic import BaseModel, Field

from prakerja.adapters.storage import PhotoStore
from prakerja.api import responses as r
from prakerja.api.app import create_app, lambda_handler
from prakerja.api.auth import bearer
from prakerja.services.ktp import KtpPhotos
from prakerja.services.security import AccessClaims
from prakerja.services.wiring import build
from prakerja.settings import KtpUploadSettings

w = build(KtpUploadSettings)
ktp = KtpPhotos(w, PhotoStore(w.settings.ktp_bucket, w.settings.presign_region))
signed_in = bearer(w.access_tokens, w.store)

app = create_app("prakerja upload_ktp")


class UploadRequest(BaseModel):
    content_type: str = Field(max_length=100)


@app.post("/v1/me/documents/ktp", response_model=r.KtpUpload)
def presign(body: UploadRequest, claims: Annotated[AccessClaims, Depends(signed_in)]) -> dict:
    return ktp.presign(claims.applicant_id, body.content_type.strip().lower(), claims.profile)


handler = lambda_handler(app)
