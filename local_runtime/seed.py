"""Data the local runtime loads into fresh tables: the product catalogue."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from local_runtime.assembly import LOCAL_LAYER_PATHS, REPO_ROOT, TableSpec

# (stack name prefix, table logical id prefix) -> "module:function" taking the table name and a DynamoDB client.
SEEDS: dict[tuple[str, str], str] = {("Orders-", "OrdersTable"): "orders.logic.catalogue:seed_products"}


def seeder_for(table: TableSpec) -> Callable[[str, Any], object] | None:
    for (stack_prefix, table_prefix), target in SEEDS.items():
        if table.stack.startswith(stack_prefix) and table.logical_id.startswith(table_prefix):
            # The seeder is the service's own code, run here with the service and the layer on the path.
            for path in (*LOCAL_LAYER_PATHS, REPO_ROOT / "services" / stack_prefix.rstrip("-").lower()):
                if str(path) not in sys.path:
                    sys.path.append(str(path))
            module, _, function = target.partition(":")
            return getattr(importlib.import_module(module), function)  # type: ignore[no-any-return]
    return None
