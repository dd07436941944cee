"""Settings: defaults, layering, env/CLI coercion, one-line errors, secrets, exactness.

Every test passes ``env`` explicitly so the real environment never leaks in.
"""

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.config import (
    ConfigError,
    EngineSettings,
    Settings,
    default_config_path,
    describe_keys,
    load_settings,
)

REPO_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(**kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_settings(**kwargs)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    return info.value


# ---------------------------------------------------------------- defaults and the repo file


def test_defaults() -> None:
    s = Settings()
    assert s.engine.mode == "semi"
    assert s.engine.seed == 7
    assert s.bankroll.starting_usdc == Decimal("1000")
    assert s.risk.min_order_usdc == Decimal("1")
    assert s.breakers.max_daily_loss_pct == 0.05
    assert s.breakers.kill_switch_file == "KILL_SWITCH"
    assert s.venue.kind == "replay"
    assert s.venue.speed == 1.0
    assert s.store.path == "bigearn.db"
    assert s.ui.crash_action == "halt_cancel"
    assert s.log.level == "info"
    assert s.config_path is None


def test_settings_constructor_ignores_process_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BIGEARN_ENGINE__MODE", "auto")
    assert Settings().engine.mode == "semi"


def test_repo_config_toml_is_exactly_the_defaults() -> None:
    loaded = load_settings(REPO_CONFIG, env={})
    assert loaded == Settings()
    assert loaded.model_dump(mode="json") == Settings().model_dump(mode="json")
    assert loaded.config_path == REPO_CONFIG


def test_repo_config_toml_documents_every_key() -> None:
    data = tomllib.loads(REPO_CONFIG.read_text(encoding="utf-8"))
    in_file = {f"{section}.{key}" for section, table in data.items() for key in table}
    assert in_file == {key for key, _, _ in describe_keys()}


def test_default_path_is_the_repo_config() -> None:
    assert default_config_path() == REPO_CONFIG
    assert load_settings(env={}).config_path == REPO_CONFIG


def test_missing_explicit_path_is_an_error(tmp_path: Path) -> None:
    err = error_of(path=tmp_path / "nope.toml", env={})
    assert "nope.toml" in str(err) and "not found" in str(err)


def test_model_dump_json_is_plain_data() -> None:
    dump = load_settings(REPO_CONFIG, env={}).model_dump(mode="json")
    assert dump["bankroll"]["starting_usdc"] == "1000"
    assert dump["venue"]["speed"] == 1.0
    assert Settings.model_validate(dump) == Settings()


def test_describe_keys_has_a_sentence_for_every_key() -> None:
    rows = describe_keys()
    assert ("engine.mode", "'semi'", "one of 'semi', 'auto', 'observe'") in rows
    assert ("breakers.max_daily_loss_pct", "0.05", "a number > 0 and <= 1") in rows
    assert all(accepted for _, _, accepted in rows)
    assert len(rows) == len({key for key, _, _ in rows})


# ---------------------------------------------------------------- layering


@pytest.mark.parametrize(
    ("var", "text", "attr", "expected"),
    [
        ("BIGEARN_STORE__PATH", "/data/x.db", ("store", "path"), "/data/x.db"),
        ("BIGEARN_ENGINE__MODE", "auto", ("engine", "mode"), "auto"),
        ("BIGEARN_VENUE__KIND", "sim", ("venue", "kind"), "sim"),
        ("BIGEARN_BREAKERS__MAX_DAILY_LOSS_PCT", "0.03", ("breakers", "max_daily_loss_pct"), 0.03),
        ("BIGEARN_BREAKERS__KILL_SWITCH_FILE", "/run/STOP", ("breakers", "kill_switch_file"), "/run/STOP"),
    ],
)
def test_env_overrides(tmp_path: Path, var: str, text: str, attr: tuple[str, str], expected: object) -> None:
    s = load_settings(write(tmp_path, ""), env={var: text})
    assert getattr(getattr(s, attr[0]), attr[1]) == expected


def test_env_values_are_typed_like_toml() -> None:
    s = load_settings(
        REPO_CONFIG,
        env={
            "BIGEARN_ENGINE__SEED": "42",
            "BIGEARN_ENGINE__CYCLE_INTERVAL_S": "2",
            "BIGEARN_RISK__REDUCE_ONLY": "1",
            "BIGEARN_VENUE__LIVE": "true",
            "BIGEARN_RISK__CLUSTER_KEYWORDS": '{"us": ["senate", "house"]}',
            "BIGEARN_UI__KEYMAP": '{"quit": "ctrl+q"}',
            "BIGEARN_BANKROLL__STARTING_USDC": "250.123456",
        },
    )
    assert s.engine.seed == 42
    assert s.engine.cycle_interval_s == 2.0
    assert s.risk.reduce_only is True
    assert s.venue.live is True
    assert s.risk.cluster_keywords == {"us": ["senate", "house"]}
    assert s.ui.keymap == {"quit": "ctrl+q"}
    assert s.bankroll.starting_usdc == Decimal("250.123456")


def test_priority_cli_over_env_over_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[engine]\nmode = "observe"\nseed = 1\n[store]\npath = "file.db"\n')
    file_only = load_settings(path, env={})
    assert (file_only.engine.mode, file_only.engine.seed, file_only.store.path) == ("observe", 1, "file.db")

    env = {"BIGEARN_ENGINE__MODE": "semi", "BIGEARN_STORE__PATH": "env.db"}
    with_env = load_settings(path, env=env)
    assert (with_env.engine.mode, with_env.engine.seed, with_env.store.path) == ("semi", 1, "env.db")

    with_cli = load_settings(path, overrides={"engine.mode": "auto", "venue.speed": "max"}, env=env)
    assert (with_cli.engine.mode, with_cli.store.path, with_cli.venue.speed) == ("auto", "env.db", "max")


def test_cli_none_means_flag_not_given() -> None:
    s = load_settings(REPO_CONFIG, overrides={"engine.mode": None}, env={"BIGEARN_ENGINE__MODE": "observe"})
    assert s.engine.mode == "observe"


def test_cli_strings_are_coerced() -> None:
    s = load_settings(REPO_CONFIG, overrides={"engine.seed": "9", "venue.live": "false"}, env={})
    assert s.engine.seed == 9 and s.venue.live is False


def test_only_the_effective_value_is_validated(tmp_path: Path) -> None:
    path = write(tmp_path, '[engine]\nmode = "fast"\n')
    assert load_settings(path, overrides={"engine.mode": "auto"}, env={}).engine.mode == "auto"


def test_secret_named_env_vars_are_not_config() -> None:
    s = load_settings(REPO_CONFIG, env={"BIGEARN_PRIVATE_KEY": "0xabc", "BIGEARN_VENUE__API_SECRET": "x"})
    assert s == Settings()


# ---------------------------------------------------------------- one-line errors


def test_bad_literal_in_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[engine]\nmode = "fast"\n')
    err = error_of(path=path, env={})
    assert (
        str(err)
        == f"engine.mode = 'fast' (from config.toml {path.resolve()}): accepted: one of 'semi', 'auto', 'observe'"
    )
    assert err.key == "engine.mode"


def test_out_of_range_in_env() -> None:
    err = error_of(path=REPO_CONFIG, env={"BIGEARN_BREAKERS__MAX_DAILY_LOSS_PCT": "1.5"})
    assert str(err) == (
        "breakers.max_daily_loss_pct = 1.5 (from env BIGEARN_BREAKERS__MAX_DAILY_LOSS_PCT): "
        "accepted: a number > 0 and <= 1"
    )


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[engine]\nseed = "7"\n', "engine.seed = '7' "),
        ("[engine]\nseed = -1\n", "engine.seed = -1 "),
        ("[engine]\nmax_active_markets = 2.5\n", "engine.max_active_markets = 2.5 "),
        ("[venue]\nlive = 1\n", "venue.live = 1 "),
        ("[risk]\nkelly_fraction = true\n", "risk.kelly_fraction = True "),
        ("[risk]\ncluster_keywords = { a = [1] }\n", "risk.cluster_keywords = {'a': [1]} "),
        ("[execution]\nbatch_max = 16\n", "execution.batch_max = 16 "),
        ("[breakers]\ncooldown_s = nan\n", "breakers.cooldown_s = nan "),
        ('[venue]\nclob_url = "ftp://x"\n', "venue.clob_url = 'ftp://x' "),
        ('[store]\npath = ""\n', "store.path = '' "),
    ],
)
def test_wrong_type_or_range_in_file(tmp_path: Path, toml: str, expected: str) -> None:
    path = write(tmp_path, toml)
    message = str(error_of(path=path, env={}))
    assert message.startswith(expected + f"(from config.toml {path.resolve()}): accepted: ")


