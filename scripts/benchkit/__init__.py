"""The parts of ``scripts/bench.py``, the benchmark suite: shared parts (``client``, ``rawhttp``,
``server``, ``machine``, ``profiling``, ``stats``, ``report``, ``context``) and one module per
figure or group of figures (``cold_start``, ``workload``, ``mutual_rooms``, ``ceiling``)."""
