"""A Cognito-like OpenID Connect provider for tests, on 127.0.0.1.

`OidcProvider` runs tests/support/oidc_provider/provider.js (oidc-provider, shaped like
an Amazon Cognito user pool; see the README there for what it does and what differs
from Cognito) with a configuration written for this run: a confidential app client
(authorization code, PKCE allowed, client_secret_basic or _post), a machine client
(client credentials with custom scopes), and users with groups.

    with OidcProvider(redirect_uris=[f"{live_server.url}/oidc/callback"],
                      logout_uris=[f"{live_server.url}/"]) as idp:
        settings.OIDC_ISSUER = idp.issuer
        ...

The login page is a plain form: fill the fields labelled "Username" and "Password"
(`#username`, `#password`) and click the "Sign in" button; consent is automatic.

`npm ci` runs once, when node_modules lacks the pinned oidc-provider. The node process
binds 127.0.0.1 on a free port (the issuer is http://127.0.0.1:<port>), dies with the
process that started it (PR_SET_PDEATHSIG), and `stop()` (or leaving the `with`
block, which a SIGTERM does under tests/conftest.py) ends it.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import string
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import requests
from emulator import die_with_parent, stop_process

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
DEFAULT_PASSWORD = "Intake-test-Passw0rd!"
DEFAULT_USERS: tuple[dict[str, Any], ...] = (
    {"username": "ada", "email": "ada@example.test", "groups": ["intake-admins"]},
    {"username": "vic", "email": "vic@example.test", "groups": ["intake-viewers"]},
    {"username": "nobody", "email": "nobody@example.test", "groups": []},
)
CLIENT_SCOPES = ("openid", "email", "profile")
MACHINE_SCOPES = ("intake/upload", "intake/read")
NPM_CI_TIMEOUT = 300.0
_ALPHANUMERIC = string.ascii_lowercase + string.digits


class OidcProviderError(RuntimeError):
    pass


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))


def _pinned_version() -> str:
    package = json.loads((PROVIDER_DIR / "package.json").read_text())
    return str(package["dependencies"]["oidc-provider"])


def _installed_version() -> str | None:
    try:
        package = json.loads((PROVIDER_DIR / "node_modules" / "oidc-provider" / "package.json").read_text())
    except (OSError, ValueError):
        return None
    return str(package.get("version"))


def ensure_node_modules(timeout: float = NPM_CI_TIMEOUT) -> None:
    """Run `npm ci` in the provider's folder unless node_modules holds the pinned
    oidc-provider already. A lock file makes parallel test processes install once."""
    if _installed_version() == _pinned_version():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise OidcProviderError("npm is not installed: the test OIDC provider needs Node.js 20+ and npm")
    digest = hashlib.sha256(str(PROVIDER_DIR).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / f"intake-oidc-provider-npm-ci-{digest}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed_version() == _pinned_version():
            return
        command = [npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts", "--loglevel=error"]
        try:
            result = subprocess.run(
                command,
                cwd=PROVIDER_DIR,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=timeout,
                preexec_fn=die_with_parent,
            )
        except subprocess.TimeoutExpired as error:
            raise OidcProviderError(
                f"`npm ci` in {PROVIDER_DIR} did not finish within {timeout:.0f} s (is the npm registry reachable?)"
            ) from error
        if result.returncode != 0 or _installed_version() != _pinned_version():
            output = (result.stdout + result.stderr).strip()[-2000:]
            raise OidcProviderError(f"`npm ci` in {PROVIDER_DIR} failed (exit {result.returncode}):\n{output}")


class OidcProvider:
    """The provider process and what a test needs to talk to it (see the module docstring)."""

    def __init__(
        self,
        redirect_uris: Iterable[str] = (),
        logout_uris: Iterable[str] = (),
        *,
        users: Iterable[Mapping[str, Any]] = DEFAULT_USERS,
        password: str = DEFAULT_PASSWORD,
        client_scopes: Iterable[str] = CLIENT_SCOPES,
        machine_scopes: Iterable[str] = MACHINE_SCOPES,
        ttl: Mapping[str, int] | None = None,
        log_path: Path | None = None,  # default: $INTAKE_OIDC_PROVIDER_LOG, else a file removed at stop
        start_timeout: float = 30.0,
    ) -> None:
        # Shaped like Cognito's: a 26-character client id, a 51-character secret.
        self.client_id = _random(26)
        self.client_secret = _random(51)
        self.machine_client_id = _random(26)
        self.machine_client_secret = _random(51)
        self.redirect_uris = list(redirect_uris)
        self.logout_uris = list(logout_uris)
        self.client_scopes = list(client_scopes)
        self.machine_scopes = list(machine_scopes)
        self.users: list[dict[str, Any]] = []
        for user in users:
            username = str(user["username"])
            self.users.append(
                {
                    "password": password,
                    "sub": str(uuid.uuid4()),
                    "email": f"{username}@example.test",
                    "email_verified": True,
                    "groups": [],
                    **copy.deepcopy(dict(user)),
                }
            )
        self.ttl = dict(ttl or {})
        log = os.environ.get("INTAKE_OIDC_PROVIDER_LOG")
        self.log_path = log_path or (Path(log) if log else None)
        self.start_timeout = start_timeout
        self.issuer = ""
        self.discovery: dict[str, Any] = {}
        self.start_seconds: float | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._log: IO[bytes] | None = None

    # -- what tests use ---------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self.issuer.rsplit(":", 1)[1])

    def _endpoint(self, name: str) -> str:
        if not self.discovery:
            raise OidcProviderError("the OIDC provider is not running")
        return str(self.discovery[name])

    @property
    def jwks_url(self) -> str:
        return self._endpoint("jwks_uri")

    @property
    def authorization_endpoint(self) -> str:
        return self._endpoint("authorization_endpoint")

    @property
    def token_endpoint(self) -> str:
        return self._endpoint("token_endpoint")

    @property
    def userinfo_endpoint(self) -> str:
        return self._endpoint("userinfo_endpoint")

    @property
    def end_session_endpoint(self) -> str:
        return self._endpoint("end_session_endpoint")

    @property
    def revocation_endpoint(self) -> str:
        return self._endpoint("revocation_endpoint")

    @property
    def logout_endpoint(self) -> str:
        """Cognito's own logout endpoint (GET, client_id & logout_uri); not in discovery."""
        self._endpoint("issuer")
        return f"{self.issuer}/logout"

    def logout_url(self, logout_uri: str) -> str:
        return f"{self.logout_endpoint}?{urlencode({'client_id': self.client_id, 'logout_uri': logout_uri})}"

    def user(self, username: str) -> dict[str, Any]:
        for user in self.users:
            if user["username"] == username:
                return user
        raise KeyError(username)

    def machine_token(self, scopes: Iterable[str] | None = None) -> str:
        """A client-credentials access token (JWT) for the machine client."""
        data = {"grant_type": "client_credentials"}
        if scopes is not None:
            data["scope"] = " ".join(scopes)
        response = requests.post(
            self.token_endpoint, data=data, auth=(self.machine_client_id, self.machine_client_secret), timeout=10
        )
        response.raise_for_status()
        return str(response.json()["access_token"])

    # -- lifecycle --------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {
            "client": {
                "client_id": self.client_id,
                "client_secret": self.client_secret,
                "client_name": "Intake",
                "redirect_uris": self.redirect_uris,
                "logout_uris": self.logout_uris,
                "scopes": self.client_scopes,
            },
            "machine_client": {
                "client_id": self.machine_client_id,
                "client_secret": self.machine_client_secret,
                "client_name": "Intake machine client",
                "scopes": self.machine_scopes,
            },
            "users": self.users,
            "ttl": self.ttl,
        }

    def start(self) -> OidcProvider:
        if self.process is not None:
            raise OidcProviderError("the OIDC provider is already running")
        began = time.monotonic()
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        self.start_seconds = time.monotonic() - began
        return self

    def _start(self) -> None:
        ensure_node_modules()
        node = shutil.which("node")
        if node is None:
            raise OidcProviderError("node is not installed: the test OIDC provider needs Node.js 20+")
        self._workdir = Path(tempfile.mkdtemp(prefix="intake-oidc-"))
        config_path = self._workdir / "config.json"
        with os.fdopen(os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as config_file:
            json.dump(self.config(), config_file)
        ready_path = self._workdir / "ready.json"
        log_path = self.log_path or self._workdir / "provider.log"
        self._log = open(log_path, "ab")  # noqa: SIM115 - kept open for the child
        env = {key: value for key, value in os.environ.items() if key != "OIDC_PROVIDER_CONFIG"}
        self.process = subprocess.Popen(
            [node, "provider.js", "--config", str(config_path), "--port", "0", "--ready-file", str(ready_path)],
            cwd=PROVIDER_DIR,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + self.start_timeout
        while not ready_path.exists():
            self._check_alive(log_path)
            if time.monotonic() > deadline:
                raise OidcProviderError(self._failure(f"did not start within {self.start_timeout:.0f} s", log_path))
            time.sleep(0.05)
        self.issuer = json.loads(ready_path.read_text())["issuer"]
        while True:
            self._check_alive(log_path)
            try:
                response = requests.get(f"{self.issuer}/.well-known/openid-configuration", timeout=2)
                if response.status_code == 200:
                    self.discovery = response.json()
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise OidcProviderError(self._failure("never served its discovery document", log_path))
            time.sleep(0.05)
        if self.discovery.get("issuer") != self.issuer:
            raise OidcProviderError(self._failure(f"announces issuer {self.discovery.get('issuer')!r}", log_path))

    def _check_alive(self, log_path: Path) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise OidcProviderError(self._failure(f"exited at start (code {self.process.returncode})", log_path))

    @staticmethod
    def _failure(what: str, log_path: Path) -> str:
        try:
            log = log_path.read_text(errors="replace")[-3000:]
        except OSError:
            log = ""
        return f"the test OIDC provider {what}; its log ({log_path}):\n{log}"

    def stop(self) -> None:
        process, self.process = self.process, None
        stop_process(process)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        self.discovery = {}

    def __enter__(self) -> OidcProvider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
