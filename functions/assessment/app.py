"""assessment (HTTP): start or resume the test, save answers one by one, submit for scoring."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from pydantic import BaseModel, Field

from prakerja.api import responses as r
from prakerja.api.app import create_app, lambda_handler
from prakerja.api.auth import bearer
from prakerja.api.i18n import pick_language
from prakerja.services.assessment import Assessments
from prakerja.services.security import AccessClaims
from prakerja.services.wiring import build
from prakerja.settings import AssessmentSettings

w = build(AssessmentSettings)
tests = Assessments(w)
signed_in = bearer(w.access_tokens, w.store)

app = create_app("prakerja assessment")

QuestionId = Annotated[str, Path(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_\-]+$")]


class AnswerBody(BaseModel):
    option_id: str = Field(min_length=1, max_length=20)


class SubmitBody(BaseModel):
    answers: dict[str, str] = Field(default_factory=dict, max_length=200)


@app.post("/v1/me/assessment", response_model=r.Assessment)
def start(request: Request, claims: Annotated[AccessClaims, Depends(signed_in)]) -> dict:
    return tests.start(claims.applicant_id, pick_language(request.headers.get("accept-language")))


@app.put("/v1/me/assessment/answers/{question_id}", response_model=r.AnswerSaved)
def answer(question_id: QuestionId, body: AnswerBody, claims: Annotated[AccessClaims, Depends(signed_in)]) -> dict:
    return tests.answer(claims.applicant_id, question_id, body.option_id)


@app.post("/v1/me/assessment/submit", response_model=r.Score)
def submit(claims: Annotated[AccessClaims, Depends(signed_in)], body: SubmitBody | None = None) -> dict:
    return tests.submit(claims.applicant_id, body.answers if body else None)


handler = lambda_handler(app)
