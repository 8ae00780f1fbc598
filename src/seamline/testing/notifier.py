"""``RecordingNotifier``: the in-memory ``Notifier`` the service tests use."""

from __future__ import annotations

from dataclasses import dataclass, field

from seamline.exceptions import AlertNotDelivered

__all__ = ["RecordingNotifier", "Sent"]


@dataclass(frozen=True, slots=True)
class Sent:
    url: str
    title: str
    body: str


@dataclass
class RecordingNotifier:
    """Keeps what was sent; URLs in ``failing`` refuse (``failures`` times each, or forever
    when that is None)."""

    sent: list[Sent] = field(default_factory=list)
    failing: dict[str, int | None] = field(default_factory=dict)

    def describe(self, url: str) -> str:
        return url.split("://", 1)[0] + "://***"

    def send(self, url: str, title: str, body: str) -> None:
        if url in self.failing:
            left = self.failing[url]
            if left is None or left > 0:
                if left is not None:
                    self.failing[url] = left - 1
                raise AlertNotDelivered(f"{self.describe(url)}: refused")
        self.sent.append(Sent(url, title, body))

    def to(self, url: str) -> list[Sent]:
        return [s for s in self.sent if s.url == url]
