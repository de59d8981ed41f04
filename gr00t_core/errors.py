"""Every error the project raises on purpose.

``UserError`` marks mistakes a user can fix (bad config, wrong dataset layout, missing asset): entry points
print its message without a traceback and exit with code 2 (CLI), send ``SendTaskFailure`` (Lambda) or write
it to ``/opt/ml/output/failure`` (container). Subclasses also inherit the matching builtin so a generic
``except ValueError`` keeps working.
"""

from __future__ import annotations


class Gr00tSmError(Exception):
    """Base class of every error raised on purpose by this project."""


class UserError(Gr00tSmError):
    """A mistake the user can fix; the message says what to do. Shown without a traceback."""


class ConfigError(UserError, ValueError):
    """One or more parameters are invalid. ``problems`` lists each one as its own line.

    ``warnings`` carries what resolution noticed besides (e.g. a misspelt key that was ignored): the fix for a
    problem is often in a warning, so they travel with the error and close its message.
    """

    def __init__(self, problems: list[str], header: str = "Invalid training configuration", warnings: list[str] | None = None) -> None:
        self.problems = list(problems)
        self.warnings = list(warnings or [])
        lines = "\n".join(f"  - {p}" for p in self.problems)
        notes = "".join(f"\n  note: {w}" for w in self.warnings)
        super().__init__(f"{header} ({len(self.problems)} problem(s)):\n{lines}{notes}")


class DatasetError(UserError, ValueError):
    """The dataset cannot be trained on; ``problems`` lists every blocking problem found."""

    def __init__(self, problems: list[str], header: str = "The dataset is not ready for training") -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{header} ({len(self.problems)} problem(s)):\n{lines}")


class AssetError(UserError, FileNotFoundError):
    """The asset (folder or S3 prefix) is missing or does not hold what the pipeline needs."""


class EventError(UserError, ValueError):
    """The workflow event sent to the Lambda is malformed."""


class SettingsError(UserError, ValueError):
    """Deployment settings are missing or invalid (environment variables or --settings file)."""


class ModelFetchError(UserError, RuntimeError):
    """The base model could not be fetched from any cache tier nor from the Hugging Face Hub."""


class EngineError(UserError, RuntimeError):
    """The training engine is not installed or cannot honour the request."""


class TrainingError(Gr00tSmError, RuntimeError):
    """The trainer process failed; the message carries the tail of its stderr."""


class UploadError(Gr00tSmError, RuntimeError):
    """Outputs could not be copied to S3 after retries; the message lists what was not copied."""
