"""Benchmark harness for iptcare (``make bench``; not part of CI). See bench/README.md."""
