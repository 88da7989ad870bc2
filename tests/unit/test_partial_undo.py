"""Amounts undone in parts (`ledger.domain.partial_undo`, `rules.check_partial_amount`): the
amount rule and its messages, the parent's embedded list, and transfer reversals without a
database."""

from __future__ import annotations

import pytest

from ledger.domain import transfer as transfer_domain
from ledger.domain.aggregate import State
from ledger.domain.partial_undo import PARTS_SHOWN_MAX, PartialUndo, updated_part
from ledger.domain.rules import check_partial_amount, check_positive_amount
from tests.support.refusals import refusal

PARTS = PartialUndo(
    parts="parts",
    amount_undone="amount_undone",
    undone="undone",
    url="/v1/parents/{id}/parts",
    exhausted="Parent {id} is all undone.",
    too_large="Part ({wanted}) is more than what is left ({left}).",
)


def too_large(wanted: int, left: int) -> str:
    return f"{wanted} is more than {left}"


# --- the amount rule ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "left", "wanted"), [(None, 70, 70), (1, 70, 1), (70, 70, 70)]
)
def test_the_amount_is_the_request_or_all_that_is_left(
    requested: int | None, left: int, wanted: int
) -> None:
    assert check_partial_amount(requested, left, too_large=too_large, exhausted="none") == wanted


@pytest.mark.parametrize(("requested", "param"), [(None, None), (5, "amount"), (0, "amount")])
def test_nothing_left_is_refused_first_naming_the_amount_only_when_given(
    requested: int | None, param: str | None
) -> None:
    error = refusal(lambda: check_partial_amount(requested, 0, too_large=too_large, exhausted="x"))
    assert (error.code, error.param, error.message, error.http_status) == (None, param, "x", 400)


@pytest.mark.parametrize("requested", [0, -3])
def test_an_amount_below_one_is_refused(requested: int) -> None:
    error = refusal(lambda: check_partial_amount(requested, 70, too_large=too_large))
    assert (error.code, error.param, error.message, error.http_status) == (
        "parameter_invalid_integer",
        "amount",
        "Invalid positive integer",
        400,
    )


def test_without_an_exhausted_message_nothing_left_is_an_invalid_amount() -> None:
    error = refusal(lambda: check_partial_amount(None, 0, too_large=too_large))
    assert (error.code, error.message) == ("parameter_invalid_integer", "Invalid positive integer")
    error = refusal(lambda: check_partial_amount(1, 0, too_large=too_large, too_large_code="big"))
    assert (error.code, error.param, error.message) == ("big", "amount", "1 is more than 0")


@pytest.mark.parametrize("code", [None, "amount_too_large"])
def test_more_than_is_left_is_refused_with_the_callers_message_and_code(code: str | None) -> None:
    error = refusal(lambda: check_partial_amount(71, 70, too_large=too_large, too_large_code=code))
    assert (error.code, error.param, error.message) == (code, "amount", "71 is more than 70")
    assert error.http_status == 400


def test_a_positive_amount_names_its_param() -> None:
    check_positive_amount(1)
    error = refusal(lambda: check_positive_amount(0, "transfer_data[amount]"))
    assert (error.code, error.param) == ("parameter_invalid_integer", "transfer_data[amount]")


# --- the parent and its parts ------------------------------------------------------------------


def parent(amount: int = 100) -> State:
    data = {
        "id": "par_1",
        "amount": amount,
        "currency": "jpy",
        "amount_undone": 0,
        "undone": False,
        "parts": PARTS.list_json("par_1", []),
    }
    return State(data=data, internal={"parts": [], "kept": True})


def part(part_id: str, amount: int) -> dict[str, object]:
    return {"id": part_id, "amount": amount, "metadata": {}}


def test_an_empty_list_names_its_url() -> None:
    assert parent().data["parts"] == {
        "object": "list",
        "data": [],
        "has_more": False,
        "total_count": 0,
        "url": "/v1/parents/par_1/parts",
    }


def test_parts_count_until_the_whole_amount_is_undone() -> None:
    state = PARTS.added(parent(100), part("p_1", 40))
    assert (state.data["amount_undone"], state.data["undone"]) == (40, False)
    assert PARTS.remaining(state.data) == 60
    state = PARTS.added(state, part("p_2", 60))
    assert (state.data["amount_undone"], state.data["undone"]) == (100, True)
    assert PARTS.remaining(state.data) == 0
    assert [item["id"] for item in state.data["parts"]["data"]] == ["p_2", "p_1"]
    assert state.internal["kept"] is True


