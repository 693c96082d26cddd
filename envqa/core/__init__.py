"""The floor every layer stands on: settings and the error family."""

from envqa.core.errors import (
                               BadRequest,
                               BodyTooLarge,
                               ConfigurationError,
                               EnvqaError,
                               Forbidden,
                               IndexMismatch,
                               IndexNotFound,
                               NotFound,
                               PlatformError,
                               QuestionTooLong,
)
from envqa.core.settings import Settings

__all__ = ["BadRequest", "BodyTooLarge", "ConfigurationError", "EnvqaError", "Forbidden", "IndexMismatch",
           "IndexNotFound", "NotFound", "PlatformError", "QuestionTooLong", "Settings"]
