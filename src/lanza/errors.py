"""One error tree for lanza; each error knows its HTTP status and a machine code.

::

    LanzaError (500, internal_error)
    ├── InvalidInputError (400, invalid_input)
    │   ├── DataError (400, invalid_data)          bad training or batch data
    │   ├── ValidationError (422, validation_error) input does not match a signature
    │   └── GuardrailBlockedError (422, guardrail_blocked) an LLM guardrail refused a text
    ├── NotFoundError (404, not_found)
    ├── ConflictError (409, conflict)
    ├── PayloadTooLargeError (413, payload_too_large)
    ├── UnsupportedMediaTypeError (415, unsupported_media_type)
    ├── RateLimitedError (429, rate_limited)
    │   └── BudgetExceededError (429, budget_exceeded)  an LLM budget is spent
    ├── UnavailableError (503, unavailable)
    │   └── RegistryUnavailableError (503, registry_unavailable)
    └── DeadlineExceededError (504, timeout)

The CLI prints ``str(error)`` and exits non-zero; the HTTP layer maps these to
responses in exactly one place.
"""

from __future__ import annotations

from typing import Any


class LanzaError(Exception):
    """Base of every error lanza raises on purpose; the message is one clear sentence."""

    status_code: int = 500
    code: str = "internal_error"
    upstream: dict[str, Any] | None = None
    """The error object an upstream service answered, for a face that speaks its protocol."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(LanzaError):
    """The caller asked for something that cannot be done as asked."""

    status_code = 400
    code = "invalid_input"


class DataError(InvalidInputError):
    """A data set cannot be used: missing file, wrong format, unusable column."""

    code = "invalid_data"


class ValidationError(InvalidInputError):
    """An input does not match the model's signature."""

    status_code = 422
    code = "validation_error"


class GuardrailBlockedError(InvalidInputError):
    """A guardrail of an LLM deployment refused the request or the answer."""

    status_code = 422
    code = "guardrail_blocked"


class NotFoundError(LanzaError):
    """A model, version, deployment or job does not exist."""

    status_code = 404
    code = "not_found"


class ConflictError(LanzaError):
    """The thing exists already, or the state forbids the change."""

    status_code = 409
    code = "conflict"


class PayloadTooLargeError(LanzaError):
    """A request body is over the size limit."""

    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(LanzaError):
    """A request body has a content type lanza does not read."""

    status_code = 415
    code = "unsupported_media_type"


class RateLimitedError(LanzaError):
    """Too many requests for this key."""

    status_code = 429
    code = "rate_limited"


class BudgetExceededError(RateLimitedError):
    """A blocking LLM budget is spent for this period."""

    code = "budget_exceeded"


class UnavailableError(LanzaError):
    """A dependency or deployment is not ready to serve."""

    status_code = 503
    code = "unavailable"


class RegistryUnavailableError(UnavailableError):
    """The MLflow tracking or registry server cannot be reached."""

    code = "registry_unavailable"


class DeadlineExceededError(LanzaError):
    """An operation ran past its deadline."""

    status_code = 504
    code = "timeout"


class PredictionError(LanzaError):
    """The model raised while predicting."""

    status_code = 500
    code = "prediction_error"


class DeviceUnavailableError(LanzaError):
    """A model was asked to run on a GPU that this machine (or its framework) cannot use."""

    status_code = 422
    code = "device_unavailable"


class ModelLoadError(LanzaError):
    """A model version exists but cannot be loaded."""

    status_code = 503
    code = "model_load_failed"


class UntrustedModelError(LanzaError):
    """A model file needs a type lanza does not trust."""

    status_code = 422
    code = "untrusted_model"


class SpecFileError(InvalidInputError):
    """A ``lanza.yaml`` that cannot be read or does not validate."""

    code = "invalid_spec_file"


class ProviderError(LanzaError):
    """An upstream provider failed; ``status_code`` is what it answered (or 502/504)."""

    code = "provider_error"

    def __init__(
        self, message: str, status_code: int = 502, upstream: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.upstream = upstream

    @property
    def retryable(self) -> bool:
        """429 and 5xx are worth another try; other 4xx are the caller's fault."""
        return self.status_code == 429 or self.status_code >= 500


class UnauthorizedError(LanzaError):
    """No key, or a key that is wrong or revoked."""

    status_code = 401
    code = "unauthorized"


class ForbiddenError(LanzaError):
    """A valid key whose role is too low for the route."""

    status_code = 403
    code = "forbidden"


class SwapRefusedError(LanzaError):
    """A new configuration whose input signature cannot take the serving one's requests."""

    status_code = 409
    code = "incompatible_signature"


class CloudCommandError(LanzaError):
    """A ``gcloud`` or ``kubectl`` command failed."""

    status_code = 502
    code = "cloud_command_failed"


class BatchError(LanzaError):
    """A batch job cannot go on: full disk, bad row under --fail-fast, changed input."""

    status_code = 400
    code = "batch_failed"


class JobCancelledError(LanzaError):
    """The job was cancelled between two chunks; committed parts stay valid."""

    status_code = 409
    code = "cancelled"


class ConversionError(LanzaError):
    """A model cannot be converted to ONNX; the message says why."""

    status_code = 422
    code = "not_convertible"
