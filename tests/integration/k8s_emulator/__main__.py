"""`python -m k8s_emulator` (from tests/integration): see cli.py."""

import sys

from .cli import main

sys.exit(main())
