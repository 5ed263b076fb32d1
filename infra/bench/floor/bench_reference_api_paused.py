"""The resolver's reference initialized by our handlers' own init (commons.cold_start): Python's cyclic
garbage collector paused until the end of init, then everything frozen; Powertools' re-export packages
loading each name on first use; and the client made by commons.dynamodb with botocore alone, without boto3.
What it still costs above the floor is the imports of Powertools' resolver and pydantic themselves: the
least an API function built on them can cost here, before its own modules and its first DynamoDB call."""

from __future__ import annotations

from commons.cold_start import begin_init, init_done

begin_init()

from bench_reference_resolver import handler  # noqa: E402

init_done()

__all__ = ["handler"]
