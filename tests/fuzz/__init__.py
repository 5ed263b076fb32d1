"""Generated requests (Schemathesis) from docs/api/*.json against the real local runtime."""
