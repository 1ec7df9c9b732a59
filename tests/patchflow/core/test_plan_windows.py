"""A stage's window in a plan: written out, kept in SSM (`window: {ssm_window: ...}`), or none; and how defaults merge."""
from __future__ import annotations

import pytest

from patchflow.core.aws_schedules import parse_schedule
from patchflow.core.errors import InvalidInput
from patchflow.core.maintenance_windows import MaintenanceWindow, SsmWindowRef
from patchflow.core.plan import parse_plan

SOURCE = "include/rollouts/imported.yaml"
SUNDAY = {"schedule": "cron(0 2 ? * SUN *)", "duration": 4, "cutoff": 1}
SUNDAY_WINDOW = MaintenanceWindow(parse_schedule("cron(0 2 ? * SUN *)"), 4, 1)


def plan(defaults_window=None, dev_window=None, prod_window=None) -> dict:
    document = {
        "name": "imported", "owner": "release-engineering",
        "stages": [{"name": "dev", "patch_group": "Dev"}, {"name": "prod", "patch_group": "Production", "gate": {"max_failed": "0"}}],
    }
    if defaults_window is not None:
        document["defaults"] = {"window": defaults_window}
    for stage, window in zip(document["stages"], (dev_window, prod_window)):
        if window is not None:
            stage["window"] = window
    return document


@pytest.mark.parametrize(
    ("document", "windows"),
    [
        pytest.param(plan(prod_window={"ssm_window": "Weekly-Patch-Window"}), [None, SsmWindowRef("Weekly-Patch-Window")], id="by-name"),
        pytest.param(plan(prod_window={"ssm_window": "mw-0123456789abcdef0"}), [None, SsmWindowRef("mw-0123456789abcdef0")], id="by-id"),
        pytest.param(plan(defaults_window={"ssm_window": "Weekly-Patch-Window"}), [SsmWindowRef("Weekly-Patch-Window")] * 2, id="from-defaults"),
        pytest.param(plan(defaults_window=SUNDAY, prod_window={"ssm_window": "Weekly-Patch-Window"}), [SUNDAY_WINDOW, SsmWindowRef("Weekly-Patch-Window")],
                     id="replaces-a-default-written-out"),
        pytest.param(plan(defaults_window={"timezone": "Asia/Seoul", "cutoff": 1}, prod_window={"ssm_window": "Weekly-Patch-Window"}, dev_window={"schedule": "cron(0 2 ? * TUE *)", "duration": 3}),
                     [MaintenanceWindow(parse_schedule("cron(0 2 ? * TUE *)", "Asia/Seoul"), 3, 1), SsmWindowRef("Weekly-Patch-Window")],
                     id="leaves-a-default-time-zone-to-the-others"),
        pytest.param(plan(defaults_window={"ssm_window": "Weekly-Patch-Window"}, dev_window=SUNDAY), [SUNDAY_WINDOW, SsmWindowRef("Weekly-Patch-Window")],
                     id="a-window-written-out-replaces-a-default-in-ssm"),
        pytest.param(plan(defaults_window={"ssm_window": "Weekly-Patch-Window"}, dev_window="none"), [None, SsmWindowRef("Weekly-Patch-Window")],
                     id="none-replaces-a-default-in-ssm"),
    ],
)
def test_a_stage_window_kept_in_ssm(document, windows):
    assert [stage.window for stage in parse_plan(document, SOURCE).stages] == windows


@pytest.mark.parametrize(
    ("document", "message"),
    [
        pytest.param(plan(prod_window={"ssm_window": "Weekly-Patch-Window", "timezone": "Asia/Seoul"}),
                     f"{SOURCE}: stages[1] (prod).window.timezone: expected nothing beside ssm_window (SSM gives the window's schedule, time zone, duration and cutoff), got 'Asia/Seoul'",
                     id="beside-a-time-zone"),
        pytest.param(plan(defaults_window={"ssm_window": "Weekly-Patch-Window", "duration": 4}),
                     f"{SOURCE}: defaults.window.duration: expected nothing beside ssm_window (SSM gives the window's schedule, time zone, duration and cutoff), got 4",
                     id="beside-a-duration-in-defaults"),
        pytest.param(plan(prod_window={"ssm_window": "Weekly Patch Window"}),
                     f"{SOURCE}: stages[1] (prod).window.ssm_window: expected a maintenance window name (3-128 letters, digits, _, - or .) or id (mw- and 17 hex digits), "
                     "got 'Weekly Patch Window'", id="name-with-spaces"),
        pytest.param(plan(prod_window={"ssm_window": ["Weekly-Patch-Window"]}),
                     f"{SOURCE}: stages[1] (prod).window.ssm_window: expected a maintenance window name (3-128 letters, digits, _, - or .) or id (mw- and 17 hex digits), "
                     "got a list", id="a-list"),
        pytest.param(plan(prod_window="Weekly-Patch-Window"),
                     f"{SOURCE}: stages[1] (prod).window: expected a mapping with schedule, timezone, duration and cutoff, a mapping with just ssm_window, "
                     "or none (always open), got 'Weekly-Patch-Window'", id="a-bare-name"),
    ],
)
def test_a_window_kept_in_ssm_is_refused_when(document, message):
    with pytest.raises(InvalidInput) as raised:
        parse_plan(document, SOURCE)
    assert str(raised.value) == message
