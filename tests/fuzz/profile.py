"""How many cases the generated tests run, chosen by the environment (the Makefile sets it):

- ``FUZZ_PROFILE=sample`` (the default; ``make test``): a small, seeded, derandomized sample, the same
  cases on every run: ``SAMPLE_EXAMPLES`` per operation, seed ``FUZZ_SEED`` (default ``SAMPLE_SEED``).
- ``FUZZ_PROFILE=full`` (``make fuzz``): enough generated cases per operation that each API gets at least
  ``FULL_CASES_PER_API``; random unless ``FUZZ_SEED`` is set (the summary prints the seed a run used).

``FUZZ_MAX_EXAMPLES`` overrides the per-operation count of either profile. In a full run each operation
also runs the cases Schemathesis derives from the schema's bounds (its coverage phase), so an API gets
more cases than ``max_examples`` times its operations; the terminal summary counts them.
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings

PROFILE = os.environ.get("FUZZ_PROFILE", "sample")
if PROFILE not in ("sample", "full"):
    raise ValueError(f"FUZZ_PROFILE must be sample or full, not {PROFILE!r}")
SAMPLE = PROFILE == "sample"
SAMPLE_EXAMPLES = 12
SAMPLE_SEED = 20260117
FULL_CASES_PER_API = 500


def _seed() -> int:
    """Fixed for the sample, random for a full run unless given; one seed for both documents."""
    given = os.environ.get("FUZZ_SEED")
    if given:
        return int(given)
    return SAMPLE_SEED if SAMPLE else random.SystemRandom().getrandbits(64)


SEED = _seed()


def max_examples(operations: int) -> int:
    """Generated cases per operation. In a full run every operation but one gets an equal share of the
    API's budget: one operation (``GET /products``) has no inputs and runs out after a single case."""
    if os.environ.get("FUZZ_MAX_EXAMPLES"):
        return int(os.environ["FUZZ_MAX_EXAMPLES"])
    if SAMPLE:
        return SAMPLE_EXAMPLES
    return math.ceil(FULL_CASES_PER_API / max(1, operations - 1))


def hypothesis_settings(operations: int) -> settings:
    """Every case is an HTTP request through the gateway: no deadline, no example database (the sample is
    derandomized; a full run reports its seed instead), and none of the health checks that assume a fast
    in-process test."""
    return settings(
        max_examples=max_examples(operations),
        deadline=None,
        derandomize=SAMPLE,
        database=None,
        print_blob=False,
        suppress_health_check=list(HealthCheck),
    )


def load(path: Path) -> schemathesis.BaseSchema:
    """The document, with Schemathesis configured for the profile: the seed, and for the sample only the
    schema's examples and generated cases (the coverage phase, which derives hundreds of boundary cases
    per API from the schema, runs in full runs: at the operator plan's 10 requests/s it alone would take
    the sample past its budget)."""
    schema = schemathesis.openapi.from_path(path, config=schemathesis.Config(seed=SEED))
    if SAMPLE:
        schema.config.phases.update(phases=["examples", "fuzzing"])
    return schema
