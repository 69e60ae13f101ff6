"""Budgets and spend over HTTP.

=======  =================================  ===========================================
method   path                               does
=======  =================================  ===========================================
GET      /api/v1/llm/budgets                every budget with its spend this period
PUT      /api/v1/llm/budgets                create or replace the budget of a scope
DELETE   /api/v1/llm/budgets/{name}         remove one
GET      /api/v1/llm/spend                  spend per time bucket, by key/deployment/prompt
=======  =================================  ===========================================
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Response
from pydantic import ValidationError as PydanticValidationError
from starlette.concurrency import run_in_threadpool

from lanza.api.auth import require
from lanza.api.openapi import json_body
from lanza.errors import InvalidInputError
from lanza.llm.budgets.budgets import Budgets, BudgetSpec
from lanza.llm.budgets.ledger import Ledger


def parse_budget(payload: dict[str, Any]) -> BudgetSpec:
    """A budget from user input, with a one-sentence error naming the field."""
    try:
        return BudgetSpec.model_validate(payload)
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "budget"
        message = first["msg"].removeprefix("Value error, ")
        raise InvalidInputError(f"Budget field '{where}': {message}.") from exc


def budgets_router(budgets: Budgets, ledger: Ledger) -> APIRouter:
    """Routes under ``/api/v1/llm``."""
    router = APIRouter(prefix="/api/v1/llm", tags=["llm"])
    read = [Depends(require("read"))]
    admin = [Depends(require("admin"))]

    @router.get("/budgets", dependencies=read, summary="Budgets and their spend")
    async def list_budgets() -> list[dict[str, Any]]:
        return await run_in_threadpool(budgets.list)

    @router.put(
        "/budgets",
        dependencies=admin,
        summary="Create or replace a budget",
        openapi_extra={"requestBody": json_body(BudgetSpec)},
    )
    async def set_budget(payload: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
        return await run_in_threadpool(budgets.set, parse_budget(payload))

    @router.delete("/budgets/{name}", dependencies=admin, status_code=204, summary="Remove one")
    async def delete_budget(name: str) -> Response:
        await run_in_threadpool(budgets.delete, name)
        return Response(status_code=204)

    @router.get("/spend", dependencies=read, summary="Spend over time")
    async def spend(
        hours: Annotated[float, Query(gt=0, le=24 * 366)] = 24.0,
        bucket: Literal["minute", "hour", "day"] = "hour",
        by: Literal["key", "deployment", "prompt"] = "key",
    ) -> dict[str, Any]:
        since = time.time() - hours * 3600.0
        return await run_in_threadpool(ledger.series, since, bucket, by)

    return router
