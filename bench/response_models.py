"""CPU cost of the routes' response models per request (issue 14 item 4). Not a test.

Times what FastAPI does with a route's return value, for three bodies (small, ``GET /v1/me``, a
30-question ``POST /v1/me/assessment``): with a response model, validating the dict into the model
and dumping it to JSON bytes (FastAPI's path for a model, ``TypeAdapter.dump_json``); without one,
as before, ``jsonable_encoder`` and ``json.dumps`` (``JSONResponse.render``). Checks both give the
same JSON, prints microseconds per request (best of 5 runs of N)::

    PYTHONPATH=src python bench/response_models.py
"""

from __future__ import annotations

import json
import timeit
from typing import Any

from fastapi.encoders import jsonable_encoder
from pydantic import TypeAdapter
from starlette.responses import JSONResponse

from prakerja.api import responses as r

N = 20000
AT = "2026-12-04T10:00:00Z"


def _step(status: str) -> dict[str, Any]:
    return {"status": status, "reason": None, "updated_at": AT}


ME = {"applicant_id": "a" * 32, "email": "pelamar@example.org", "consent_version": "v1",
      "consent": {"version": "v1", "given_at": AT, "withdrawn_at": None},
      "steps": {"email": _step("VERIFIED"), "ktp": _step("VALID"), "nik": _step("PENDING"),
                "assessment": _step("NOT_STARTED"), "batch": {**_step("JOINED"), "batch_id": "b1"}},
      "as_of": AT}
TOKENS = {"access_token": "t" * 300, "refresh_token": "r" * 60, "token_type": "Bearer", "expires_in": 900}
ASSESSMENT = {"questions": [{"question_id": f"Q{i}", "text": "Pertanyaan " * 8,
                             "options": [{"option_id": f"O{j}", "text": "Jawaban"} for j in range(4)]}
                            for i in range(30)],
              "answers": {f"Q{i}": "O1" for i in range(15)}, "deadline_at": AT, "seconds_left": 100,
              "status": "IN_PROGRESS", "attempt": 1, "attempts_left": 1}
CASES = [("Tokens", r.Tokens, TOKENS, False), ("Me", r.Me, ME, True),
         ("Assessment (30 questions)", r.Assessment, ASSESSMENT, False)]


def main() -> None:
    for name, model, body, exclude_unset in CASES:
        adapter = TypeAdapter(model)

        def with_model(adapter: Any = adapter, body: Any = body, exclude_unset: bool = exclude_unset) -> bytes:
            return adapter.dump_json(adapter.validate_python(body), exclude_unset=exclude_unset)

        def without(body: Any = body) -> bytes:
            return JSONResponse(None).render(jsonable_encoder(body))

        assert json.dumps(json.loads(with_model())) == json.dumps(json.loads(without())), name
        new = min(timeit.repeat(with_model, number=N, repeat=5)) / N * 1e6
        old = min(timeit.repeat(without, number=N, repeat=5)) / N * 1e6
        print(f"{name}: with the model {new:.1f} us/request, without (before) {old:.1f} us, "
              f"difference {new - old:+.1f} us")


if __name__ == "__main__":
    main()
