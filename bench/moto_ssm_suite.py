"""moto's own SSM tests in server mode against fleetsim: which fail, and are those the documented differences?

    .venv/bin/python bench/moto_ssm_suite.py --moto-src PATH [--time-scale 600] [--seed 0]

PATH is a moto source tree of the installed moto version (a git checkout of its
release tag, or its sdist unpacked): the script needs its tests/ folder. It
copies tests/{__init__,conftest,markers}.py and tests/test_ssm into a scratch
folder, starts fleetsim on a three-instance fleet, runs those tests with
TEST_SERVER_MODE=true against it (moto's server-mode switch: every test resets
the server and sends its requests there), and prints pass/fail/skip counts
and every failing test id. moto's tests check moto's behaviour, so some fail
where fleetsim deliberately follows AWS instead; those are listed, with the
AWS source, in fleetsim/FIDELITY.md under "moto's own test suite and the reset
endpoint". The script compares the failures with that list and exits 1 if
they differ (a new failure, or a listed one that now passes), 2 on bad input.
Needs moto's sources, so it is not part of the test suite.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(PROJECT_ROOT), str(PROJECT_ROOT / "plugins")]

import fleetsim  # noqa: E402

FIDELITY = PROJECT_ROOT / "fleetsim" / "FIDELITY.md"
SECTION = "## moto's own test suite and the reset endpoint"
TEST_ID = re.compile(r"`(test_ssm/[\w.-]+\.py::[^`\s]+)`")
MOTO_TEST_SUPPORT = ("__init__.py", "conftest.py", "markers.py")
FLEET = {"groups": [{"name": "moto-suite", "count": 3, "platform": "AMAZON_LINUX_2023", "tags": {"Patch Group": "moto-suite"}}]}
# moto's markers, so its tests collect without warnings; no parent pytest configuration applies in the scratch folder.
PYTEST_INI = """[pytest]
markers =
    network: requires network connection
    requires_docker: requires running docker
    aws_verified: verified against AWS
    requires_clean_slate: requires a clean slate
