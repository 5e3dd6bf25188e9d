"""provcausal's benchmarks: ``python -m benchmarks [--quick] [--json]``.

Every figure is reported next to a baseline measured in the same run on the same machine, as
a ratio, together with the absolute numbers. Timings never fail anything: CI may run
``--quick`` (under two minutes) to keep the benchmark code working.
"""
