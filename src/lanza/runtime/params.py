"""Inference ``params`` checked against a model signature's params schema, as MLflow does.

MLflow's own rules apply (its ``ParamSchema``): params the schema does not name are
dropped, missing ones take their default, a value of the wrong type or shape is refused.
A model without a params schema ignores params, as ``mlflow models serve`` does.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from lanza.errors import ValidationError
from lanza.runtime.schema import InputSchema

log = logging.getLogger("lanza.params")


def check_params(params: Any, schema: InputSchema) -> dict[str, Any] | None:
    """The params to pass to the model, or ``None`` when it takes none."""
    if params is None or schema.params is None:
        if params:
            log.info("params ignored: the model's signature has no params schema")
        return None
    if not isinstance(params, dict):
        raise ValidationError(f"'params' must be an object, not {type(params).__name__}.")
    from mlflow.exceptions import MlflowException
    from mlflow.models.utils import _enforce_params_schema

    try:
        checked: dict[str, Any] = _enforce_params_schema(dict(params), _schema(schema.params))
    except MlflowException as exc:
        raise ValidationError(f"The params are not valid: {exc.message}") from exc
    return checked


@functools.lru_cache(maxsize=64)
def _schema(text: str) -> Any:
    from mlflow.types.schema import ParamSchema

    return ParamSchema.from_json(text)
