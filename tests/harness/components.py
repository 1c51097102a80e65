"""Fail, don't skip, when CI lacks a real component a test needs."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, why: str) -> None:
    """Skip locally, fail in CI: a missing component must never pass silently there."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"required component missing in CI: {why}", pytrace=False)
    pytest.skip(why)