def test_wrong_type_in_env_is_reported_as_given() -> None:
    err = error_of(path=REPO_CONFIG, env={"BIGEARN_VENUE__LIVE": "yes"})
    assert (
        str(err)
        == "venue.live = 'yes' (from env BIGEARN_VENUE__LIVE): accepted: true or false (1 or 0 in env)"
    )
    err = error_of(path=REPO_CONFIG, env={"BIGEARN_UI__KEYMAP": "{not json"})
    assert str(err).startswith("ui.keymap = '{not json' (from env BIGEARN_UI__KEYMAP): accepted: a table")


def test_bad_value_from_cli() -> None:
    err = error_of(path=REPO_CONFIG, overrides={"engine.publish_hz": 0}, env={})
    assert (
        str(err) == "engine.publish_hz = 0 (from cli --engine.publish_hz): accepted: a number > 0 and <= 60"
    )


@pytest.mark.parametrize("speed", ["fast", "0", -2, "inf", True, "nan"])
def test_bad_speed(speed: object) -> None:
    err = error_of(path=REPO_CONFIG, overrides={"venue.speed": speed}, env={})
    assert str(err).startswith(f"venue.speed = {speed!r} (from cli --venue.speed): ")
    assert str(err).endswith('accepted: a number > 0 or "max"')


