"""`python -m patchflow`: see patchflow.cli.main."""
import sys

from patchflow.cli.main import main

sys.exit(main())
