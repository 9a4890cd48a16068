"""JSON from outside, held to the API's rules: bounded nesting and text a database can store.

Python's decoder turns the escape "\\ud800" into a lone surrogate that no database column
accepts, and raises RecursionError on deep nesting; both became 500s on the webhooks. Here
both are a `Rejected` naming the field, as the API's 400s do. No Django import.
"""

from __future__ import annotations

import json
from typing import Any

from inquiries.ingestion.types import Rejected

MAX_DEPTH = 32  # a provider's payload nests a handful of levels


def load(body: bytes | str, *, what: str = "body") -> Any:
    try:
        data = json.loads(body)
    except RecursionError:
        raise Rejected(f"{what}: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise Rejected(f"{what}: not JSON") from None
    check(data, what=what)
    return data


def check(data: Any, *, what: str = "body") -> None:
    """Rejected when `data` nests over MAX_DEPTH levels or holds a string with a lone surrogate."""
    pending: list[tuple[Any, str, int]] = [(data, what, 0)]
    while pending:
        value, path, depth = pending.pop()
        if isinstance(value, str):
            _text(value, path)
            continue
        if not isinstance(value, dict | list):
            continue
        if depth >= MAX_DEPTH:
            raise Rejected(f"{path}: JSON nested over {MAX_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                _text(key, path)
                pending.append((item, key if path == what else f"{path}.{key}", depth + 1))
        else:
            pending.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))


def _text(value: str, path: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise Rejected(
            f"{path}: must be valid Unicode text (lone surrogate code points are not allowed)"
        ) from None
