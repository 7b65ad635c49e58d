"""Tests of the instrument definitions and the scoring engine (no database)."""