def test_unknown_key_in_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[venue]\nkinds = "sim"\n')
    message = str(error_of(path=path, env={}))
    assert message.startswith(
        f"venue.kinds (from config.toml {path.resolve()}): unknown key; accepted keys in [venue]: kind, live, data,"
    )
    assert "'sim'" not in message


def test_unknown_section_in_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[engin]\nmode = 1\n")
    assert str(error_of(path=path, env={})) == (
        f"engin (from config.toml {path.resolve()}): unknown section; "
        f"accepted sections: {', '.join(Settings.model_fields)}"
    )
    assert "engine, bankroll, risk, breakers, execution" in str(error_of(path=path, env={}))


def test_section_must_be_a_table(tmp_path: Path) -> None:
    path = write(tmp_path, "engine = 5\n")
    assert str(error_of(path=path, env={})).startswith(
        f"engine = 5 (from config.toml {path.resolve()}): accepted:"
    )


@pytest.mark.parametrize(
    ("var", "expected"),
    [
        (
            "BIGEARN_VENUE__KINDS",
            "venue.kinds (from env BIGEARN_VENUE__KINDS): unknown key; accepted keys in [venue]: ",
        ),
        (
            "BIGEARN_NOPE__MODE",
            "nope (from env BIGEARN_NOPE__MODE): unknown section; accepted sections: engine,",
        ),
        (
            "BIGEARN_MODE",
            "BIGEARN_MODE (from env BIGEARN_MODE): not a known setting; config env vars are named ",
        ),
        (
            "BIGEARN_ENGINE__MODE__X",
            "BIGEARN_ENGINE__MODE__X (from env BIGEARN_ENGINE__MODE__X): not a known",
        ),
    ],
)
def test_unknown_bigearn_env_var(var: str, expected: str) -> None:
    assert str(error_of(path=REPO_CONFIG, env={var: "x", "OTHER_VAR": "ignored"})).startswith(expected)


