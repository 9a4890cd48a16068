"""Where the outside test data lives: ../shared/data beside the checkout, or $CSTRACKER_SHARED_DATA."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(
    os.environ.get("CSTRACKER_SHARED_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data"
)


def shared_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CSTRACKER_REQUIRE_SERVICES"):
            pytest.fail(f"test data missing: {path}")
        pytest.skip(f"test data missing: {path} (set CSTRACKER_SHARED_DATA)")
    return path
