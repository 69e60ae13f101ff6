"""An exact-match response cache for the gateway, in memory, one per server worker.

Rate limits live in ``lanza.security.limits``, beside the keys they are counted by.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from typing import Any


class ResponseCache:
    """Least-recently-used answers keyed by the exact request."""

    def __init__(self, entries: int) -> None:
        self.entries = entries
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(deployment: str, route: str, request: dict[str, Any]) -> str:
        """A stable digest of the deployment, route and request body."""
        text = json.dumps([deployment, route, request], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, key: str) -> Any | None:
        """The cached answer, if any."""
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key: str, value: Any) -> None:
        """Keep an answer, dropping the oldest past the limit."""
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.entries:
                self._items.popitem(last=False)