def test_unknown_cli_key() -> None:
    assert str(error_of(path=REPO_CONFIG, overrides={"engine.speed": 2}, env={})).startswith(
        "engine.speed (from cli --engine.speed): unknown key; accepted keys in [engine]: mode, seed,"
    )


def test_bad_toml_syntax(tmp_path: Path) -> None:
    path = write(tmp_path, "[engine]\nmode = \n")
    message = str(error_of(path=path, env={}))
    assert message.startswith(f"{path.resolve()}: invalid TOML: ")
    assert "line 2" in message and "column" in message


def test_first_problem_is_reported_and_all_are_kept(tmp_path: Path) -> None:
    path = write(tmp_path, '[engine]\nmode = "fast"\nseed = -1\n[venue]\nkinds = 1\n')
    err = error_of(path=path, env={"BIGEARN_LOG__LEVEL": "loud"})
    assert str(err).startswith("venue.kinds ")  # structural problems come before value problems
    assert [p.split(" ", 1)[0] for p in err.problems] == [
        "venue.kinds",
        "engine.mode",
        "engine.seed",
        "log.level",
    ]
    assert str(error_of(path=path, env={"BIGEARN_LOG__LEVEL": "loud"})) == str(err)


def test_long_values_are_truncated(tmp_path: Path) -> None:
    path = write(tmp_path, f'[engine]\nmode = "{"x" * 500}"\n')
    message = str(error_of(path=path, env={}))
    shown = message.split(" = ", 1)[1].split(" (from ", 1)[0]
    assert len(shown) == 60 and shown.endswith("...")


# ---------------------------------------------------------------- secrets


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[venue]\nprivate_key = "0xdeadbeefcafe"\n', "venue.private_key"),
        ('[venue]\nclob_api_key = "0xdeadbeefcafe"\n', "venue.clob_api_key"),
        ('[venue.creds]\nPassphrase = "0xdeadbeefcafe"\n', "venue.creds.Passphrase"),
        ('[ui.keymap]\nmy-secret = "0xdeadbeefcafe"\n', "ui.keymap.my-secret"),
        ('mnemonic = "0xdeadbeefcafe"\n', "mnemonic"),
        ('[[accounts]]\npassword = "0xdeadbeefcafe"\n', "accounts[0].password"),
    ],
)
def test_secrets_in_file_are_refused_without_echo(tmp_path: Path, toml: str, key: str) -> None:
    path = write(tmp_path, toml)
    err = error_of(path=path, env={})
    message = str(err)
    assert message.startswith(
        f"{key} (from config.toml {path.resolve()}): secrets are never read from config.toml"
    )
    assert "environment" in message and "keystore" in message
    assert all("deadbeef" not in problem for problem in err.problems)


# ---------------------------------------------------------------- exactness and normalisation


@pytest.mark.parametrize(
    ("toml_value", "expected"),
    [('"1000.10"', "1000.10"), ("1000", "1000"), ('"0.000001"', "0.000001"), ("1000.5", "1000.5")],
)
def test_decimal_is_exact(tmp_path: Path, toml_value: str, expected: str) -> None:
    s = load_settings(write(tmp_path, f"[bankroll]\nstarting_usdc = {toml_value}\n"), env={})
    assert isinstance(s.bankroll.starting_usdc, Decimal)
    assert str(s.bankroll.starting_usdc) == expected
    assert s.model_dump(mode="json")["bankroll"]["starting_usdc"] == expected


def test_decimal_from_env_is_exact() -> None:
    s = load_settings(REPO_CONFIG, env={"BIGEARN_BANKROLL__STARTING_USDC": "1000.10"})
    assert str(s.bankroll.starting_usdc) == "1000.10"


