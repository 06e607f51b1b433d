"""The parts of ``scripts/bench.py``, the benchmark suite: shared parts (``client``, ``rawhttp``,
``server``, ``machine``, ``profiling``, ``stats``, ``report``, ``context``) and one module per
figure or group of figures (``cold_start``, ``workload``, ``mutual_rooms``, ``ceiling``); and
what the other ``bench_*.py`` scripts share (``in_process``; ``inspector_world``, which
``tests/test_inspector_scale.py`` builds too)."""
