"""Fleets the rollout tests share."""
from __future__ import annotations

AL = "AMAZON_LINUX_2023"

# Two Amazon Linux 2023 nodes in each of dev, test and prod, half their patches missing, no reboots.
THREE_STAGES_OF_AL2023 = {
    "defaults": {"execution_seconds": [60, 120], "reboot_share": 0.0},
    "groups": [
        {"name": f"{stage}-al", "count": 2, "platform": AL, "tags": {"Patch Group": stage}, "missing_share": 0.5}
        for stage in ("dev", "test", "prod")
    ],
}
