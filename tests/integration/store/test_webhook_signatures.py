"""The store's webhook replay guard: each signature is claimed once within its window."""

from __future__ import annotations

import threading

from seamline.adapters.store import Database
from seamline.adapters.store.replays import StoreReplayGuard


def test_a_signature_is_claimed_once_until_its_window_closes(db: Database) -> None:
    """Claimed, refused while it lives, forgotten when released or expired."""
    guard = StoreReplayGuard(db)
    assert guard.claim("a" * 64, now=1000, expires_at=1301)
    assert not guard.claim("a" * 64, now=1100, expires_at=1401)
    guard.release("a" * 64)
    assert guard.claim("a" * 64, now=1200, expires_at=1501)
    assert guard.claim("a" * 64, now=1502, expires_at=1803)  # the old row had expired


def test_racing_claims_of_one_signature_let_exactly_one_through(db: Database) -> None:
    """Eight threads claim the same signature at once: one wins."""
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        results.append(StoreReplayGuard(db).claim("b" * 64, now=10, expires_at=400))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False] * 7 + [True]
