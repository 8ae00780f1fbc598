"""Money: ``Decimal`` + ISO 4217 currency, quantised to the currency's minor unit. Never float."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache

from babel.numbers import get_currency_precision

from seamline.exceptions import InvalidRecord

__all__ = ["Money", "allocate", "minor_digits", "parse_amount", "quantum"]


@lru_cache(maxsize=256)
def minor_digits(currency: str) -> int:
    """Decimal places of the currency's minor unit (ISO 4217: JPY 0, SEK 2, KWD 3)."""
    code = currency.upper()
    if len(code) != 3 or not code.isalpha():
        raise InvalidRecord(f"{currency!r} is not an ISO 4217 currency code")
    return int(get_currency_precision(code))


def quantum(currency: str) -> Decimal:
    """The smallest amount of the currency, as a Decimal exponent (``Decimal('0.01')``)."""
    return Decimal(1).scaleb(-minor_digits(currency))


def parse_amount(value: object, currency: str, *, field: str = "amount") -> Decimal:
    """Read an amount exactly and quantise it to the currency's minor unit.

    Accepts ``Decimal``, ``int`` and ``str`` (JSON numbers must be parsed with
    ``parse_float=Decimal``). A float is refused; so is a value that quantising would change.
    """
    if isinstance(value, (bool, float)):
        raise InvalidRecord(f"{field}: {value!r} is a {type(value).__name__}, not an exact amount")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidRecord(f"{field}: {value!r} is not a number") from exc
    if not amount.is_finite():
        raise InvalidRecord(f"{field}: {value!r} is not a finite number")
    q = quantum(currency)
    quantised = amount.quantize(q, rounding=ROUND_HALF_UP)
    if quantised != amount:
        raise InvalidRecord(
            f"{field}: {value!r} has more decimals than {currency.upper()} allows "
            f"({minor_digits(currency)})"
        )
    return quantised


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency, always quantised to that currency's minor unit."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        cur = self.currency.upper()
        object.__setattr__(self, "currency", cur)
        object.__setattr__(self, "amount", parse_amount(self.amount, cur))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    @classmethod
    def of(cls, value: object, currency: str) -> Money:
        """Build from a string, int or Decimal (floats are refused)."""
        return cls(parse_amount(value, currency), currency)

    def _check(self, other: Money) -> None:
        if other.currency != self.currency:
            raise InvalidRecord(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def times(self, quantity: int) -> Money:
        """This amount multiplied by a whole quantity."""
        return Money(self.amount * quantity, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def wire(self) -> str:
        """The amount as a string with exactly the currency's minor-unit decimals."""
        return format(self.amount, "f")

    @property
    def minor(self) -> int:
        """The amount in minor units (öre, cents, yen)."""
        return int(self.amount.scaleb(minor_digits(self.currency)))

    @classmethod
    def from_minor(cls, minor: int, currency: str) -> Money:
        return cls(Decimal(minor).scaleb(-minor_digits(currency)), currency)


def allocate(total: Money, weights: Sequence[Decimal | int]) -> list[Money]:
    """Split ``total`` across ``weights`` so the parts sum exactly to it (largest remainder).

    Works in minor units. Each part first gets the floor of its exact share; the minor units left
    over go one each to the parts with the largest remainders, ties broken by position (earlier
    first), so the result is deterministic. Weights of zero get nothing unless all are zero, in
    which case the split is even. Negative totals are split as the negation of the positive split.
    """
    n = len(weights)
    if n == 0:
        if total.amount != 0:
            raise InvalidRecord(f"cannot allocate {total} across no parts")
        return []
    ws = [Decimal(w) for w in weights]
    if any(w < 0 for w in ws):
        raise InvalidRecord("allocation weights must not be negative")
    if sum(ws) == 0:
        ws = [Decimal(1)] * n
    sign = -1 if total.minor < 0 else 1
    units = abs(total.minor)
    weight_sum = sum(ws)
    floors: list[int] = []
    remainders: list[tuple[Decimal, int]] = []
    for i, w in enumerate(ws):
        exact = Decimal(units) * w / weight_sum
        floor = int(exact)  # exact >= 0, so int() floors
        floors.append(floor)
        remainders.append((exact - floor, i))
    left = units - sum(floors)
    for _, i in sorted(remainders, key=lambda r: (-r[0], r[1]))[:left]:
        floors[i] += 1
    return [Money.from_minor(sign * f, total.currency) for f in floors]
