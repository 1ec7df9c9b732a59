"""`python -m patchflow`: see patchflow.cli."""
import sys

from patchflow.cli import main

sys.exit(main())
