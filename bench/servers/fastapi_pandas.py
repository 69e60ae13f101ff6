"""A hand-written FastAPI app, as a team would write one: JSON rows to a DataFrame to
``model.predict``. The model is the joblib file named by ``BENCH_MODEL``.

    BENCH_MODEL=model.joblib uvicorn --http httptools --loop uvloop fastapi_pandas:app
"""

from __future__ import annotations

import os
from typing import Any

import joblib
import pandas as pd
from fastapi import FastAPI

app = FastAPI()
model = joblib.load(os.environ["BENCH_MODEL"])


@app.post("/predict")
def predict(body: dict[str, Any]) -> dict[str, Any]:
    """``{"instances": [{column: value}]}`` to ``{"predictions": [...]}``."""
    frame = pd.DataFrame(body["instances"])
    return {"predictions": model.predict(frame).tolist()}
