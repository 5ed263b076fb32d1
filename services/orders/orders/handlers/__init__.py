"""Lambda entry points. Each module imports only what its function uses (cold start is imports)."""
