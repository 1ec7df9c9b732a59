"""Generate include/catalog/<OS>.json: plausible patches for the operating systems fleetsim simulates.

    python -m fleetsim.build_catalog            # rewrite the catalog files
    python -m fleetsim.build_catalog --check    # exit 1 if they are out of date

Release dates count back from CATALOG_REFERENCE_DATE, a fixed instant, so a
seed replays the same approvals whatever day it runs. Some patches are younger
than 7 days at that instant, so ApproveAfterDays=7 keeps them out; no patch sits
within a day of that 7-day line, so the few simulated hours a run lasts never
flip an approval.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fleetsim.catalog import CATALOG_DIR, Patch

CATALOG_REFERENCE_DATE = datetime(2026, 11, 16, 12, 0, tzinfo=timezone.utc)
CATALOG_SEED = 20261116
# Days before the reference date a patch may be released; 6-7 are left out (see above).
RELEASE_AGES = [age for age in range(0, 90) if age not in (6, 7)]

_AL2023_PACKAGES = [
    # (name, version-release, classification, severity, requires_reboot)
    ("kernel", "6.1.112-122.189.amzn2023", "Security", "Important", True),
    ("kernel-tools", "6.1.112-122.189.amzn2023", "Security", "Important", False),
    ("kernel-livepatch-6.1.112-122.189", "1.0-0.amzn2023", "Security", "Important", False),
    ("openssl-libs", "1:3.0.8-1.amzn2023.0.16", "Security", "Important", False),
    ("openssl", "1:3.0.8-1.amzn2023.0.16", "Security", "Important", False),
    ("glibc", "2.34-117.amzn2023.0.1", "Security", "Critical", True),
    ("glibc-common", "2.34-117.amzn2023.0.1", "Security", "Critical", False),
    ("systemd", "252.23-2.amzn2023", "Bugfix", "None", True),
    ("systemd-libs", "252.23-2.amzn2023", "Bugfix", "None", False),
    ("openssh-server", "8.7p1-8.amzn2023.0.13", "Security", "Critical", False),
    ("openssh-clients", "8.7p1-8.amzn2023.0.13", "Security", "Critical", False),
    ("curl-minimal", "8.5.0-1.amzn2023.0.5", "Security", "Medium", False),
    ("libcurl-minimal", "8.5.0-1.amzn2023.0.5", "Security", "Medium", False),
    ("sudo", "1.9.15-1.p5.amzn2023.0.2", "Security", "Important", False),
    ("python3", "3.9.20-1.amzn2023.0.1", "Security", "Medium", False),
    ("python3-libs", "3.9.20-1.amzn2023.0.1", "Security", "Medium", False),
    ("expat", "2.5.0-1.amzn2023.0.6", "Security", "Important", False),
    ("libxml2", "2.10.4-1.amzn2023.0.7", "Security", "Medium", False),
    ("krb5-libs", "1.21.3-1.amzn2023.0.1", "Security", "Important", False),
    ("vim-minimal", "2:9.0.2153-1.amzn2023.0.3", "Security", "Low", False),
    ("less", "608-2.amzn2023.0.4", "Security", "Low", False),
    ("bind-libs", "32:9.18.28-1.amzn2023.0.1", "Security", "Important", False),
    ("ca-certificates", "2024.2.69_v8.0.303-80.0.amzn2023.0.1", "Bugfix", "None", False),
    ("amazon-ssm-agent", "3.3.987.0-1.amzn2023", "Bugfix", "None", False),
    ("dnf", "4.14.0-1.amzn2023.0.5", "Bugfix", "None", False),
    ("tzdata", "2024b-1.amzn2023.0.1", "Enhancement", "None", False),
    ("cloud-init", "22.2.2-1.amzn2023.1.14", "Bugfix", "None", False),
    ("chrony", "4.3-1.amzn2023.0.5", "Bugfix", "None", False),
    ("git-core", "2.40.1-1.amzn2023.0.4", "Security", "Important", False),
    ("nginx-core", "1:1.24.0-1.amzn2023.0.4", "Security", "Medium", False),
    ("containerd", "1.7.22-1.amzn2023.0.2", "Security", "Important", False),
    ("docker", "25.0.6-1.amzn2023.0.2", "Security", "Important", False),
    ("runc", "1.1.14-1.amzn2023.0.1", "Security", "Critical", False),
    ("libssh", "0.10.6-1.amzn2023.0.1", "Security", "Medium", False),
    ("gnupg2-minimal", "2.3.7-1.amzn2023.0.4", "Security", "Low", False),
    ("htop", "3.2.1-2.amzn2023.0.3", "Newpackage", "None", False),
]

_UBUNTU_PACKAGES = [
    # (name, version, priority, section, security, requires_reboot)
    ("linux-image-5.15.0-126-generic", "5.15.0-126.136", "Optional", "kernel", True, True),
    ("linux-modules-5.15.0-126-generic", "5.15.0-126.136", "Optional", "kernel", True, False),
    ("libssl3", "3.0.2-0ubuntu1.18", "Important", "libs", True, False),
    ("openssl", "3.0.2-0ubuntu1.18", "Important", "utils", True, False),
    ("libc6", "2.35-0ubuntu3.8", "Required", "libs", True, True),
    ("libc-bin", "2.35-0ubuntu3.8", "Required", "libs", True, False),
    ("openssh-server", "1:8.9p1-3ubuntu0.10", "Optional", "net", True, False),
    ("openssh-client", "1:8.9p1-3ubuntu0.10", "Standard", "net", True, False),
    ("curl", "7.81.0-1ubuntu1.18", "Optional", "web", True, False),
    ("libcurl4", "7.81.0-1ubuntu1.18", "Optional", "libs", True, False),
    ("sudo", "1.9.9-1ubuntu2.4", "Important", "admin", True, False),
    ("python3.10", "3.10.12-1~22.04.6", "Optional", "python", True, False),
    ("libpython3.10-stdlib", "3.10.12-1~22.04.6", "Optional", "python", True, False),
    ("libexpat1", "2.4.7-1ubuntu0.4", "Important", "libs", True, False),
    ("libxml2", "2.9.13+dfsg-1ubuntu0.4", "Important", "libs", True, False),
    ("libkrb5-3", "1.19.2-2ubuntu0.4", "Standard", "libs", True, False),
    ("vim-tiny", "2:8.2.3995-1ubuntu2.19", "Important", "editors", True, False),
    ("less", "590-1ubuntu0.22.04.3", "Important", "text", True, False),
    ("bind9-libs", "1:9.18.28-0ubuntu0.22.04.1", "Standard", "libs", True, False),
    ("ca-certificates", "20240203~22.04.1", "Important", "misc", True, False),
    ("systemd", "249.11-0ubuntu3.12", "Important", "admin", False, True),
    ("libsystemd0", "249.11-0ubuntu3.12", "Optional", "libs", False, False),
    ("snapd", "2.63+22.04ubuntu0.1", "Optional", "devel", False, False),
    ("tzdata", "2024a-0ubuntu0.22.04.1", "Important", "localization", False, False),
    ("cloud-init", "24.3.1-0ubuntu0~22.04.1", "Extra", "admin", False, False),
    ("git", "1:2.34.1-1ubuntu1.11", "Optional", "vcs", True, False),
    ("nginx-core", "1.18.0-6ubuntu14.5", "Optional", "httpd", True, False),
    ("containerd", "1.7.12-0ubuntu2~22.04.1", "Optional", "admin", True, False),
    ("runc", "1.1.12-0ubuntu2~22.04.1", "Optional", "admin", True, False),
    ("libssh-4", "0.9.6-2ubuntu0.22.04.3", "Optional", "libs", True, False),
    ("gpg", "2.2.27-3ubuntu2.1", "Optional", "utils", True, False),
    ("python3-apt", "2.4.0ubuntu4", "Important", "python", False, False),
    ("ubuntu-advantage-tools", "32.3.1~22.04", "Important", "misc", False, False),
    ("apport", "2.20.11-0ubuntu82.6", "Optional", "utils", True, False),
]

_WINDOWS_UPDATES = [
    # (title pattern, classification, msrc severity, product family, patch set, requires_reboot)
    ("{month} Cumulative Update for Microsoft server operating system version 21H2 for x64-based Systems ({kb})", "SecurityUpdates", "Critical", "Windows", "OS", True),
    ("{month} Security Update for Microsoft server operating system version 21H2 for x64-based Systems ({kb})", "SecurityUpdates", "Important", "Windows", "OS", True),
    ("{month} Servicing Stack Update for Microsoft server operating system version 21H2 for x64-based Systems ({kb})", "CriticalUpdates", "Critical", "Windows", "OS", False),
    ("{month} Cumulative Update for .NET Framework 3.5, 4.8 and 4.8.1 for Microsoft server operating system version 21H2 for x64 ({kb})", "SecurityUpdates", "Important", "Windows", "OS", True),
    ("Windows Malicious Software Removal Tool x64 - v5.{n} ({kb})", "UpdateRollups", "Unspecified", "Windows", "OS", False),
    ("Security Intelligence Update for Microsoft Defender Antivirus - {kb} (Version 1.421.{n}.0)", "DefinitionUpdates", "Unspecified", "Windows", "OS", False),
    ("{month} Dynamic Update for Microsoft server operating system version 21H2 for x64-based Systems ({kb})", "Updates", "Unspecified", "Windows", "OS", False),
    ("{month} Security Update for Microsoft Edge Update ({kb})", "SecurityUpdates", "Moderate", "Windows", "APPLICATION", False),
    ("{month} Security Update for Microsoft server operating system version 21H2 (Kernel) ({kb})", "SecurityUpdates", "Low", "Windows", "OS", True),
    ("Update for Microsoft server operating system version 21H2 for x64-based Systems ({kb})", "Updates", "Unspecified", "Windows", "OS", False),
    ("{month} Critical Update for Windows Server 2022 Remote Desktop Services ({kb})", "CriticalUpdates", "Important", "Windows", "OS", True),
]


def _release(rng: random.Random) -> datetime:
    age = rng.choice(RELEASE_AGES)
    release_day = (CATALOG_REFERENCE_DATE - timedelta(days=age)).replace(hour=0, minute=0)
    if age == 0:
        return release_day + timedelta(hours=rng.choice([2, 6, 9]))
    return release_day + timedelta(hours=rng.choice([2, 9, 17, 20]))


def _cves(rng: random.Random, year: int, count: int) -> tuple[str, ...]:
    return tuple(sorted({f"CVE-{year}-{rng.randint(20000, 52999)}" for _ in range(count)}))


def al2023_patches(rng: random.Random) -> list[Patch]:
    patches = []
    advisory = 600
    for name, version, classification, severity, reboot in _AL2023_PACKAGES:
        released = _release(rng)
        advisory += rng.randint(1, 9)
        security = classification != "Newpackage"
        patches.append(
            Patch(
                id=f"{name}.x86_64",
                title=f"{name}.x86_64:{version if ':' in version else '0:' + version}",
                operating_system="AMAZON_LINUX_2023",
                product="AmazonLinux2023",
                classification=classification,
                severity=severity,
                release_date=released,
                cve_ids=_cves(rng, released.year, rng.randint(1, 3)) if classification == "Security" else (),
                requires_reboot=reboot,
                security=security,
                kb_id=f"ALAS2023-{released.year}-{advisory}" if security else "",
                version=version if ":" in version else f"0:{version}",
            )
        )
    return patches


def ubuntu_patches(rng: random.Random) -> list[Patch]:
    patches = []
    notice = 7000
    for name, version, priority, section, security, reboot in _UBUNTU_PACKAGES:
        released = _release(rng)
        notice += rng.randint(1, 12)
        patches.append(
            Patch(
                id=name,
                title=f"{name}.amd64:{version}",
                operating_system="UBUNTU",
                product="Ubuntu22.04",
                classification="",
                severity="",
                release_date=released,
                cve_ids=_cves(rng, released.year, rng.randint(1, 4)) if security else (),
                requires_reboot=reboot,
                security=security,
                priority=priority,
                section=section,
                kb_id=f"USN-{notice}-1" if security else "",
                version=version,
            )
        )
    return patches


def windows_patches(rng: random.Random) -> list[Patch]:
    patches = []
    kb_number = 5044200
    for round_index in range(4):
        for pattern, classification, severity, family, patch_set, reboot in _WINDOWS_UPDATES:
            if round_index and rng.random() < 0.35:
                continue
            released = _release(rng)
            kb_number += rng.randint(3, 60)
            kb = f"KB{kb_number}"
            title = pattern.format(month=released.strftime("%Y-%m"), kb=kb, n=rng.randint(100, 140))
            is_security = classification in ("SecurityUpdates", "CriticalUpdates")
            patches.append(
                Patch(
                    id=kb,
                    title=title,
                    operating_system="WINDOWS",
                    product="MicrosoftEdge" if patch_set == "APPLICATION" else "WindowsServer2022",
                    classification=classification,
                    severity=severity,
                    release_date=released,
                    cve_ids=_cves(rng, released.year, rng.randint(2, 8)) if classification == "SecurityUpdates" else (),
                    requires_reboot=reboot,
                    security=is_security,
                    product_family="Microsoft Edge" if patch_set == "APPLICATION" else family,
                    patch_set=patch_set,
                    kb_id=kb,
                )
            )
    return patches


GENERATORS = {"AMAZON_LINUX_2023": al2023_patches, "UBUNTU": ubuntu_patches, "WINDOWS": windows_patches}


def catalog_documents() -> dict[str, str]:
    documents = {}
    for offset, (operating_system, generate) in enumerate(GENERATORS.items()):
        patches = sorted(generate(random.Random(CATALOG_SEED + offset)), key=lambda p: (p.release_date, p.id))
        body = {
            "reference_date": CATALOG_REFERENCE_DATE.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "generated_by": "python -m fleetsim.build_catalog",
            "patches": [patch.to_json() for patch in patches],
        }
        documents[operating_system] = json.dumps(body, indent=1, sort_keys=True) + "\n"
    return documents


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fleetsim.build_catalog", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the files differ from what would be written")
    parser.add_argument("--directory", default=str(CATALOG_DIR))
    args = parser.parse_args(argv)
    directory = Path(args.directory)
    stale = []
    for operating_system, text in catalog_documents().items():
        path = directory / f"{operating_system}.json"
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
            continue
        directory.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path} ({text.count(chr(10) + '  {')} patches)")
    if stale:
        print("out of date: " + ", ".join(stale) + " (run python -m fleetsim.build_catalog)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
