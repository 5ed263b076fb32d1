"""The demo catalogue and an idempotent seeder: the local runtime seeds its table at start; a deployed
stack is seeded with ``make seed STAGE=<stage>`` (``python -m orders.logic.catalogue --stack Orders-<stage>``)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

import boto3

from commons.dynamodb import CLIENT_CONFIG
from orders.domain.model import Money, Product
from orders.repository.products import ProductsRepository

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def _product(product_id: str, name: str, cents: int, stock: int) -> Product:
    return Product(product_id=product_id, name=name, price=Money(amount=cents), stock=stock)


CATALOGUE: tuple[Product, ...] = (
    _product("espresso-beans-1kg", "Espresso beans, 1 kg", 2490, 120),
    _product("filter-beans-500g", "Filter beans, 500 g", 1450, 200),
    _product("decaf-beans-500g", "Decaf beans, 500 g", 1390, 80),
    _product("pour-over-dripper", "Ceramic pour-over dripper", 2900, 40),
    _product("paper-filters-100", "Paper filters, 100 pack", 650, 500),
    _product("burr-grinder", "Conical burr grinder", 12900, 15),
    _product("gooseneck-kettle", "Gooseneck kettle, 1 l", 5900, 25),
    _product("milk-jug-350ml", "Stainless milk jug, 350 ml", 1800, 60),
    _product("travel-mug", "Insulated travel mug", 2200, 75),
    _product("scale-0-1g", "Coffee scale, 0.1 g", 3900, 30),
    _product("cleaning-tablets", "Espresso machine cleaning tablets", 990, 150),
    _product("gift-card-50", "Gift card, $50", 5000, 1000),
)


def seed_products(table_name: str, dynamodb: DynamoDBClient) -> int:
    """Create every catalogue product that does not exist yet; existing products (and their
    stock) are left as they are, so seeding twice changes nothing. Returns how many were created."""
    repository = ProductsRepository(table_name, dynamodb)
    return sum(repository.put_product_if_absent(product) for product in CATALOGUE)


def stack_output(stack_name: str, key: str) -> str:
    """One output of a deployed CloudFormation stack (credentials and region from the environment)."""
    cloudformation = boto3.client("cloudformation")
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    outputs = {str(o["OutputKey"]): str(o["OutputValue"]) for o in stacks[0].get("Outputs", [])}
    if key not in outputs:
        raise SystemExit(f"stack {stack_name} has no output {key}; is it an orders stack?")
    return outputs[key]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m orders.logic.catalogue",
        description="Load the catalogue into an orders table. Idempotent: existing products keep their stock.",
    )
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--table", help="the orders table's name")
    target.add_argument("--stack", help="a deployed orders stack, e.g. Orders-prod (its TableName output)")
    args = parser.parse_args(argv)
    table_name = args.table or stack_output(args.stack, "TableName")
    created = seed_products(table_name, boto3.client("dynamodb", config=CLIENT_CONFIG))
    print(f"{created} of {len(CATALOGUE)} products created in {table_name}; the others existed already")


if __name__ == "__main__":
    main()
