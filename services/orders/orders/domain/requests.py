"""Request bodies and the validation rules on them (the shared resolver turns failures into 422s)."""

import hashlib
import json
from collections import Counter
from typing import Annotated

from pydantic import Field, field_validator

from commons.models import RequestModel
from orders.domain.model import MAX_LINES, MAX_QUANTITY

# Identifiers end up in DynamoDB keys: keep them short and free of the key separator '#'.
Identifier = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class LineRequest(RequestModel):
    product_id: Identifier
    quantity: int = Field(ge=1, le=MAX_QUANTITY)


class CreateOrderRequest(RequestModel):
    items: list[LineRequest] = Field(min_length=1, max_length=MAX_LINES)
    payment_token: str = Field(min_length=1, max_length=255)

    @field_validator("items")
    @classmethod
    def _each_product_once(cls, items: list[LineRequest]) -> list[LineRequest]:
        counts = Counter(line.product_id for line in items)
        repeated = sorted(product for product, count in counts.items() if count > 1)
        if repeated:
            raise ValueError(f"each product may appear once; repeated: {', '.join(repeated)}")
        return items

    def fingerprint(self) -> str:
        """A hash of the request's meaning: key order and whitespace of the JSON body do not matter."""
        canonical = json.dumps(
            self.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":")
        )
        return hashlib.sha256(canonical.encode()).hexdigest()
