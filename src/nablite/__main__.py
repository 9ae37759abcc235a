"""``python -m nablite``: the ``nablite`` command."""
import sys

from .cli import main

sys.exit(main())
