"""Lambda entry points. Each module is one function; keep their import graphs apart (see docs/telemetry.md)."""
