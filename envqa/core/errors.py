"""One error family: each kind carries an HTTP status and a hint for the person who hit it."""

from __future__ import annotations


class EnvqaError(Exception):
    """Base class; `status` is the HTTP status the API answers with."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigurationError(EnvqaError):
    status = 500
    code = "configuration_error"


class IndexNotFound(EnvqaError):
    status = 503
    code = "index_not_found"


class IndexMismatch(EnvqaError):
    status = 503
    code = "index_mismatch"


class NotFound(EnvqaError):
    status = 404
    code = "not_found"


class BadRequest(EnvqaError):
    status = 400
    code = "bad_request"


class QuestionTooLong(EnvqaError):
    status = 413
    code = "question_too_long"

    @classmethod
    def check(cls, question: str, limit: int) -> None:
        """Raise unless `question` is at most `limit` characters (the one check every channel makes)."""
        if len(question) > limit:
            raise cls(f"question has {len(question)} characters; the limit is {limit}", hint="ask a shorter question")


class BodyTooLarge(EnvqaError):
    status = 413
    code = "body_too_large"


class Forbidden(EnvqaError):
    status = 403
    code = "forbidden"


class PlatformError(EnvqaError):
    """The WeChat or WeCom API refused a call or could not be reached."""

    status = 502
    code = "platform_error"


class Unauthorized(EnvqaError):
    status = 401
    code = "unauthorized"


class UnsupportedUpload(EnvqaError):
    """Nothing in an upload could be kept: every file unsupported, empty or too large. The error
    body lists them: `"rejected": [{"source", "error"}]`."""

    status = 415
    code = "unsupported_upload"

    def __init__(self, message: str, hint: str = "", rejected: list[dict[str, str]] | None = None) -> None:
        super().__init__(message, hint)
        self.rejected = rejected or []
