"""Model references as users write them: ``NAME@ALIAS``, ``NAME/VERSION`` or an MLflow URI."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lanza.errors import InvalidInputError

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.\-]*"
_ALIAS = re.compile(rf"^(?:models:/)?(?P<name>{_NAME})@(?P<alias>[A-Za-z0-9_\-]+)$")
_VERSION = re.compile(rf"^(?:models:/)?(?P<name>{_NAME})/(?P<version>\d+)$")


@dataclass(frozen=True)
class ModelReference:
    """A parsed reference: a registered model plus an alias or a version, or a raw URI."""

    name: str | None = None
    alias: str | None = None
    version: str | None = None
    uri: str | None = None

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        if self.version is not None:
            return f"{self.name}/{self.version}"
        return self.uri or ""


def parse_reference(text: str) -> ModelReference:
    """Parse a model reference; a bare name means its ``champion``."""
    text = text.strip()
    if not text:
        raise InvalidInputError("The model reference is empty; write NAME@ALIAS or NAME/VERSION.")
    if match := _ALIAS.match(text):
        return ModelReference(name=match["name"], alias=match["alias"])
    if match := _VERSION.match(text):
        return ModelReference(name=match["name"], version=match["version"])
    if re.fullmatch(_NAME, text):
        return ModelReference(name=text, alias="champion")
    if "://" in text or text.startswith("models:/") or text.startswith("runs:/"):
        return ModelReference(uri=text)
    raise InvalidInputError(
        f"'{text}' is not a model reference; write NAME@ALIAS, NAME/VERSION or an MLflow URI."
    )
