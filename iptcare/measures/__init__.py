"""Measurement-based care: instrument definitions are data (``instruments/*.toml``), scored by a
generic engine (``engine.py``) that knows no instrument by name."""
