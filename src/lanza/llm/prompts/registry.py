"""Prompts on MLflow's prompt registry through an explicit ``MlflowClient``.

References are ``NAME`` (newest version), ``NAME@ALIAS`` or ``NAME/VERSION`` (the same
forms as model references); ``prompts:/NAME@ALIAS`` is accepted too.

MLflow is imported by the methods that call it: the server imports this module with the
LLM gateway, and a server that serves no prompt should not pay MLflow's import at start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lanza.errors import InvalidInputError, NotFoundError
from lanza.llm.prompts.render import render_messages, variables_of
from lanza.llm.providers.base import ChatMessage

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


@dataclass(frozen=True)
class PromptInfo:
    """One prompt version."""

    name: str
    version: int
    template: str | list[dict[str, Any]]
    variables: list[str]
    aliases: list[str] = field(default_factory=list)
    message: str | None = None
    created_at: datetime | None = None

    @property
    def reference(self) -> str:
        """``NAME/VERSION``, which pins this version."""
        return f"{self.name}/{self.version}"

    def messages(self, variables: dict[str, Any]) -> list[ChatMessage]:
        """The rendered chat messages."""
        return render_messages(self.template, variables)


class PromptStore:
    """Create, list, read and promote prompt versions."""

    def __init__(self, client: MlflowClient) -> None:
        self.client = client

    def create(
        self, name: str, template: str | list[dict[str, Any]], message: str | None = None
    ) -> PromptInfo:
        """Register a new version of a prompt (creating the prompt on first use)."""
        from mlflow.exceptions import MlflowException

        if not template:
            raise InvalidInputError("A prompt template cannot be empty.")
        try:
            version = self.client.register_prompt(name, template, commit_message=message)
        except MlflowException as exc:
            raise InvalidInputError(f"Prompt '{name}' cannot be registered: {exc.message}") from exc
        return _info(version)

    def list_all(self) -> list[PromptInfo]:
        """The newest version of every prompt."""
        prompts = self.client.search_prompts(max_results=1000)
        return [self.get(p.name) for p in sorted(prompts, key=lambda p: p.name)]

    def versions(self, name: str) -> list[PromptInfo]:
        """Every version of a prompt, newest first."""
        self._require(name)
        found = self.client.search_prompt_versions(name, max_results=1000)
        items = found.prompt_versions if hasattr(found, "prompt_versions") else list(found)
        # Search results carry no aliases; each version read by itself does.
        numbers = sorted((int(v.version) for v in items), reverse=True)
        return [self.get(f"{name}/{n}") for n in numbers]

    def get(self, reference: str) -> PromptInfo:
        """A version by ``NAME``, ``NAME@ALIAS`` or ``NAME/VERSION``; 404 if missing."""
        from mlflow.exceptions import MlflowException

        ref = reference.removeprefix("prompts:/")
        try:
            if "@" in ref:
                name, alias = ref.split("@", 1)
                self._require(name)
                return _info(self.client.get_prompt_version_by_alias(name, alias))
            if "/" in ref:
                name, version = ref.split("/", 1)
                self._require(name)
                found = self.client.get_prompt_version(name, int(version))
            else:
                self._require(ref)
                found = self.client.load_prompt(f"prompts:/{ref}@latest")
        except MlflowException as exc:
            raise NotFoundError(f"There is no prompt version '{reference}'.") from exc
        except ValueError as exc:
            raise InvalidInputError(f"'{reference}' is not a prompt reference.") from exc
        if found is None:
            raise NotFoundError(f"There is no prompt version '{reference}'.")
        return _info(found)

    def promote(self, name: str, version: int, alias: str) -> PromptInfo:
        """Point an alias (e.g. ``production``) at a version."""
        target = self.get(f"{name}/{version}")
        self.client.set_prompt_alias(name, alias, version)
        return self.get(f"{target.name}/{target.version}")

    def _require(self, name: str) -> None:
        if self.client.get_prompt(name) is None:
            raise NotFoundError(f"There is no prompt named '{name}'.")


def _info(version: Any) -> PromptInfo:
    template = version.template
    created = version.creation_timestamp
    return PromptInfo(
        name=version.name,
        version=int(version.version),
        template=template,
        variables=variables_of(template),
        aliases=sorted(version.aliases or []),
        message=version.commit_message,
        created_at=datetime.fromtimestamp(created / 1000, UTC) if created else None,
    )
