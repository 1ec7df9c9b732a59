from __future__ import annotations

import pytest

from patchflow.core.drift_sample import DriftSample, drift_samples, spread_sample

TEN = [f"i-{n:02d}" for n in range(10)]


@pytest.mark.parametrize(
    ("instance_ids", "cap", "sample"),
    [
        pytest.param([], 3, (), id="no-nodes"),
        pytest.param(["i-2", "i-1"], 3, ("i-1", "i-2"), id="fewer-than-the-cap-all-sorted"),
        pytest.param(TEN[:3], 3, ("i-00", "i-01", "i-02"), id="exactly-the-cap-all"),
        pytest.param(TEN[:3] + ["i-01"], 3, ("i-00", "i-01", "i-02"), id="a-node-named-twice-counts-once"),
        pytest.param(TEN, 5, ("i-00", "i-02", "i-04", "i-06", "i-08"), id="every-second-of-twice-the-cap"),
        pytest.param(TEN, 3, ("i-00", "i-03", "i-06"), id="spread-over-the-whole-range-not-the-first-ids"),
        pytest.param(TEN, 9, ("i-00", "i-01", "i-02", "i-03", "i-04", "i-05", "i-06", "i-07", "i-08"), id="one-over-the-cap"),
        pytest.param(list(reversed(TEN)), 2, ("i-00", "i-05"), id="the-same-sample-in-any-order"),
        pytest.param(TEN, 1, ("i-00",), id="cap-of-one"),
    ],
)
def test_spread_sample(instance_ids, cap, sample):
    assert spread_sample(instance_ids, cap) == sample


def test_a_large_group_is_sampled_evenly_across_its_whole_range():
    ids = [f"i-{n:05d}" for n in range(45_000)]
    sample = spread_sample(ids, 50)
    assert (len(sample), sample[:3], sample[-1]) == (50, ("i-00000", "i-00900", "i-01800"), "i-44100")


@pytest.mark.parametrize(
    ("targets", "samples"),
    [
        pytest.param([], {}, id="no-targets"),
        pytest.param(
            [{"instance_id": f"i-{n}", "operating_system": "AMAZON_LINUX_2023"} for n in range(8)]
            + [{"instance_id": "i-w1", "operating_system": "WINDOWS"}, {"instance_id": "i-w2", "operating_system": "WINDOWS"}],
            {"AMAZON_LINUX_2023": DriftSample(("i-0", "i-2", "i-5"), 8), "WINDOWS": DriftSample(("i-w1", "i-w2"), 2)},
            id="each-os-capped-on-its-own",
        ),
        pytest.param(
            [{"instance_id": "i-1", "operating_system": None}, {"instance_id": "i-2"}],
            {"": DriftSample(("i-1", "i-2"), 2)},
            id="no-known-os-counts-under-empty",
        ),
    ],
)
def test_drift_samples(targets, samples):
    assert drift_samples(targets, 3) == samples


def test_a_sample_is_recorded_as_listed_of():
    assert DriftSample(("i-0", "i-2", "i-5"), 8).to_json() == [3, 8]
