"""The shipped patch catalog: current with its generator and plausible."""
import subprocess
import sys
from datetime import timedelta

import pytest

from fleetsim.build_catalog import CATALOG_REFERENCE_DATE
from fleetsim.catalog import load_catalog

OPERATING_SYSTEMS = ["AMAZON_LINUX_2023", "UBUNTU", "WINDOWS"]


def test_catalog_files_match_the_generator():
    finished = subprocess.run([sys.executable, "-m", "fleetsim.build_catalog", "--check"], capture_output=True, text=True)
    assert (finished.returncode, finished.stderr) == (0, "")


@pytest.mark.parametrize("operating_system", OPERATING_SYSTEMS, ids=OPERATING_SYSTEMS)
def test_catalog_is_plausible(operating_system):
    patches = load_catalog(operating_system)
    ages = [CATALOG_REFERENCE_DATE - p.release_date for p in patches]
    assert len(patches) >= 20
    assert len({p.id for p in patches}) == len(patches)
    assert all(timedelta(0) <= age < timedelta(days=90) for age in ages)
    assert any(age < timedelta(days=6) for age in ages), "ApproveAfterDays=7 must hold some patches back"
    assert not any(timedelta(days=6) <= age < timedelta(days=8) for age in ages), "no patch may sit on the 7-day line"
    assert all(p.operating_system == operating_system for p in patches)
    assert any(p.cve_ids for p in patches) and any(p.requires_reboot for p in patches)


def test_windows_ids_are_kb_numbers_and_linux_ids_name_arch():
    assert all(p.id.startswith("KB") and p.id == p.kb_id for p in load_catalog("WINDOWS"))
    assert all(p.id.endswith(".x86_64") for p in load_catalog("AMAZON_LINUX_2023"))
