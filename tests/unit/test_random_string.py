"""`ids.random_string`: the random tails of client secrets."""

from __future__ import annotations

import string

import pytest

from ledger.ids import random_string

ALPHABET = set(string.ascii_letters + string.digits)


@pytest.mark.parametrize("length", [1, 2, 24, 25, 40])
def test_length_and_alphabet(length: int) -> None:
    value = random_string(length)
    assert len(value) == length
    assert set(value) <= ALPHABET


def test_values_are_random_and_use_the_whole_alphabet() -> None:
    values = [random_string(25) for _ in range(400)]
    assert len(set(values)) == len(values)
    assert set("".join(values)) == ALPHABET
