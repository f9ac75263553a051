"""The whole-service benchmark of issue 7 (``make bench``): see ``bench/perf/run.py``."""
