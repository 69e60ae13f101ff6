"""LitServe serving the benchmark's model (``BENCH_MODEL``, joblib) on ``BENCH_PORT``, with
its dynamic batching on (up to 16 requests, 5 ms), as its documentation advises for
throughput. Runs in its own virtualenv (``bench/.peers/litserve``).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import joblib
import litserve as ls
import numpy as np
import pandas as pd

BATCH = {"max_batch_size": 16, "batch_timeout": 0.005}


class Model(ls.LitAPI):  # type: ignore[misc]
    """One row in, one prediction out; rows batched into one frame."""

    def setup(self, device: str) -> None:
        self.model = joblib.load(os.environ["BENCH_MODEL"])

    # No annotation: LitServe reads it to build its route, and takes the JSON body as
    # the request only when there is none.
    def decode_request(self, request):  # type: ignore[no-untyped-def]
        row: dict[str, Any] = request["instances"][0]
        return row

    def batch(self, inputs: list[dict[str, Any]]) -> pd.DataFrame:
        return pd.DataFrame(inputs)

    def predict(self, x: Any) -> Any:
        if isinstance(x, dict):  # batching off: one row
            x = pd.DataFrame([x])
        return self.model.predict(x)

    def unbatch(self, output: Any) -> list[Any]:
        return list(output)

    def encode_response(self, output: Any) -> dict[str, Any]:
        value = output.tolist() if isinstance(output, np.ndarray) else output
        if isinstance(value, np.generic):
            value = value.item()
        return {"predictions": value if isinstance(value, list) else [value]}


if __name__ == "__main__":
    # Batching settings moved from the server to the API in later releases.
    if "max_batch_size" in inspect.signature(ls.LitAPI.__init__).parameters:
        server = ls.LitServer(Model(**BATCH), accelerator="cpu")
    else:
        server = ls.LitServer(Model(), accelerator="cpu", **BATCH)
    server.run(port=int(os.environ["BENCH_PORT"]), generate_client_file=False)
