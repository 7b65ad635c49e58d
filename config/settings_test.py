"""Settings for the test suite: the one settings module, in test mode."""

import os

os.environ.setdefault("IPTCARE_TEST", "1")
os.environ.setdefault("IPTCARE_REQUIRE_MFA", "1")

from config.settings import *  # noqa: F403
