"""Sign-in for the dashboard: password hashes, signed session cookies, CSRF tokens, and the
sign-in rate limit.

- **Passwords** are hashed with the standard library's ``hashlib.scrypt`` (memory-hard, in
  every CPython build with OpenSSL, so no native dependency to build): ``scrypt$N$r$p$salt$hash``
  with N=2**15, r=8, p=1 (OWASP's floor for scrypt), a 16-byte random salt and a 32-byte key;
  ``seamline web hash-password`` makes one for ``[[web.users]]``. Checked in constant time.
- **Sessions** are a cookie signed with ``itsdangerous`` (HMAC; the secret is
  ``SEAMLINE_WEB_SESSION_SECRET``), HttpOnly, SameSite=Lax, Secure over https, holding the
  name, a CSRF token and a fingerprint of the password hash (changing a password ends the
  person's sessions). The role is read from the configuration on every request.
- **CSRF**: every state-changing request carries the session's token (a hidden form field or
  the ``X-CSRF-Token`` header), compared in constant time; a request without it is refused 403.
- **Rate limit**: after ``[web].login_max_failures`` failed sign-ins for one name or from one
  address within ``login_lockout_s`` seconds, sign-in is refused for that long (per process).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

from seamline.config import WebSettings, WebUser

__all__ = [
    "SESSION_COOKIE",
    "LoginLimiter",
    "Sessions",
    "User",
    "hash_password",
    "verify_password",
]

SESSION_COOKIE = "seamline_session"
_N, _R, _P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, *, n: int = _N, r: int = _R, p: int = _P) -> str:
    """``scrypt$N$r$p$salt$key`` for ``password``."""
    if not password:
        raise ValueError("an empty password cannot be hashed")
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=_MAXMEM,
                         dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches ``encoded`` (False for a malformed hash)."""
    try:
        scheme, n, r, p, salt, key = encoded.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n),
                             r=int(r), p=int(p), maxmem=_MAXMEM, dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


#: Compared against when the name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY = hash_password(secrets.token_urlsafe(16))


@dataclass(frozen=True, slots=True)
class User:
    """The person making the request (``anonymous`` viewer when no users are configured)."""

    name: str
    role: str
    csrf: str = ""

    @property
    def can_act(self) -> bool:
        return self.role in ("admin", "operator")


def _fingerprint(u: WebUser) -> str:
    return hashlib.sha256(u.password_hash.encode()).hexdigest()[:16]


class Sessions:
    """Signed session cookies for the configured users."""

    def __init__(self, web: WebSettings) -> None:
        secret = (web.session_secret.get_secret_value() if web.session_secret is not None
                  else secrets.token_urlsafe(32))
        self.web = web
        self.max_age_s = web.session_max_age_min * 60
        self._signer = URLSafeTimedSerializer(secret, salt="seamline.web.session")
        self._users = {u.name: u for u in web.users}

    @property
    def open(self) -> bool:
        """No users configured: everyone reads, nobody acts."""
        return not self._users

    def authenticate(self, name: str, password: str) -> WebUser | None:
        user = self._users.get(name)
        ok = verify_password(password, user.password_hash if user is not None else _DUMMY)
        return user if ok and user is not None else None

    def issue(self, name: str | None, *, csrf: str | None = None,
              flash: str | None = None) -> tuple[str, str]:
        """A signed cookie value for ``name`` (None: signed out, a token for the sign-in
        form only) and its CSRF token."""
        token = csrf or secrets.token_urlsafe(24)
        data: dict[str, Any] = {"c": token}
        if name is not None:
            data["u"] = name
            data["p"] = _fingerprint(self._users[name])
        if flash:
            data["f"] = flash[:500]
        return self._signer.dumps(data), token

    def read(self, cookie: str | None) -> dict[str, Any]:
        """The cookie's data, or {} when absent, forged or expired."""
        if not cookie:
            return {}
        try:
            data = self._signer.loads(cookie, max_age=self.max_age_s)
        except BadSignature:
            return {}
        return data if isinstance(data, dict) else {}

    def user(self, data: dict[str, Any]) -> User | None:
        """The signed-in user the cookie data names (still configured, same password)."""
        name = data.get("u")
        u = self._users.get(name) if isinstance(name, str) else None
        if u is None or data.get("p") != _fingerprint(u):
            return None
        return User(u.name, u.role, str(data.get("c") or ""))


def csrf_ok(expected: str, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(expected, str(given))


class LoginLimiter:
    """Failed sign-ins per key (a name, an address) within a window; locked beyond the limit."""

    def __init__(self, max_failures: int, lockout_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures = max_failures
        self.lockout_s = lockout_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.setdefault(key, deque())
        while q and now - q[0] > self.lockout_s:
            q.popleft()
        return q

    def locked(self, *keys: str) -> float:
        """Seconds until sign-in is allowed again for any of ``keys`` (0: allowed)."""
        now = self.clock()
        with self._lock:
            wait = 0.0
            for key in keys:
                q = self._recent(key, now)
                if len(q) >= self.max_failures:
                    wait = max(wait, self.lockout_s - (now - q[-1]))
            return max(0.0, wait)

    def failed(self, *keys: str) -> None:
        now = self.clock()
        with self._lock:
            if len(self._failures) > 100_000:  # bounded memory under a spray of names
                self._failures.clear()
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
