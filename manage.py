#!/usr/bin/env python
"""Django's command-line utility for developers of this checkout.

Unlike the installed ``iptcare`` console script (which takes its mode from the environment and
needs SECRET_KEY outside demo and test mode), ``manage.py`` runs in demo mode by default, so that
``python manage.py makemigrations`` and friends work in a fresh checkout. Set IPTCARE_PRODUCTION
(or IPTCARE_TEST) to override.
"""

import os

from iptcare.cli import main

if __name__ == "__main__":
    if not any(os.environ.get(k) for k in ("IPTCARE_PRODUCTION", "IPTCARE_TEST", "IPTCARE_DEMO")):
        os.environ["IPTCARE_DEMO"] = "1"
    main()
