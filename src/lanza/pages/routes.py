"""The JSON API behind the pages, under ``/api/v1``.

======  ==================================================  =======
method  path                                                role
======  ==================================================  =======
GET     /deployments/{name}/form                            read
POST    /deployments/{name}/explain                         predict
POST    /deployments/{name}/uploads/validate?filename=F     predict
POST    /deployments/{name}/uploads?filename=F              predict
GET     /deployments/{name}/uploads/{id}                    predict
GET     /deployments/{name}/uploads/{id}/file?format=F      predict
GET     /deployments/{name}/labelling/queue                 predict
POST    /deployments/{name}/labelling/answers               predict
GET     /deployments/{name}/labelling/progress              read
GET     /models/{name}/versions/{version}/card              read
PUT     /models/{name}/versions/{version}/card              admin
======  ==================================================  =======

Uploads send the file itself as the request body (any content type), named by
``filename``, so no multipart parser is needed.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from lanza.api.auth import require
from lanza.errors import ValidationError
from lanza.pages.card import CardEdit
from lanza.pages.explain import explain
from lanza.pages.form import Form, baselines
from lanza.pages.validation import Checked, check, read_table
from lanza.records import caller_request_id
from lanza.runtime.rules import plain_number
from lanza.security.keys import KeyInfo
from lanza.serving.dataplane import InferenceRequest, InferenceResponse
from lanza.serving.payload import Payload

if TYPE_CHECKING:
    import pandas as pd

    from lanza.pages.component import PagesComponent
    from lanza.serving.live import Variant


class ExplainBody(BaseModel):
    """One row typed into the form."""

    record: dict[str, Any]
    budget_ms: float = Field(250.0, gt=0, le=5000)


class AnswerBody(BaseModel):
    """A person's answer for one queued prediction."""

    request_id: str = Field(min_length=1, max_length=64)
    value: Any
    sample: str = "other"


def _pages(request: Request) -> PagesComponent:
    component: PagesComponent = request.app.state.pages
    return component


def _imputes(pages: PagesComponent, deployment: str) -> bool:
    """Whether the deployment answers rows that leave out a column (flagged)."""
    return pages.serving.manager.get(deployment).spec.impute_missing_columns


def _who(key: KeyInfo | None) -> str:
    return key.name if key is not None else "anonymous"


def plain(form: Form, response: InferenceResponse) -> str:
    """The prediction in one plain sentence."""
    value = response.predictions[0]
    probabilities = response.probabilities()
    target = form.target or "the answer"
    if probabilities:
        p = probabilities[0].get(str(value))
        if p is not None:
            return f"The model says {target} is {value}, with a probability of {p:.0%}."
    if isinstance(value, int | float) and not isinstance(value, bool):
        sentence = f"The model predicts {target} = {plain_number(value)}."
        if form.metric in ("rmse", "mae") and form.cv_mean is not None:
            off = plain_number(abs(form.cv_mean))
            sentence += f" At training it was off by {off} on average ({form.metric})."
        return sentence
    return f"The model says {target} is {value}."


