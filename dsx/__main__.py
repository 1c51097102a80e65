"""``python -m dsx`` is the ``dsx`` command, for hosts without the console script."""

import sys

from dsx.cli.main import main

sys.exit(main())
