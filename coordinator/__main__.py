"""``python -m coordinator`` is the ``dsx`` command, for hosts without the console script."""

import sys

from coordinator.cli.main import main

sys.exit(main())