"""


@dataclass(frozen=True)
class Verdict:
    passed: int
    failed: list[str]
    skipped: int
    unexpected_failures: list[str]
    listed_but_not_failing: list[str]

    @property
    def as_documented(self) -> bool:
        return not self.unexpected_failures and not self.listed_but_not_failing


def expected_differences(fidelity_text: str) -> set[str]:
    """moto test ids named in FIDELITY.md's section on moto's own test suite."""
    _, found, rest = fidelity_text.partition(SECTION + "\n")
    if not found:
        raise ValueError(f"fleetsim/FIDELITY.md: expected a section {SECTION!r}, found none")
    section = rest.split("\n## ", 1)[0]
    return set(TEST_ID.findall(section))


def junit_outcomes(xml_text: str) -> dict[str, str]:
    """test id (relative to moto's tests/ folder) -> passed | failed | skipped, from an xunit1 JUnit report."""
    outcomes = {}
    for case in ElementTree.fromstring(xml_text).iter("testcase"):
        path = case.get("file", "")
        module = path[: -len(".py")].replace("/", ".")
        inner = case.get("classname", "")[len(module):].lstrip(".")
        test_id = "::".join(part for part in (path.removeprefix("tests/"), inner, case.get("name", "")) if part)
        if case.find("failure") is not None or case.find("error") is not None:
            outcomes[test_id] = "failed"
        elif case.find("skipped") is not None:
            outcomes[test_id] = "skipped"
        else:
            outcomes[test_id] = "passed"
    return outcomes


def judge(outcomes: dict[str, str], expected: set[str]) -> Verdict:
    failed = sorted(t for t, outcome in outcomes.items() if outcome == "failed")
    return Verdict(
        passed=sum(outcome == "passed" for outcome in outcomes.values()),
        failed=failed,
        skipped=sum(outcome == "skipped" for outcome in outcomes.values()),
        unexpected_failures=sorted(set(failed) - expected),
        listed_but_not_failing=sorted(t for t in expected if outcomes.get(t) != "failed"),
    )


def source_version(moto_src: Path) -> str | None:
    """The moto version of a source tree: its sdist PKG-INFO, else moto/__init__.py."""
    pkg_info = moto_src / "PKG-INFO"
    if pkg_info.is_file():
        match = re.search(r"^Version: (\S+)$", pkg_info.read_text(encoding="utf-8"), re.MULTILINE)
        if match:
            return match.group(1)
    init = moto_src / "moto" / "__init__.py"
    if init.is_file():
        match = re.search(r"^__version__ = [\"']([^\"']+)[\"']", init.read_text(encoding="utf-8"), re.MULTILINE)
        if match:
            return match.group(1)
    return None


def check_source(moto_src: Path, installed: str) -> list[str]:
    problems = []
    if not (moto_src / "tests" / "test_ssm").is_dir():
        problems.append(f"--moto-src {moto_src}: expected a moto source tree with tests/test_ssm, found none")
    version = source_version(moto_src)
    if version != installed:
        found = f"version {version}" if version else "no version (neither PKG-INFO nor moto/__init__.py)"
        problems.append(f"--moto-src {moto_src}: expected moto {installed} (the installed moto fleetsim runs on), found {found}")
    return problems


def run_suite(moto_src: Path, workdir: Path, endpoint: str) -> dict[str, str]:
    tests = workdir / "tests"
    tests.mkdir()
    for name in MOTO_TEST_SUPPORT:
        if (moto_src / "tests" / name).is_file():
            shutil.copy2(moto_src / "tests" / name, tests / name)
    shutil.copytree(moto_src / "tests" / "test_ssm", tests / "test_ssm")
    (workdir / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    report = workdir / "junit.xml"
    env = {**os.environ, "TEST_SERVER_MODE": "true", "TEST_SERVER_MODE_ENDPOINT": endpoint,
           "AWS_ACCESS_KEY_ID": "fleetsim", "AWS_SECRET_ACCESS_KEY": "fleetsim", "AWS_DEFAULT_REGION": "us-east-1"}
    env.pop("AWS_ENDPOINT_URL", None)
    # -P: the scratch folder, not the current directory, decides what `tests` is; moto itself is the installed one.
    subprocess.run([sys.executable, "-P", "-m", "pytest", "-c", str(workdir / "pytest.ini"), "--rootdir", str(workdir), "tests/test_ssm",
                    "-p", "no:cacheprovider", "-q", "--tb=line", "-o", "junit_family=xunit1", f"--junitxml={report}"],
                   cwd=workdir, env=env, check=False)
    return junit_outcomes(report.read_text(encoding="utf-8"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moto-src", required=True, type=Path, help="moto source tree of the installed version (release tag checkout or sdist)")
    parser.add_argument("--time-scale", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import moto

    problems = check_source(args.moto_src, moto.__version__)
    try:
        expected = expected_differences(FIDELITY.read_text(encoding="utf-8"))
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2

    workdir = Path(tempfile.mkdtemp(prefix="moto-ssm-suite-"))
    try:
        with fleetsim.running(FLEET, seed=args.seed, time_scale=args.time_scale) as sim:
            outcomes = run_suite(args.moto_src, workdir, sim.endpoint)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    verdict = judge(outcomes, expected)
    print(f"\nmoto {moto.__version__} tests/test_ssm against fleetsim, {date.today().isoformat()}: "
          f"{verdict.passed} passed, {len(verdict.failed)} failed, {verdict.skipped} skipped")
    for test_id in verdict.failed:
        print(f"  failed: {test_id}{'' if test_id in expected else '   <- not in FIDELITY.md'}")
    for test_id in verdict.listed_but_not_failing:
        print(f"  listed in FIDELITY.md but did not fail: {test_id} ({outcomes.get(test_id, 'not run')})")
    print("all failures are documented differences" if verdict.as_documented else "failures differ from FIDELITY.md")
    return 0 if verdict.as_documented else 1


if __name__ == "__main__":
    sys.exit(main())
