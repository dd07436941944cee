"""Live trading credentials: from the environment or an encrypted keystore, never from config.toml.

    creds = load_credentials(keystore=settings.venue.keystore or None)   # reads os.environ
    creds.address, creds.funder, creds.api           # public parts; creds.private_key.reveal() to sign

Sources (exactly one private key source must be present):

* `BIGEARN_PRIVATE_KEY` - the signer's key, 64 hex digits (0x optional);
* a keystore file - the standard Ethereum V3 keystore JSON (scrypt), written by `create_keystore`; its
  password comes from `BIGEARN_KEYSTORE_PASSWORD` or, interactively, from the `prompt` callback.

Optional: `BIGEARN_FUNDER` - the wallet that holds the funds (proxy, safe or deposit wallet) when it is
not the signer; `BIGEARN_API_KEY`, `BIGEARN_API_SECRET`, `BIGEARN_API_PASSPHRASE` - existing L2
credentials (all three or none; without them they are derived from the key).

These names are listed in `engine.config.CREDENTIAL_ENV_VARS`, so the config loader, which reads every other
BIGEARN_* variable as a setting, leaves them alone and never stores them in Settings.

Secrets are wrapped in `Secret`, whose repr and str are redacted; no error message, log line or repr
built here contains a secret, and exceptions are raised without chaining the ones that saw it. A value
that should be an address (BIGEARN_FUNDER, the funder setting, a keystore's address field) is never
echoed either: a key pasted there by mistake would otherwise be printed.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account

from engine.venues.polymarket.clob.signing import address_of, to_checksum

ENV_PRIVATE_KEY = "BIGEARN_PRIVATE_KEY"
ENV_FUNDER = "BIGEARN_FUNDER"
ENV_API_KEY = "BIGEARN_API_KEY"
ENV_API_SECRET = "BIGEARN_API_SECRET"
ENV_API_PASSPHRASE = "BIGEARN_API_PASSPHRASE"
ENV_KEYSTORE_PASSWORD = "BIGEARN_KEYSTORE_PASSWORD"

_HEX_KEY = re.compile(r"(0[xX])?[0-9a-fA-F]{64}")
_ADDRESS = re.compile(r"0[xX][0-9a-fA-F]{40}")
_KEY_RUN = re.compile(r"[0-9a-fA-F]{64,}")  # longer than an address: file names may carry those
DEFAULT_SCRYPT_N = 2**18  # eth_account's (and geth's) standard scrypt cost


class CredentialsError(Exception):
    """Live credentials are missing or unusable; the message names what and where, never a secret."""


class Secret:
    """A secret string that does not show itself: repr/str are redacted, pickling is refused."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(<redacted>)"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __reduce__(self) -> Any:
        raise TypeError("secrets cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True, repr=False)
class ApiCredentials:
    """L2 credentials: the API key (it is also the `owner` of every order) and its HMAC secret."""

    key: Secret
    secret: Secret
    passphrase: Secret

    def __repr__(self) -> str:
        return "ApiCredentials(<redacted>)"


@dataclass(frozen=True, slots=True, repr=False)
class LiveCredentials:
    private_key: Secret
    address: str  # the signer EOA, checksummed
    funder: str | None  # the wallet holding funds, when it is not the signer
    api: ApiCredentials | None
    source: str  # where the key came from: "env BIGEARN_PRIVATE_KEY" or "keystore <path>"

    def __repr__(self) -> str:
        return (
            f"LiveCredentials(address={self.address}, funder={self.funder}, "
            f"api={'set' if self.api else 'derived'}, source={self.source!r})"
        )


def _shown_path(path: str | Path) -> str:
    """A keystore path as messages show it: a key pasted as the path is not printed."""
    return _KEY_RUN.sub(lambda m: f"<{len(m.group())} hex digits, not shown>", str(path))


def _parse_key(raw: str, where: str) -> tuple[Secret, str]:
    text = raw.strip()
    if not _HEX_KEY.fullmatch(text):
        raise CredentialsError(f"{where}: a private key must be 64 hex digits (optional 0x prefix)")
    key = text if text[:2].lower() == "0x" else "0x" + text
    try:
        address = address_of(key)
    except ValueError:
        raise CredentialsError(f"{where}: not a valid secp256k1 private key") from None
    return Secret(key.lower()), address


def _address(value: str, where: str) -> str:
    text = value.strip()
    if not _ADDRESS.fullmatch(text):
        why = f"{where}: must be a 0x-prefixed 20-byte hex address (got {len(text)} characters, not shown)"
        if _HEX_KEY.fullmatch(text):
            why += "; this looks like a private key: a key never goes here"
        raise CredentialsError(why)
    return to_checksum(text)


def _api_credentials(env: Mapping[str, str]) -> ApiCredentials | None:
    names = (ENV_API_KEY, ENV_API_SECRET, ENV_API_PASSPHRASE)
    present = [n for n in names if env.get(n)]
    if not present:
        return None
    missing = [n for n in names if not env.get(n)]
    if missing:
        raise CredentialsError(
            f"API credentials are incomplete: {', '.join(present)} set but {', '.join(missing)} missing "
            "(set all three, or none to derive them from the key)"
        )
    return ApiCredentials(
        key=Secret(env[ENV_API_KEY].strip()),
        secret=Secret(env[ENV_API_SECRET].strip()),
        passphrase=Secret(env[ENV_API_PASSPHRASE].strip()),
    )


def read_keystore(path: str | Path, password: str) -> tuple[Secret, str]:
    """Decrypt a V3 keystore file; returns the key and its checksummed address."""
    p = Path(path).expanduser()
    where = f"keystore {_shown_path(p)}"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CredentialsError(f"{where}: file not found") from None
    except OSError as exc:
        raise CredentialsError(f"{where}: cannot read: {exc.strerror or type(exc).__name__}") from None
    except UnicodeDecodeError:
        raise CredentialsError(f"{where}: cannot read: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise CredentialsError(f"{where}: not a JSON keystore ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict) or "crypto" not in data and "Crypto" not in data:
        raise CredentialsError(f"{where}: not a V3 keystore (no crypto section)")
    try:
        raw = Account.decrypt(data, password)
    except ValueError as exc:
        reason = "wrong password (MAC mismatch)" if "MAC mismatch" in str(exc) else "cannot decrypt"
        raise CredentialsError(f"{where}: {reason}") from None
    except Exception as exc:
        raise CredentialsError(f"{where}: unsupported or damaged keystore ({type(exc).__name__})") from None
    key, address = _parse_key("0x" + bytes(raw).hex(), where)
    stored = data.get("address")
    if isinstance(stored, str) and stored.strip():
        text = stored.strip()
        named = _address(text if text[:2].lower() == "0x" else "0x" + text, f"{where}: field 'address'")
        if named != address:
            raise CredentialsError(
                f"{where}: the decrypted key does not belong to the address the file names"
            )
    return key, address


def load_credentials(
    *,
    keystore: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
    funder: str | None = None,
) -> LiveCredentials:
    """Live credentials from `env` (default os.environ) or the keystore at `keystore`.

    `prompt(message)` asks for the keystore password when BIGEARN_KEYSTORE_PASSWORD is not set (pass
    e.g. getpass.getpass from an interactive command). `funder` is a wallet address from settings; it
    must agree with BIGEARN_FUNDER when both are given."""
    env = os.environ if env is None else env
    env_key = env.get(ENV_PRIVATE_KEY, "")
    shown = _shown_path(keystore) if keystore else ""
    if env_key and keystore:
        raise CredentialsError(
            f"two private key sources: {ENV_PRIVATE_KEY} is set and a keystore is configured ({shown}); "
            "use one"
        )
    if env_key:
        key, address = _parse_key(env_key, f"env {ENV_PRIVATE_KEY}")
        source = f"env {ENV_PRIVATE_KEY}"
    elif keystore:
        password = env.get(ENV_KEYSTORE_PASSWORD)
        if not password:
            if prompt is None:
                raise CredentialsError(
                    f"keystore {shown} needs its password: set {ENV_KEYSTORE_PASSWORD} or unlock it interactively"
                )
            password = prompt(f"Password for keystore {shown}: ")
            if not password:
                raise CredentialsError(f"keystore {shown}: no password given")
        key, address = read_keystore(keystore, password)
        source = f"keystore {_shown_path(Path(keystore).expanduser())}"
    else:
        raise CredentialsError(
            f"no private key: set {ENV_PRIVATE_KEY}, or create an encrypted keystore and configure "
            f"[venue] keystore (password from {ENV_KEYSTORE_PASSWORD} or a prompt)"
        )
    env_funder = env.get(ENV_FUNDER, "").strip()
    wallet = _address(env_funder, f"env {ENV_FUNDER}") if env_funder else None
    if funder:
        configured = _address(funder, "funder setting")
        if wallet is not None and wallet != configured:
            raise CredentialsError(
                f"env {ENV_FUNDER} ({wallet}) and the funder setting ({configured}) disagree; set one"
            )
        wallet = configured
    return LiveCredentials(
        private_key=key,
        address=address,
        funder=wallet,
        api=_api_credentials(env),
        source=source,
    )


def create_keystore(
    path: str | Path,
    private_key: str | Secret,
    password: str,
    *,
    scrypt_n: int = DEFAULT_SCRYPT_N,
    overwrite: bool = False,
) -> str:
    """Encrypt `private_key` into a V3 keystore at `path` (mode 0600) and return its address.

    Refuses an empty password and an existing file unless `overwrite`. `scrypt_n` is the scrypt cost
    (a power of two; the default is the standard 2^18, ~1 s to unlock)."""
    if not password:
        raise CredentialsError("a keystore needs a non-empty password")
    if scrypt_n < 2 or scrypt_n & (scrypt_n - 1):
        raise CredentialsError(f"scrypt_n must be a power of two >= 2, got {scrypt_n}")
    raw = private_key.reveal() if isinstance(private_key, Secret) else private_key
    key, address = _parse_key(raw, "private key")
    p = Path(path).expanduser()
    document = Account.encrypt(key.reveal(), password, kdf="scrypt", iterations=scrypt_n)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if overwrite else os.O_EXCL)
    try:
        fd = os.open(p, flags, 0o600)
    except FileExistsError:
        raise CredentialsError(
            f"keystore {_shown_path(p)}: file exists (pass overwrite to replace it)"
        ) from None
    except OSError as exc:
        raise CredentialsError(f"keystore {_shown_path(p)}: cannot create: {exc.strerror}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(document, fh)
    return address


__all__ = [
    "ENV_API_KEY",
    "ENV_API_PASSPHRASE",
    "ENV_API_SECRET",
    "ENV_FUNDER",
    "ENV_KEYSTORE_PASSWORD",
    "ENV_PRIVATE_KEY",
    "ApiCredentials",
    "CredentialsError",
    "LiveCredentials",
    "Secret",
    "create_keystore",
    "load_credentials",
    "read_keystore",
]
