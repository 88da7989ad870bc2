"""Refusals of the pure domain, for the unit tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ledger.errors import InvalidRequestError


def refusal(call: Callable[[], object]) -> InvalidRequestError:
    """The invalid_request_error `call` raises."""
    with pytest.raises(InvalidRequestError) as caught:
        call()
    return caught.value
