"""The apprise notifier keeps a route's secrets out of what it stores, raises and logs."""

from __future__ import annotations

import pytest

from seamline.adapters.notify import AppriseNotifier, redact_url
from seamline.exceptions import AlertNotDelivered
from seamline.logging import redact_text

TOKEN = "Xq9Zt0kenValue77"


@pytest.mark.parametrize(("url", "hidden"), [
    (f"mailto://alerts:{TOKEN}@smtp.example.com?to=finance@example.com", TOKEN),
    (f"json://hooks.example.com/seamline/{TOKEN}", TOKEN),
    (f"slack://T1JJ3T3L2/A1BRTD4JD/{TOKEN}/#ecom", TOKEN),
    (f"madeup://user:{TOKEN}@host/path", TOKEN),
])
def test_a_route_is_shown_with_its_secrets_masked(url: str, hidden: str) -> None:
    shown = redact_url(url)
    assert hidden not in shown
    assert shown.split("://", 1)[0] == url.split("://", 1)[0]


def test_a_refused_route_raises_with_the_url_masked_and_its_secrets_leave_the_logs() -> None:
    url = f"json://127.0.0.1:1/hook/{TOKEN}"  # nothing listens on port 1
    notifier = AppriseNotifier(routes=[url])
    with pytest.raises(AlertNotDelivered) as caught:
        notifier.send(url, "title", "body")
    assert TOKEN not in caught.value.message
    assert caught.value.message.startswith("json://127.0.0.1:1/hook/")
    assert redact_text(f"posting to {url} failed ({TOKEN})").count(TOKEN) == 0


def test_a_url_apprise_cannot_use_is_refused_for_good() -> None:
    with pytest.raises(AlertNotDelivered) as caught:
        AppriseNotifier().send(f"madeup://{TOKEN}@host", "t", "b")
    assert caught.value.details.get("permanent") is True
    assert TOKEN not in caught.value.message
