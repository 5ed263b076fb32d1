"""``make demo`` (``python -m clients.demo``): the end-to-end scenario, by job.

* ``process``: the local runtime as a child process;
* ``harness``: what both scenarios are built from (``Check``, ``parallel``, ``converge``, the retry policy);
* ``orders``, ``telemetry``: each scenario, what it read back, and the invariants checked on that;
* ``report``: the printed report;
* ``__main__``: the entry point.
"""
