"""The payment provider port and the built-in simulated card processor.

The payment processor talks to a provider only through ``PaymentProvider``; a real
gateway (Stripe, Adyen, ...) is another adapter with the same two calls. Both calls take
an idempotency key: a provider must return the original outcome when a key is reused,
which is what makes a retried charge safe. The payments table's conditional write is the
guard that stops us asking twice in the first place.
"""

from __future__ import annotations

import hashlib
import threading
from typing import Literal, NamedTuple, Protocol

APPROVED_TOKEN = "tok_visa"  # noqa: S105 - a simulated test card, not a secret
DECLINED_TOKEN = "tok_chargeDeclined"  # noqa: S105 - a simulated test card, not a secret


class ChargeResult(NamedTuple):
    status: Literal["CAPTURED", "DECLINED"]
    charge_id: str | None = None
    decline_reason: str | None = None


class RefundResult(NamedTuple):
    refund_id: str


class PaymentProvider(Protocol):
    def charge(self, *, idempotency_key: str, amount: int, currency: str, token: str) -> ChargeResult:
        """Charge ``amount`` minor units to the card behind ``token``; same key, same outcome."""
        ...

    def refund(self, *, idempotency_key: str, charge_id: str, amount: int, currency: str) -> RefundResult:
        """Refund a captured charge in full; same key, same refund."""
        ...


def _reference(prefix: str, key: str) -> str:
    # Deterministic per key, so even a processor that lost its ledger answers with the same id.
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:24]}"


class SimulatedCardProcessor:
    """A card processor with test tokens: ``tok_visa`` is approved, ``tok_chargeDeclined`` is
    declined (``card_declined``), anything else is declined as ``invalid_token``.

    Idempotent per key through an in-memory ledger (per process). ``charges`` and ``refunds``
    count the operations that actually moved money, so tests can assert "exactly once".
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._charges: dict[str, ChargeResult] = {}
        self._refunds: dict[str, RefundResult] = {}
        self.charges: list[str] = []  # idempotency keys of captured charges, in order
        self.refunds: list[str] = []  # charge ids refunded, in order

    def charge(self, *, idempotency_key: str, amount: int, currency: str, token: str) -> ChargeResult:
        with self._lock:
            if idempotency_key in self._charges:
                return self._charges[idempotency_key]
            if token == APPROVED_TOKEN:
                result = ChargeResult("CAPTURED", charge_id=_reference("ch", idempotency_key))
                self.charges.append(idempotency_key)
            elif token == DECLINED_TOKEN:
                result = ChargeResult("DECLINED", decline_reason="card_declined")
            else:
                result = ChargeResult("DECLINED", decline_reason="invalid_token")
            self._charges[idempotency_key] = result
            return result

    def refund(self, *, idempotency_key: str, charge_id: str, amount: int, currency: str) -> RefundResult:
        with self._lock:
            if idempotency_key not in self._refunds:
                self._refunds[idempotency_key] = RefundResult(refund_id=_reference("re", idempotency_key))
                self.refunds.append(charge_id)
            return self._refunds[idempotency_key]
