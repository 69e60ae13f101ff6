"""Monitoring routes: ground truth, reports, alert rules, and the dashboard's list.

=======  ===========================================  =======
method   path                                         role
=======  ===========================================  =======
POST     /api/v1/deployments/{name}/feedback          predict
GET      /api/v1/deployments/{name}/monitoring        read
GET      /api/v1/monitoring                           read
POST     /api/v1/deployments/{name}/alerts            admin
GET      /api/v1/deployments/{name}/alerts            read
DELETE   /api/v1/deployments/{name}/alerts/{rule_id}  admin
=======  ===========================================  =======
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, Request, Response

from lanza.api.auth import require
from lanza.monitoring.alerts import AlertRule
from lanza.monitoring.feedback import FeedbackBody

if TYPE_CHECKING:
    from lanza.monitoring.component import MonitoringComponent


def _component(request: Request) -> MonitoringComponent:
    component: MonitoringComponent = request.app.state.monitoring
    return component


def router() -> APIRouter:
    """The monitoring API under ``/api/v1``."""
    api = APIRouter(tags=["monitoring"])

    @api.post(
        "/deployments/{name}/feedback",
        dependencies=[Depends(require("predict", audit=True))],
        summary="Post ground truth for logged predictions",
    )
    async def feedback(name: str, body: FeedbackBody, request: Request) -> dict[str, Any]:
        component = _component(request)
        items = body.all_items()
        store = component.feedback
        ids = [i.request_id for i in items]
        if await asyncio.to_thread(store.missing, name, ids):
            await asyncio.to_thread(component.prediction_log.flush)
        accepted = await asyncio.to_thread(store.record, name, items)
        return {"accepted": accepted}

    @api.get(
        "/deployments/{name}/monitoring",
        dependencies=[Depends(require("read"))],
        summary="Traffic, latency, errors, drift, quality and alerts of a deployment",
    )
    async def monitoring(name: str, request: Request) -> dict[str, Any]:
        component = _component(request)
        await asyncio.to_thread(component.known, name)
        return await asyncio.to_thread(component.view, name)

    @api.get(
        "/monitoring",
        dependencies=[Depends(require("read"))],
        summary="Every deployment with its latest monitoring figures",
    )
    async def overview(request: Request) -> list[dict[str, Any]]:
        return await asyncio.to_thread(_component(request).overview)

    @api.post(
        "/deployments/{name}/alerts",
        dependencies=[Depends(require("admin"))],
        status_code=201,
        summary="Add an alert rule",
    )
    async def add_alert(name: str, rule: AlertRule, request: Request) -> dict[str, Any]:
        component = _component(request)
        await asyncio.to_thread(component.configured, name)
        return await asyncio.to_thread(component.monitor.alerts.create, name, rule)

    @api.get(
        "/deployments/{name}/alerts",
        dependencies=[Depends(require("read"))],
        summary="Alert rules and recent firings",
    )
    async def list_alerts(name: str, request: Request) -> dict[str, Any]:
        component = _component(request)
        await asyncio.to_thread(component.configured, name)
        alerts = component.monitor.alerts
        rules = await asyncio.to_thread(alerts.describe, name)
        return {"rules": rules, "history": await asyncio.to_thread(alerts.history, name)}

    @api.delete(
        "/deployments/{name}/alerts/{rule_id}",
        dependencies=[Depends(require("admin"))],
        status_code=204,
        summary="Remove an alert rule",
    )
    async def delete_alert(name: str, rule_id: str, request: Request) -> Response:
        await asyncio.to_thread(_component(request).monitor.alerts.delete, name, rule_id)
        return Response(status_code=204)

    return api
