"""The one response model both API reference functions answer, so they differ only in Powertools."""

from pydantic import BaseModel


class Item(BaseModel):
    item_id: str
    name: str
    stock: int


class Items(BaseModel):
    items: list[Item]