@pytest.mark.parametrize("toml_value", ["0.1234567", '"0.0000001"', '"abc"', "0", '"-5"', "true", '"NaN"'])
def test_decimal_rejects(tmp_path: Path, toml_value: str) -> None:
    path = write(tmp_path, f"[bankroll]\nstarting_usdc = {toml_value}\n")
    message = str(error_of(path=path, env={}))
    assert message.startswith("bankroll.starting_usdc = ")
    assert message.endswith(
        'accepted: an exact USDC amount > 0 with at most 6 decimals (a string like "1000.50" or an integer)'
    )


@pytest.mark.parametrize(
    ("given", "expected"), [("max", "max"), ("MAX", "max"), ("10", 10.0), (10, 10.0), (2.5, 2.5)]
)
def test_speed_normalisation(given: object, expected: object) -> None:
    s = load_settings(REPO_CONFIG, overrides={"venue.speed": given}, env={})
    assert s.venue.speed == expected and type(s.venue.speed) is type(expected)


def test_speed_from_file_and_env(tmp_path: Path) -> None:
    path = write(tmp_path, '[venue]\nspeed = "max"\n')
    assert load_settings(path, env={}).venue.speed == "max"
    assert load_settings(path, env={"BIGEARN_VENUE__SPEED": "2.5"}).venue.speed == 2.5


# ---------------------------------------------------------------- immutability and paths


def test_models_are_frozen() -> None:
    s = load_settings(REPO_CONFIG, env={})
    with pytest.raises(ValidationError):
        s.engine.mode = "auto"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        s.engine = EngineSettings()  # type: ignore[misc]
    with pytest.raises(ValidationError):
        EngineSettings(mode="semi", speed=1)  # type: ignore[call-arg]


def test_kill_switch_resolves_against_config_dir(tmp_path: Path) -> None:
    path = write(tmp_path, '[breakers]\nkill_switch_file = "STOP"\n')
    assert load_settings(path, env={}).kill_switch_path == tmp_path.resolve() / "STOP"
    absolute = load_settings(path, env={"BIGEARN_BREAKERS__KILL_SWITCH_FILE": "/run/STOP"})
    assert absolute.kill_switch_path == Path("/run/STOP")


def test_kill_switch_without_file_resolves_against_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert Settings().kill_switch_path == tmp_path / "KILL_SWITCH"


# ---------------------------------------------------------------- risk sections: market state and zones


def test_market_state_and_zones_from_file_and_env(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "[market_state]\nratchet = [[48, 0.5]]\nshort_close_window_s = 90\n"
        '[zones.bands]\nall = { low = 0.01, high = 0.99, strategies = ["value_betting"] }\n',
    )
    s = load_settings(
        path,
        env={"BIGEARN_MARKET_STATE__SHORT_RATCHET": "[[30, 0.2]]", "BIGEARN_ZONES__OUTSIDE": '["arbitrage"]'},
    )
    assert s.market_state.ratchet == [[48.0, 0.5]] and s.market_state.short_close_window_s == 90.0
    assert s.market_state.short_ratchet == [[30.0, 0.2]]
    assert list(s.zones.bands) == ["all"] and s.zones.bands["all"].strategies == ["value_betting"]
    assert s.zones.outside == ["arbitrage"]


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ("[market_state]\nratchet = [[24, 1.5]]\n", "market_state.ratchet"),
        ("[market_state]\nshort_ratchet = [[60]]\n", "market_state.short_ratchet"),
        ("[zones.bands]\na = { low = 0.1, high = 0.5 }\nb = { low = 0.4, high = 0.6 }\n", "zones.bands"),
        ("[zones.bands]\na = { low = 0.5, high = 0.5 }\n", "zones.bands"),
        ("[zones.bands]\na = { low = 0.1, high = 1.5 }\n", "zones.bands"),
    ],
)
def test_bad_ratchets_and_zones_are_refused(tmp_path: Path, toml: str, key: str) -> None:
    path = write(tmp_path, toml)
    assert str(error_of(path=path, env={})).startswith(f"{key} = ")