def router() -> APIRouter:
    """The pages API."""
    api = APIRouter(tags=["pages"])

    @api.get("/deployments/{name}/form", dependencies=[Depends(require("read"))])
    async def form(name: str, request: Request) -> dict[str, Any]:
        built, _ = await _pages(request).loaded_form(name)
        return built.to_dict()

    @api.post("/deployments/{name}/explain", dependencies=[Depends(require("predict"))])
    async def explain_one(name: str, body: ExplainBody, request: Request) -> dict[str, Any]:
        pages = _pages(request)
        built, variant = await pages.loaded_form(name)
        response = await pages.serving.dataplane.infer(
            InferenceRequest(
                name,
                Payload.from_records([body.record]),
                "pages",
                True,
                caller_request_id(request.headers.get("x-request-id")),
            )
        )
        live = pages.serving.manager.get(name)
        answered = next((v for v in live.variants if v.version == response.model), variant)
        row = {k: v[0] for k, v in response.columns.items()}
        explanation = await asyncio.to_thread(
            explain,
            answered.loaded.runtime,
            row,
            response.predictions[0],
            baselines(built),
            body.budget_ms / 1000,
            built.target,
        )
        probabilities = response.probabilities()
        return {
            "prediction": response.predictions[0],
            "probabilities": probabilities[0] if probabilities else None,
            "model": response.model,
            "request_id": response.request_id,
            "plain": plain(built, response),
            "warnings": response.warnings[0] if response.warnings else [],
            "explanation": explanation.to_dict(),
        }

    async def _checked(
        name: str, filename: str, request: Request
    ) -> tuple[PagesComponent, Variant, pd.DataFrame, Checked]:
        pages = _pages(request)
        data = await request.body()
        built, variant = await pages.loaded_form(name)
        frame = await asyncio.to_thread(read_table, filename, data)
        checked = await asyncio.to_thread(
            check, frame, variant.loaded.runtime.schema, built, _imputes(pages, name)
        )
        return pages, variant, frame, checked

    @api.post("/deployments/{name}/uploads/validate", dependencies=[Depends(require("predict"))])
    async def validate(name: str, filename: str, request: Request) -> dict[str, Any]:
        _, _, _, checked = await _checked(name, filename, request)
        return checked.report()

    @api.post(
        "/deployments/{name}/uploads", status_code=201, dependencies=[Depends(require("predict"))]
    )
    async def upload(name: str, filename: str, request: Request) -> dict[str, Any]:
        pages, variant, frame, checked = await _checked(name, filename, request)
        missing = [p for p in checked.column_problems if p.reason.startswith("the model needs")]
        if missing:
            raise ValidationError(f"Column '{missing[0].column}' is missing from '{filename}'.")
        if not checked.good:
            raise ValidationError(f"No row of '{filename}' can be predicted; see the problems.")
        made = await pages.uploads.run(name, variant.version, filename, frame, checked)
        return {"validation": checked.report(), "upload": pages.uploads.progress(made)}

    @api.get("/deployments/{name}/uploads/{upload_id}", dependencies=[Depends(require("predict"))])
    async def upload_status(name: str, upload_id: str, request: Request) -> dict[str, Any]:
        uploads = _pages(request).uploads
        found = await asyncio.to_thread(uploads.status, name, upload_id)
        view: dict[str, Any] = await asyncio.to_thread(uploads.progress, found)
        return view

    @api.get(
        "/deployments/{name}/uploads/{upload_id}/file", dependencies=[Depends(require("predict"))]
    )
    async def upload_file(
        name: str,
        upload_id: str,
        request: Request,
        format: Annotated[str, Query(json_schema_extra={"enum": ["csv", "xlsx"]})] = "csv",
    ) -> Response:
        if format not in ("csv", "xlsx"):
            raise ValidationError(f"Unknown format '{format}'; use csv or xlsx.")
        data, media, filename = await asyncio.to_thread(
            _pages(request).uploads.result, name, upload_id, format
        )
        disposition = f'attachment; filename="{filename}"'
        return Response(data, media_type=media, headers={"Content-Disposition": disposition})

    @api.get("/deployments/{name}/labelling/queue", dependencies=[Depends(require("predict"))])
    async def queue(name: str, request: Request, size: int = 20) -> dict[str, Any]:
        pages = _pages(request)
        await asyncio.to_thread(pages.serving.store.get, name)
        labelling = pages.labelling
        items = await asyncio.to_thread(labelling.items, name, max(1, min(size, 200)))
        progress = await asyncio.to_thread(labelling.progress, name)
        return {"items": [i.to_dict() for i in items], "progress": progress}

    @api.post("/deployments/{name}/labelling/answers")
    async def answer(
        name: str,
        body: AnswerBody,
        request: Request,
        key: Annotated[KeyInfo | None, Depends(require("predict", audit=True))],
    ) -> dict[str, Any]:
        labelling = _pages(request).labelling
        return await asyncio.to_thread(
            labelling.answer, name, body.request_id, body.value, body.sample, _who(key)
        )

    @api.get("/deployments/{name}/labelling/progress", dependencies=[Depends(require("read"))])
    async def progress(name: str, request: Request) -> dict[str, Any]:
        return await asyncio.to_thread(_pages(request).labelling.progress, name)

    @api.get("/models/{name}/versions/{version}/card", dependencies=[Depends(require("read"))])
    async def card(name: str, version: str, request: Request) -> dict[str, Any]:
        return await asyncio.to_thread(_pages(request).cards.build, name, version)

    @api.put("/models/{name}/versions/{version}/card")
    async def edit_card(
        name: str,
        version: str,
        body: CardEdit,
        request: Request,
        key: Annotated[KeyInfo | None, Depends(require("admin"))],
    ) -> dict[str, Any]:
        cards = _pages(request).cards
        return await asyncio.to_thread(cards.edit, name, version, body, _who(key))

    return api
