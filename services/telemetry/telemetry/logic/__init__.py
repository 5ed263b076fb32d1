"""Use cases: what each function does, applying the domain's rules through the repository."""