def test_the_parents_refusals_name_it_and_its_money() -> None:
    state = PARTS.added(parent(100), part("p_1", 40))
    assert PARTS.check_amount(state.data, None) == 60
    error = refusal(lambda: PARTS.check_amount(state.data, 61))
    assert (error.param, error.message) == ("amount", "Part (¥61) is more than what is left (¥60).")
    state = PARTS.added(state, part("p_2", 60))
    error = refusal(lambda: PARTS.check_amount(state.data, None))
    assert (error.param, error.message) == (None, "Parent par_1 is all undone.")


def test_a_part_cannot_undo_more_than_the_amount() -> None:
    with pytest.raises(AssertionError):
        PARTS.added(parent(100), part("p_1", 101))


def test_the_parent_embeds_its_newest_parts_ten_at_most() -> None:
    state = parent(100)
    for index in range(PARTS_SHOWN_MAX + 1):
        state = PARTS.added(state, part(f"p_{index}", 1))
    parts = state.data["parts"]
    assert (parts["total_count"], parts["has_more"], len(parts["data"])) == (11, True, 10)
    assert parts["data"][0]["id"] == "p_10"
    assert len(state.internal["parts"]) == 11


def test_an_updated_part_replaces_its_copy_and_moves_no_money() -> None:
    state = PARTS.added(PARTS.added(parent(100), part("p_1", 40)), part("p_2", 10))
    updated = updated_part(state.internal["parts"][1], {"metadata": {"k": "v"}})
    assert updated == {"id": "p_1", "amount": 40, "metadata": {"k": "v"}}
    after = PARTS.replaced(state, updated)
    assert after.data["parts"]["data"][1] == updated
    assert after.data["parts"]["data"][0] == state.data["parts"]["data"][0]
    assert after.data["amount_undone"] == 50


def test_an_update_that_changes_nothing_is_none() -> None:
    with_metadata = part("p_1", 40) | {"metadata": {"k": "v"}}
    assert updated_part(with_metadata, {}) is None
    assert updated_part(with_metadata, {"metadata": {"k": "v"}}) is None
    assert updated_part(with_metadata, {"metadata": ""}) == part("p_1", 40)


# --- transfer reversals ------------------------------------------------------------------------


def transfer(amount: int = 2000) -> State:
    ctx = transfer_domain.TransferContext(
        platform_account_id="acct_platform",
        destination_account_id="acct_seller",
        transfer_id="tr_1",
        platform_txn_id="txn_tr",
        payment_id="py_1",
        payment_txn_id="txn_py",
        created=1_732_104_000,
        available_on=1_732_104_000,
    )
    appends = transfer_domain.decide_create(
        {"amount": amount, "currency": "usd"}, ctx, source_charge=None
    )
    (created,) = [event for _, stream, events in appends if stream == "tr_1" for event in events]
    return transfer_domain.TRANSFER.evolve(None, created)


def reverse(state: State, amount: int, reversal_id: str) -> State:
    ctx = transfer_domain.ReversalContext(
        platform_account_id="acct_platform",
        reversal_id=reversal_id,
        platform_txn_id=f"txn_{reversal_id}",
        payment_refund_id=f"pyr_{reversal_id}",
        payment_refund_txn_id=f"txn_pyr_{reversal_id}",
        created=1_732_104_060,
    )
    appends = transfer_domain.decide_reverse(state, amount, {}, ctx)
    events = [event for _, stream, events in appends if stream == "tr_1" for event in events]
    for event in events:
        state = transfer_domain.TRANSFER.evolve(state, event)
    return state


def test_a_transfer_reverses_all_that_is_left_by_default() -> None:
    state = transfer(2000)
    assert state.data["reversals"]["url"] == "/v1/transfers/tr_1/reversals"
    state = reverse(state, transfer_domain.check_reversible(state, 500), "trr_1")
    assert transfer_domain.check_reversible(state, None) == 1500
    state = reverse(state, 1500, "trr_2")
    assert (state.data["amount_reversed"], state.data["reversed"]) == (2000, True)
    assert [item["id"] for item in state.data["reversals"]["data"]] == ["trr_2", "trr_1"]


def test_a_transfer_reversal_refusals_keep_stripes_messages() -> None:
    state = reverse(transfer(2000), 500, "trr_1")
    error = refusal(lambda: transfer_domain.check_reversible(state, 1501))
    assert (error.code, error.param, error.message) == (
        None,
        "amount",
        "Transfer reversal amount ($15.01) is greater than the transfer's remaining amount "
        "($15.00).",
    )
    error = refusal(lambda: transfer_domain.check_reversible(state, 0))
    assert (error.code, error.param) == ("parameter_invalid_integer", "amount")
    state = reverse(state, 1500, "trr_2")
    for amount, param in ((None, None), (1, "amount")):
        error = refusal(lambda amount=amount: transfer_domain.check_reversible(state, amount))
        assert (error.code, error.param, error.message) == (
            None,
            param,
            "Transfer tr_1 has already been fully reversed.",
        )
