"""Pure telemetry logic: no AWS types, no I/O, nothing slower to import than the standard library."""
