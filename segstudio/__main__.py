"""``python -m segstudio``: the same as the ``segstudio`` command."""

import sys

from segstudio.cli import main

sys.exit(main())
