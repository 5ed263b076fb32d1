"""Pure business rules: no AWS, no I/O. Unit-tested without moto."""
