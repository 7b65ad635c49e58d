#!/usr/bin/env python
"""Django's command-line utility; `iptcare` (the installed console script) is the same thing."""

from iptcare.cli import main

if __name__ == "__main__":
    main()
