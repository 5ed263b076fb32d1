"""The end of a function's init phase, the part of its cold start that is ours.

Everything a handler module builds at init (modules, classes, pydantic's validators, settings, the SDK
client) lives as long as the execution environment. Python's cyclic garbage collector, left on, runs every
few hundred allocations meanwhile and traces an ever larger heap, freeing almost nothing: it was a sixth to a
third of what the API functions added to the floor (decision 19). So each handler module turns it off as its
first statement, before any import::

    import gc

    gc.disable()  # until init_done(): commons.cold_start

and calls ``init_done()`` as its last.
"""

from __future__ import annotations

import gc

from commons.dynamodb import client


def init_done() -> None:
    """Create the DynamoDB client now, at init as Lambda advises, rather than in the first invoke; then move
    everything init built into the collector's permanent generation (never traced again, so warm invokes'
    collections stay short) and turn the collector back on.

    The price is memory: cyclic garbage made during init is never freed (a few hundred kB at most)."""
    client()
    gc.freeze()
    gc.enable()
