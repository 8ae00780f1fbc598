"""submit_sales_order over the in-memory BlueCherry: exactly once, whatever the faults."""

from __future__ import annotations

import dataclasses

import pytest
from bluecherry_fixtures import make_order, new_fake, with_line

from seamline.domain.money import Money
from seamline.exceptions import AmbiguousWrite, Conflict, RateLimited, Rejected
from seamline.services.submit import submit_sales_order


def test_a_fresh_order_is_created_once() -> None:
    """A first attempt creates the order and reports how."""
    erp = new_fake()
    order = make_order()
    out = submit_sales_order(erp, order, may_have_reached=False)
    assert out.how == "created"
    assert out.order_no.startswith("SO-")
    assert erp.count_by_external_reference(order.external_reference) == 1


def test_commit_then_timeout_is_resolved_by_looking_the_order_up() -> None:
    """An ambiguous create that was in fact applied counts as success, without a second post."""
    erp = new_fake()
    order = make_order()
    erp.fail_next(1, "commit-then-timeout", op="create_sales_order")
    out = submit_sales_order(erp, order, may_have_reached=False)
    assert out.how == "found-after-ambiguous"
    assert erp.count_by_external_reference(order.external_reference) == 1


def test_a_timeout_that_did_not_commit_is_re_raised_as_retriable() -> None:
    """An ambiguous create that found nothing is raised for the queue to retry later."""
    erp = new_fake()
    order = make_order()
    erp.fail_next(1, "timeout", op="create_sales_order")
    with pytest.raises(AmbiguousWrite):
        submit_sales_order(erp, order, may_have_reached=False)
    assert erp.count_by_external_reference(order.external_reference) == 0
    out = submit_sales_order(erp, order, may_have_reached=True)
    assert out.how == "created"


def test_a_retry_that_may_have_reached_looks_up_before_posting() -> None:
    """With may_have_reached, an order already there is found and never posted again."""
    erp = new_fake()
    order = make_order()
    submit_sales_order(erp, order, may_have_reached=False)
    out = submit_sales_order(erp, order, may_have_reached=True)
    assert out.how == "found-after-ambiguous"
    assert erp.calls.count("create_sales_order") == 1


def test_a_409_with_the_same_order_is_a_matching_duplicate() -> None:
    """A repeat post without the look-up meets 409 and compares: identical means success."""
    erp = new_fake()
    order = make_order()
    first = submit_sales_order(erp, order, may_have_reached=False)
    out = submit_sales_order(erp, order, may_have_reached=False)
    assert out.how == "duplicate-matching"
    assert out.order_no == first.order_no


def test_a_409_with_a_different_order_is_a_conflict_listing_the_differences() -> None:
    """The same customer PO posted with other lines is POST_CONFLICT, never a silent success."""
    erp = new_fake()
    order = make_order()
    submit_sales_order(erp, order, may_have_reached=False)
    changed = with_line(order, 0, quantity=order.lines[0].quantity + 1)
    with pytest.raises(Conflict) as info:
        submit_sales_order(erp, changed, may_have_reached=False)
    assert info.value.exception_type == "POST_CONFLICT"
    assert any("line 1" in d for d in info.value.details["differences"])


def test_an_order_edited_in_bluecherry_is_a_conflict_on_look_up() -> None:
    """A found order that a person changed since is reported, not counted as posted."""
    erp = new_fake()
    order = make_order()
    out = submit_sales_order(erp, order, may_have_reached=False)
    erp.edit_order(out.order_no, warehouse="W02")
    with pytest.raises(Conflict) as info:
        submit_sales_order(erp, order, may_have_reached=True)
    assert any("warehouse" in d for d in info.value.details["differences"])


def test_a_rejection_carries_bluecherry_codes_and_an_owner() -> None:
    """422 codes decide the owner: a totals problem is finance's, an unknown code ecommerce's."""
    erp = new_fake()
    order = make_order()
    bad_total = dataclasses.replace(order, totals=dataclasses.replace(
        order.totals, total=order.totals.total + Money.of("1", order.currency)))
    with pytest.raises(Rejected) as info:
        submit_sales_order(erp, bad_total, may_have_reached=False)
    assert [c["code"] for c in info.value.codes] == ["TOTALS_MISMATCH"]
    assert info.value.owner_for() == "finance"
    with pytest.raises(Rejected) as info2:
        submit_sales_order(erp, make_order(ship_via="NOPE"), may_have_reached=False)
    assert info2.value.owner_for() == "ecommerce"


def test_a_rate_limited_create_is_raised_untouched() -> None:
    """429 on a create is retriable and created nothing."""
    erp = new_fake()
    erp.fail_next(1, "rate-limit", op="create_sales_order")
    order = make_order()
    with pytest.raises(RateLimited):
        submit_sales_order(erp, order, may_have_reached=False)
    assert erp.orders == {}


def test_commit_then_timeout_on_every_create_still_posts_each_order_once() -> None:
    """Under commit-then-timeout on every create, N orders yield exactly N BlueCherry orders."""
    erp = new_fake()
    erp.fail_next(10_000, "commit-then-timeout", op="create_sales_order")
    orders = [make_order() for _ in range(200)]
    for order in orders:
        reached = False
        for _ in range(5):
            try:
                submit_sales_order(erp, order, may_have_reached=reached)
                break
            except AmbiguousWrite:
                reached = True
    refs = [o.external_reference for o in erp.orders.values()]
    assert len(refs) == 200
    assert sorted(refs) == sorted(o.external_reference for o in orders)
