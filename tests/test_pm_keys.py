"""Live credentials: environment and encrypted keystore, clear errors, and no secret in any repr, str,
exception or log line (the gateway's included, against the local exchange)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import pickle
import stat
from pathlib import Path

import pytest

from engine.config import CREDENTIAL_ENV_VARS, ConfigError, Settings, load_settings
from engine.venues.polymarket import keys
from engine.venues.polymarket.gateway import OrderGateway, PlaceStatus
from engine.venues.polymarket.keys import (
    CredentialsError,
    Secret,
    create_keystore,
    load_credentials,
    read_keystore,
)
from tests.test_pm_gateway import gateway_settings, local_exchange, order
from tests.test_sim_exchange_support import ADDRS, KEYS

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"
KEY = KEYS[2]
BARE = KEY.removeprefix("0x")
FAST_SCRYPT = 2**10  # tests only: the default cost takes ~1 s per unlock


def assert_hidden(*texts: str) -> None:
    for text in texts:
        assert BARE not in text.lower(), "the private key leaked"


def test_env_credentials_round_trip():
    env = {
        "BIGEARN_PRIVATE_KEY": BARE.upper(),  # no 0x, any case
        "BIGEARN_FUNDER": ADDRS[3].lower(),
        "BIGEARN_API_KEY": "k",
        "BIGEARN_API_SECRET": "c2VjcmV0",
        "BIGEARN_API_PASSPHRASE": "p",
    }
    creds = load_credentials(env=env)
    assert creds.private_key.reveal() == KEY and creds.address == ADDRS[2]
    assert creds.funder == ADDRS[3] and creds.source == "env BIGEARN_PRIVATE_KEY"
    assert creds.api is not None and creds.api.secret.reveal() == "c2VjcmV0"
    assert_hidden(repr(creds), str(creds), repr(creds.api), f"{creds.private_key}", str(creds.private_key))
    assert "c2VjcmV0" not in repr(creds.api)
    with pytest.raises(TypeError):
        pickle.dumps(creds.private_key)


def test_keystore_round_trip_with_env_password_and_prompt(tmp_path: Path):
    path = tmp_path / "key.json"
    address = create_keystore(path, KEY, "hunter2", scrypt_n=FAST_SCRYPT)
    assert address == ADDRS[2]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    document = json.loads(path.read_text())
    assert document["version"] == 3 and document["crypto"]["kdf"] == "scrypt"
    assert_hidden(path.read_text())

    creds = load_credentials(keystore=path, env={"BIGEARN_KEYSTORE_PASSWORD": "hunter2"})
    assert creds.private_key.reveal() == KEY and creds.source == f"keystore {path}"
    asked: list[str] = []

    def prompt(message: str) -> str:
        asked.append(message)
        return "hunter2"

    via_prompt = load_credentials(keystore=path, env={}, prompt=prompt)
    assert via_prompt.address == ADDRS[2] and asked == [f"Password for keystore {path}: "]
    key, addr = read_keystore(path, "hunter2")
    assert key == Secret(KEY) and addr == ADDRS[2]

    with pytest.raises(CredentialsError, match="file exists"):
        create_keystore(path, KEY, "other", scrypt_n=FAST_SCRYPT)
    create_keystore(path, KEYS[3], "other", scrypt_n=FAST_SCRYPT, overwrite=True)
    assert read_keystore(path, "other")[1] == ADDRS[3]


def test_missing_or_bad_inputs_name_what_is_wrong(tmp_path: Path):
    with pytest.raises(
        CredentialsError, match="no private key: set BIGEARN_PRIVATE_KEY, or create an encrypted"
    ):
        load_credentials(env={})
    path = tmp_path / "k.json"
    create_keystore(path, KEY, "pw", scrypt_n=FAST_SCRYPT)
    with pytest.raises(CredentialsError, match="needs its password: set BIGEARN_KEYSTORE_PASSWORD"):
        load_credentials(keystore=path, env={})
    with pytest.raises(CredentialsError, match=r"wrong password \(MAC mismatch\)"):
        load_credentials(keystore=path, env={"BIGEARN_KEYSTORE_PASSWORD": "nope"})
    with pytest.raises(CredentialsError, match="file not found"):
        load_credentials(keystore=tmp_path / "absent.json", env={"BIGEARN_KEYSTORE_PASSWORD": "pw"})
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(CredentialsError, match="not a JSON keystore"):
        read_keystore(tmp_path / "junk.json", "pw")
    with pytest.raises(CredentialsError, match="two private key sources"):
        load_credentials(keystore=path, env={"BIGEARN_PRIVATE_KEY": KEY})
    with pytest.raises(CredentialsError, match="BIGEARN_API_SECRET, BIGEARN_API_PASSPHRASE missing"):
        load_credentials(env={"BIGEARN_PRIVATE_KEY": KEY, "BIGEARN_API_KEY": "k"})
    with pytest.raises(CredentialsError, match="disagree"):
        load_credentials(env={"BIGEARN_PRIVATE_KEY": KEY, "BIGEARN_FUNDER": ADDRS[0]}, funder=ADDRS[1])
    with pytest.raises(CredentialsError, match="BIGEARN_FUNDER: must be a 0x-prefixed 20-byte hex address"):
        load_credentials(env={"BIGEARN_PRIVATE_KEY": KEY, "BIGEARN_FUNDER": "alice"})
    with pytest.raises(CredentialsError, match="non-empty password"):
        create_keystore(tmp_path / "x.json", KEY, "")
    # a malformed key is refused without being echoed
    almost = BARE[:-1] + "g"
    with pytest.raises(CredentialsError) as err:
        load_credentials(env={"BIGEARN_PRIVATE_KEY": almost})
    assert "64 hex digits" in str(err.value) and almost not in str(err.value)
    assert err.value.__cause__ is None and err.value.__context__ is None
    with pytest.raises(CredentialsError, match="not a valid secp256k1 private key") as err:
        load_credentials(env={"BIGEARN_PRIVATE_KEY": "0x" + "ff" * 32})
    assert err.value.__cause__ is None and err.value.__suppress_context__  # the parser's error is dropped


def test_the_key_never_reaches_logs_or_reprs_of_the_live_path(caplog: pytest.LogCaptureFixture):
    async def go() -> None:
        creds = load_credentials(env={"BIGEARN_PRIVATE_KEY": KEY})
        async with local_exchange() as ex:
            gw = await OrderGateway.connect(creds, gateway_settings(ex))
            try:
                result = await gw.place(order("k1"))
                assert result.status is PlaceStatus.ACCEPTED
                await gw.cancel_all()
                await gw.heartbeat()
                api = gw.api_credentials
                assert_hidden(repr(gw), str(gw), repr(api), repr(result))
                assert api.secret.reveal() not in repr(api)
            finally:
                await gw.close()

    with caplog.at_level(logging.DEBUG):
        asyncio.run(go())
    assert caplog.records, "the live path logs"
    assert_hidden(caplog.text, *(str(r.__dict__) for r in caplog.records))


# --- keys pasted where an address belongs, and the credential variables next to the config loader ------

PASTED = KEYS[1]  # a key that is not the signer's: pasted where the funder address belongs


def assert_no_digits_of(key: str, *texts: str) -> None:
    """Not even 8 hex digits of the key in a row."""
    digits = key.lower().removeprefix("0x")
    windows = {digits[i : i + 8] for i in range(len(digits) - 7)}
    for text in texts:
        assert not [w for w in windows if w in text.lower()], text


@pytest.mark.parametrize("pasted", [PASTED, PASTED.removeprefix("0x"), f"  {PASTED.upper()[2:]}  "])
def test_a_key_pasted_as_bigearn_funder_is_refused_without_echo(pasted: str) -> None:
    with pytest.raises(CredentialsError) as err:
        load_credentials(env={"BIGEARN_PRIVATE_KEY": KEY, "BIGEARN_FUNDER": pasted})
    message = str(err.value)
    assert message.startswith("env BIGEARN_FUNDER: must be a 0x-prefixed 20-byte hex address (got ")
    assert message.endswith("characters, not shown); this looks like a private key: a key never goes here")
    assert_no_digits_of(PASTED, message, repr(err.value))
    assert_no_digits_of(KEY, message)
    assert err.value.__cause__ is None and err.value.__context__ is None
    with pytest.raises(CredentialsError) as from_setting:
        load_credentials(env={"BIGEARN_PRIVATE_KEY": KEY}, funder=pasted)
    assert str(from_setting.value).startswith("funder setting: must be a 0x-prefixed 20-byte hex address")
    assert_no_digits_of(PASTED, str(from_setting.value))


def test_the_config_loader_refuses_the_same_paste_without_echo() -> None:
    for env in ({"BIGEARN_POLYMARKET__FUNDER": PASTED}, {"BIGEARN_POLYMARKET__FUNDER": PASTED[2:]}):
        with pytest.raises(ConfigError) as err:
            load_settings(REPO_CONFIG, env=env)
        assert "this looks like a private key" in str(err.value)
        assert_no_digits_of(PASTED, str(err.value), *err.value.problems)


def test_bigearn_funder_reaches_the_credentials_through_a_normal_load() -> None:
    env = {"BIGEARN_PRIVATE_KEY": KEY, "BIGEARN_FUNDER": ADDRS[3].lower(), "BIGEARN_KEYSTORE_PASSWORD": "pw"}
    settings = load_settings(REPO_CONFIG, env=env)  # no "unknown key" for any credential variable
    creds = load_credentials(env=env, funder=settings.polymarket.funder or None)
    assert creds.funder == ADDRS[3] and creds.address == ADDRS[2]
    agreeing = load_settings(REPO_CONFIG, env={**env, "BIGEARN_POLYMARKET__FUNDER": ADDRS[3]})
    assert load_credentials(env=env, funder=agreeing.polymarket.funder).funder == ADDRS[3]
    disagreeing = load_settings(REPO_CONFIG, env={**env, "BIGEARN_POLYMARKET__FUNDER": ADDRS[1]})
    with pytest.raises(CredentialsError, match="disagree"):
        load_credentials(env=env, funder=disagreeing.polymarket.funder)


def test_every_credential_variable_is_left_to_the_credentials_code() -> None:
    names = {value for name, value in vars(keys).items() if name.startswith("ENV_")}
    assert names == CREDENTIAL_ENV_VARS
    env = dict.fromkeys(names, "x") | {"BIGEARN_PRIVATE_KEY": KEY, "BIGEARN_FUNDER": ADDRS[3]}
    settings = load_settings(REPO_CONFIG, env=env)
    assert settings == Settings()
    assert_hidden(settings.model_dump_json(), repr(settings))
    assert ADDRS[3].lower() not in settings.model_dump_json().lower()


def test_a_keystore_never_echoes_a_key_from_its_address_field_or_its_path(tmp_path: Path) -> None:
    path = tmp_path / "key.json"
    create_keystore(path, KEY, "pw", scrypt_n=FAST_SCRYPT)
    document = json.loads(path.read_text())
    document["address"] = PASTED.removeprefix("0x")
    path.write_text(json.dumps(document))
    with pytest.raises(CredentialsError) as err:
        read_keystore(path, "pw")
    assert "field 'address': must be a 0x-prefixed 20-byte hex address" in str(err.value)
    assert_no_digits_of(PASTED, str(err.value))
    assert_hidden(str(err.value))

    pasted_path = tmp_path / f"{PASTED[2:]}.json"
    with pytest.raises(CredentialsError) as missing:
        load_credentials(keystore=pasted_path, env={"BIGEARN_KEYSTORE_PASSWORD": "pw"})
    assert "<64 hex digits, not shown>" in str(missing.value) and "file not found" in str(missing.value)
    with pytest.raises(CredentialsError) as both:
        load_credentials(keystore=str(pasted_path), env={"BIGEARN_PRIVATE_KEY": KEY})
    asked: list[str] = []
    with pytest.raises(CredentialsError):
        load_credentials(keystore=pasted_path, env={}, prompt=lambda m: asked.append(m) or "")
    for text in (str(missing.value), str(both.value), *asked):
        assert_no_digits_of(PASTED, text)
