"""Allow ``python -m ssctrial.cli``."""

import sys

from ssctrial.cli.main import main

sys.exit(main())
