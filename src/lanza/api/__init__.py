"""The HTTP server: one FastAPI app, several faces, one data plane behind them."""

from lanza.api.app import create_app

__all__ = ["create_app"]
