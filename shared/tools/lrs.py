"""A local xAPI Learning Record Store: Ralph (``ralph-malph``) with its file-system backend, for the
xAPI forwarder of reporting (docs/xapi.md) on a developer's machine and in the tests.

    python -m shared.tools.lrs up       install Ralph if needed, create credentials, start it, print the settings
    python -m shared.tools.lrs down     stop the LRS started by ``up``
    python -m shared.tools.lrs status   is it running, and where
    python -m shared.tools.lrs env      the KOTAKU_XAPI_* settings of the forwarder

Ralph lives in a virtual environment of its own (``.local/lrs-venv``): its ``lrs`` extra pins
FastAPI and uvicorn versions far older than the services', so it cannot share ``.venv``. The pins
are :data:`REQUIREMENTS`. Its data, the Basic-auth file and the generated password are kept in
``.local/lrs/`` (``lrs.env``, mode 600; never committed). Ralph is started by
``deploy/local/ralph_lrs.py`` (see there for two corrections to its file-system backend).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from shared.tools.localenv import ROOT, local_dir, read_env_file

REQUIREMENTS = ("ralph-malph[cli,lrs]==5.1.0", "requests==2.34.2")
LAUNCHER = ROOT / "deploy" / "local" / "ralph_lrs.py"
USERNAME = "kotaku-forwarder"
HOME_PAGE = "https://kotaku.pu.go.id"
DEFAULT_PORT = 8100


def venv_dir() -> Path:
    return local_dir() / "lrs-venv"


def venv_python() -> Path:
    return venv_dir() / "bin" / "python"


def install() -> Path:
    """Ralph's virtual environment, created or brought to :data:`REQUIREMENTS` (idempotent)."""
    marker = venv_dir() / "kotaku-requirements.txt"
    wanted = "\n".join(REQUIREMENTS) + "\n"
    if marker.exists() and marker.read_text() == wanted and venv_python().exists():
        return venv_python()
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv_dir())], check=True)  # noqa: S603
    subprocess.run(  # noqa: S603 - fixed arguments
        [str(venv_python()), "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS], check=True
    )
    marker.write_text(wanted)
    return venv_python()


def http_status(url: str, timeout: float = 2.0) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - loopback only
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


@dataclass
class LocalLrs:
    """One Ralph server on the loopback, with its data and credentials in ``directory``."""

    directory: Path
    port: int = DEFAULT_PORT
    popen: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def xapi_endpoint(self) -> str:
        return f"{self.url}/xAPI"

    @property
    def env_file(self) -> Path:
        return self.directory / "lrs.env"

    @property
    def log_path(self) -> Path:
        return self.directory / "ralph.log"

    @property
    def pid_file(self) -> Path:
        return self.directory / "ralph.pid"

    def credentials(self) -> tuple[str, str]:
        """The forwarder's user and password, generated once per directory."""
        found = read_env_file(self.env_file)
        if "KOTAKU_XAPI_LRS_PASSWORD" in found and found.get("KOTAKU_XAPI_LRS_URL") == self.xapi_endpoint:
            return found["KOTAKU_XAPI_LRS_USERNAME"], found["KOTAKU_XAPI_LRS_PASSWORD"]
        password = found.get("KOTAKU_XAPI_LRS_PASSWORD") or secrets.token_urlsafe(24)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.env_file.write_text(
            f"KOTAKU_XAPI_LRS_URL={self.xapi_endpoint}\n"
            f"KOTAKU_XAPI_LRS_USERNAME={USERNAME}\n"
            f"KOTAKU_XAPI_LRS_PASSWORD={password}\n"
        )
        self.env_file.chmod(0o600)
        (self.directory / "auth.json").unlink(missing_ok=True)
        return USERNAME, password

    def settings(self) -> dict[str, str]:
        """The forwarder's settings for this LRS (``KOTAKU_XAPI_LRS_*``)."""
        username, password = self.credentials()
        return {
            "KOTAKU_XAPI_LRS_URL": self.xapi_endpoint,
            "KOTAKU_XAPI_LRS_USERNAME": username,
            "KOTAKU_XAPI_LRS_PASSWORD": password,
        }

    def _ralph_env(self) -> dict[str, str]:
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("RALPH_", "KOTAKU_"))},
            "RALPH_APP_DIR": str(self.directory),
            "RALPH_AUTH_FILE": str(self.directory / "auth.json"),
            "RALPH_RUNSERVER_BACKEND": "fs",
            "RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH": str(self.directory / "data"),
        }

    def _write_auth_file(self, python: Path) -> None:
        """Ralph's Basic-auth file with the forwarder's user (bcrypt hash), made by ``ralph auth``."""
        auth = self.directory / "auth.json"
        username, password = self.credentials()
        if auth.exists():
            return
        subprocess.run(  # noqa: S603 - our own arguments
            [
                str(python.parent / "ralph"),
                "auth",
                "--username",
                username,
                "--password",
                password,
                "--scope",
                "statements/write",
                "--scope",
                "statements/read",
                "--agent-ifi-account",
                username,
                HOME_PAGE,
                "--write-to-disk",
            ],
            env=self._ralph_env(),
            check=True,
            capture_output=True,
        )
        auth.chmod(0o600)

    def start(self, timeout: float = 60.0) -> None:
        python = install()
        (self.directory / "data").mkdir(parents=True, exist_ok=True)
        self._write_auth_file(python)
        with self.log_path.open("ab") as log:
            self.popen = subprocess.Popen(  # noqa: S603 - our own launcher
                [str(python), str(LAUNCHER), "127.0.0.1", str(self.port)],
                env=self._ralph_env(),
                cwd=self.directory / "data",
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_file.write_text(str(self.popen.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"Ralph exited with {self.popen.returncode}: see {self.log_path}")
            if http_status(f"{self.url}/__heartbeat__") == 200:
                return
            time.sleep(0.2)
        raise RuntimeError(f"Ralph was not ready within {timeout:.0f}s: see {self.log_path}")

    def running_pid(self) -> int | None:
        """The pid of the Ralph this directory started, if it still runs."""
        if self.popen is not None:
            return self.popen.pid if self.popen.poll() is None else None
        try:
            pid = int(self.pid_file.read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return None
        return pid if LAUNCHER.name.encode() in cmdline else None

    def stop(self, timeout: float = 10.0) -> None:
        pid = self.running_pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
            if self.popen is not None and self.popen.poll() is not None:
                break
            time.sleep(0.1)
        else:
            if Path(f"/proc/{pid}").exists():
                os.kill(pid, signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(5)
        self.pid_file.unlink(missing_ok=True)


def local_lrs() -> LocalLrs:
    """The LRS of this clone's stack: ``.local/lrs``, on ``KOTAKU_LRS_PORT`` (default 8100)."""
    return LocalLrs(local_dir() / "lrs", int(os.environ.get("KOTAKU_LRS_PORT", DEFAULT_PORT)))


def configured() -> dict[str, str]:
    """The forwarder's settings when ``up`` has been run in this clone, else empty."""
    return read_env_file(local_lrs().env_file)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shared.tools.lrs", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["up", "down", "status", "env"])
    args = parser.parse_args(argv)
    lrs = local_lrs()
    if args.command == "up":
        if (pid := lrs.running_pid()) is None:
            lrs.start()
            pid = lrs.running_pid()
        print(f"LRS (Ralph, file-system backend): {lrs.xapi_endpoint} (pid {pid}, data {lrs.directory / 'data'})")
        print(f"settings in {lrs.env_file}")
    elif args.command == "down":
        lrs.stop()
        print("LRS stopped")
    elif args.command == "status":
        pid = lrs.running_pid()
        print(f"LRS: pid {pid}, {lrs.xapi_endpoint}" if pid else "LRS: not running")
        sys.exit(0 if pid else 1)
    else:
        print(json.dumps({k: v for k, v in lrs.settings().items() if k != "KOTAKU_XAPI_LRS_PASSWORD"}))


if __name__ == "__main__":
    main()
