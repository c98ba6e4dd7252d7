"""Hypothesis strategies for the Eden AI image API, read from edenfake's contracts and catalog.

Valid requests the fake accepts, invalid ones labelled with the rule they break, every response and error
body the contract allows, and image files (good and broken) for edits. Needs ``edenfake[hypothesis]``.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401 - the strategies' one dependency, named if it is missing
except ModuleNotFoundError as missing:  # pragma: no cover - exercised in a venv without hypothesis
    raise ModuleNotFoundError(
        "edenfake.strategies needs hypothesis, which a plain install leaves out: pip install 'edenfake[hypothesis]'",
        name=missing.name,
    ) from None


from edenfake.strategies._answers import error_bodies, image_responses
from edenfake.strategies._files import BrokenImage, broken_image_files, image_files, masks
from edenfake.strategies._requests import (
    InvalidRequest,
    edit_requests,
    generation_requests,
    invalid_generation_requests,
    model_ids,
)

__all__ = [
    "BrokenImage",
    "InvalidRequest",
    "broken_image_files",
    "edit_requests",
    "error_bodies",
    "generation_requests",
    "image_files",
    "image_responses",
    "invalid_generation_requests",
    "masks",
    "model_ids",
]
