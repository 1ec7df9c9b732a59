"""`python -m patchflow <command>` (patchflow.cli.main) and the modules of its commands."""
