"""Settings for the test suite: the one settings module, in test mode."""

import os

os.environ.setdefault("IPTCARE_TEST", "1")
os.environ.setdefault("IPTCARE_REQUIRE_MFA", "1")

from config.settings import *  # noqa: F403

# A fast hasher for the test suite's thousands of fixture users (Argon2 is deliberately slow);
# tests/test_auth.py proves that the application's settings hash with Argon2.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
