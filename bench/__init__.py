"""Benchmarks and the cost model (``make bench``): cold starts, warm latency, capacity units per unit
of work, throughput, dollars per million orders and readings, package sizes. See docs/performance.md.
"""
