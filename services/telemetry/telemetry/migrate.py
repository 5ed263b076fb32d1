"""The one-off migration of readings buckets to format 1 (decision 31), run once after the deploy with
the functions' environment variables and an operator's credentials (it scans and deletes, which the
functions may not):

    TELEMETRY_TABLE_NAME=<table> RETENTION_DAYS=<days> python -m telemetry.migrate
"""

from __future__ import annotations

import boto3

from commons.dynamodb import CLIENT_CONFIG
from telemetry.repository.readings import ReadingsRepository
from telemetry.settings import load_settings


def main() -> None:
    settings = load_settings()
    readings = ReadingsRepository(settings.table_name, boto3.client("dynamodb", config=CLIENT_CONFIG))
    items, count = readings.migrate_old_buckets(settings.retention_days)
    print(f"converted {items} old-layout buckets holding {count} readings")


if __name__ == "__main__":
    main()
