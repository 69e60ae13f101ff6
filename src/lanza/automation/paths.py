"""Dated paths: ``gs://bucket/{date}/*.parquet`` filled in with a run's due time.

Fields: ``{date}`` (2026-11-27), ``{datetime}`` (2026-11-27T0200), and either with a
strftime pattern, e.g. ``{date:%Y/%m/%d}``. Other braces are left as they are, so a
glob such as ``part-{a,b}.csv`` still works.
"""

from __future__ import annotations

import re
from datetime import datetime

FIELD = re.compile(r"\{(date|datetime)(?::([^{}]*))?\}")
DEFAULTS = {"date": "%Y-%m-%d", "datetime": "%Y-%m-%dT%H%M"}


def render_path(template: str, due: datetime) -> str:
    """The template with every date field replaced by ``due``."""

    def replace(match: re.Match[str]) -> str:
        return due.strftime(match.group(2) or DEFAULTS[match.group(1)])

    return FIELD.sub(replace, template)
