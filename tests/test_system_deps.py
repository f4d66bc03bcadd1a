"""scripts/system-deps.sh, run by `make demo` and `make test`: checks the Debian packages, installs
the missing ones as root, otherwise stops with the exact command to run.

The script is run with PATH reduced to a temporary directory holding stand-ins for dpkg-query,
apt-get and id (the real packages are never touched): the stand-ins read and write a list of
"installed" packages and a log of apt-get calls."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "system-deps.sh"
BASH = shutil.which("bash") or "/bin/bash"

PDF = ["libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0", "fonts-dejavu-core"]
TEST_ONLY = ["chromium", "poppler-utils", "clamav-daemon"]

# The stand-ins use bash builtins only: PATH holds nothing else.
FAKE_DPKG_QUERY = """#!{bash}
package="${{@: -1}}"
while IFS= read -r line; do
  if [ "$line" = "$package" ]; then echo "install ok installed"; exit 0; fi
done < "{state}/installed"
echo "dpkg-query: no packages found matching $package" >&2
exit 1
"""
FAKE_APT_GET = """#!{bash}
echo "DEBIAN_FRONTEND=${{DEBIAN_FRONTEND:-}} apt-get $*" >> "{state}/apt.log"
if [ "$1" = install ] && [ "${{FAKE_APT_BROKEN:-0}}" = 0 ]; then
  for argument in "$@"; do
    case "$argument" in install|-*) ;; *) echo "$argument" >> "{state}/installed" ;; esac
  done
fi
"""
FAKE_ID = """#!{bash}
echo "${{FAKE_UID:-1000}}"
"""


@dataclass
class Machine:
    bin: Path
    state: Path

    def install(self, *packages: str) -> None:
        with (self.state / "installed").open("a") as handle:
            handle.writelines(f"{package}\n" for package in packages)

    def installed(self) -> list[str]:
        return (self.state / "installed").read_text().split()

    def apt_calls(self) -> list[str]:
        log = self.state / "apt.log"
        return log.read_text().splitlines() if log.exists() else []

    def run(
        self, mode: str, *, uid: int = 1000, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BASH, str(SCRIPT), mode],
            env={"PATH": str(self.bin), "FAKE_UID": str(uid), **(env or {})},
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    """A pretend Debian machine: dpkg-query, apt-get and id are stand-ins."""
    bin_dir, state = tmp_path / "bin", tmp_path / "state"
    bin_dir.mkdir()
    state.mkdir()
    (state / "installed").write_text("")
    for name, text in (("dpkg-query", FAKE_DPKG_QUERY), ("apt-get", FAKE_APT_GET), ("id", FAKE_ID)):
        path = bin_dir / name
        path.write_text(text.format(bash=BASH, state=state))
        path.chmod(0o755)
    return Machine(bin=bin_dir, state=state)


def test_missing_packages_for_a_non_root_user_stop_with_the_exact_command(machine):
    machine.install(*PDF)
    result = machine.run("test")
    assert result.returncode != 0
    assert "Paquets système manquants : chromium poppler-utils clamav-daemon" in result.stderr
    assert (
        "Lancez : sudo apt-get update && sudo apt-get install -y --no-install-recommends "
        "chromium poppler-utils clamav-daemon\n"
    ) in result.stderr
    assert machine.apt_calls() == []


def test_all_packages_present_exit_zero_and_install_nothing(machine):
    machine.install(*PDF, *TEST_ONLY)
    for uid in (1000, 0):
        result = machine.run("test", uid=uid)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert machine.apt_calls() == []


def test_as_root_the_missing_packages_are_installed_non_interactively(machine):
    machine.install("fonts-dejavu-core", "poppler-utils")
    result = machine.run("test", uid=0)
    assert result.returncode == 0, result.stderr
    missing = "libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 chromium clamav-daemon"
    assert machine.apt_calls() == [
        "DEBIAN_FRONTEND=noninteractive apt-get update -qq",
        f"DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends {missing}",
    ]
    assert sorted(machine.installed()) == sorted(PDF + TEST_ONLY)


def test_as_root_a_failed_installation_is_an_error(machine):
    result = machine.run("demo", uid=0, env={"FAKE_APT_BROKEN": "1"})
    assert result.returncode != 0
    assert "Paquets toujours absents après apt-get : " + " ".join(PDF) in result.stderr


def test_the_demo_needs_only_the_pdf_libraries(machine):
    machine.install(*PDF)
    assert machine.run("demo").returncode == 0

    bare = Machine(bin=machine.bin, state=machine.state)
    (bare.state / "installed").write_text("")
    result = bare.run("demo")
    assert result.returncode != 0
    assert f"Paquets système manquants : {' '.join(PDF)}\n" in result.stderr
    assert machine.apt_calls() == []


def test_without_dpkg_the_demo_warns_and_the_tests_stop(machine):
    (machine.bin / "dpkg-query").unlink()
    demo = machine.run("demo")
    assert demo.returncode == 0
    assert "impossible de vérifier" in demo.stderr
    test = machine.run("test")
    assert test.returncode != 0
    assert "SYSTEM_DEPS_CHECK=0 make test" in test.stderr
    assert machine.apt_calls() == []


def test_the_check_can_be_skipped_and_needs_a_mode(machine):
    assert machine.run("test", env={"SYSTEM_DEPS_CHECK": "0"}).returncode == 0
    assert machine.run("").returncode == 2
    assert machine.apt_calls() == []


def test_make_demo_and_make_test_run_the_check_and_ci_installs_nothing_itself():
    make = shutil.which("make")
    assert make, "make est requis pour lancer la suite"
    for target in ("demo", "test"):
        plan = subprocess.run(
            [make, "-n", "--no-print-directory", target],
            cwd=ROOT,
            # Run as a top-level make even when this suite itself runs under `make test`.
            env={
                k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert plan.splitlines()[0] == f"bash scripts/system-deps.sh {target}"
    assert "apt-get" not in (ROOT / ".ci" / "run").read_text()
