"""Settings: defaults, layering, env/CLI coercion, one-line errors, secrets, exactness.

Every test passes ``env`` explicitly so the real environment never leaks in.
"""

import tomllib
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from engine.config import (
    BRAIN_ENV_VARS,
    CREDENTIAL_ENV_VARS,
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
    strategies = data.pop("strategies")
    in_file = {f"{section}.{key}" for section, table in data.items() for key in table}
    assert in_file == {key for key, _, _ in describe_keys()}
    # Every available strategy has its table with every one of its keys.
    from engine.strategies.registry import AVAILABLE

    assert {name: set(table) for name, table in strategies.items()} == {
        name: set(cls.Config.model_fields) for name, cls in AVAILABLE.items()
    }


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
        str(err)
        == "engine.publish_hz = 0 (from cli --engine.publish_hz): accepted: a number >= 0.1 and <= 60"
    )


@pytest.mark.parametrize("speed", ["fast", "0", -2, "inf", True, "nan", "1e-300", 1e7])
def test_bad_speed(speed: object) -> None:
    err = error_of(path=REPO_CONFIG, overrides={"venue.speed": speed}, env={})
    assert str(err).startswith(f"venue.speed = {speed!r} (from cli --venue.speed): ")
    assert str(err).endswith('accepted: a number >= 0.001 and <= 1000000 or "max"')


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


STARTING_USDC_ACCEPTED = "accepted: a finite amount of USDC > 0 and <= 1000000000000 with at most 6 decimals"


@pytest.mark.parametrize("toml_value", ["0.1234567", '"0.0000001"', '"abc"', "0", '"-5"', "true", '"NaN"'])
def test_decimal_rejects(tmp_path: Path, toml_value: str) -> None:
    path = write(tmp_path, f"[bankroll]\nstarting_usdc = {toml_value}\n")
    message = str(error_of(path=path, env={}))
    assert message.startswith("bankroll.starting_usdc = ")
    assert message.endswith(STARTING_USDC_ACCEPTED)


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


# ---------------------------------------------------------------- bounds: finite, exact, sane


BAD_USDC = ["1e999", "inf", "nan", "-1", "1e-9", "-0", "1000000000000.000001", "1e12000000", str(10**30)]


@pytest.mark.parametrize("text", BAD_USDC)
def test_starting_usdc_out_of_bounds_from_file_env_and_cli(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, f'[bankroll]\nstarting_usdc = "{text}"\n')
    var = "BIGEARN_BANKROLL__STARTING_USDC"
    for kwargs, source in (
        ({"path": path, "env": {}}, f"config.toml {path.resolve()}"),
        ({"path": REPO_CONFIG, "env": {var: text}}, f"env {var}"),
        (
            {"path": REPO_CONFIG, "overrides": {"bankroll.starting_usdc": text}, "env": {}},
            "cli --bankroll.starting_usdc",
        ),
    ):
        err = error_of(**kwargs)
        assert str(err) == f"bankroll.starting_usdc = {text!r} (from {source}): {STARTING_USDC_ACCEPTED}"
        assert err.key == "bankroll.starting_usdc"


@pytest.mark.parametrize(
    ("toml_value", "shown"),
    [
        ("1e999", "inf"),  # TOML reads this as a float: infinity
        ("inf", "inf"),
        ("-inf", "-inf"),
        ("nan", "nan"),
        ("-1", "-1"),
        ("1e-9", "1e-09"),
        ("1_000_000_000_001", "1000000000001"),
        (str(10**30), str(10**30)),
        (str(10**40), "<an integer of 41 digits, not shown>"),  # as long as a key pasted as a number
    ],
)
def test_starting_usdc_numbers_out_of_bounds_in_file(tmp_path: Path, toml_value: str, shown: str) -> None:
    path = write(tmp_path, f"[bankroll]\nstarting_usdc = {toml_value}\n")
    assert str(error_of(path=path, env={})) == (
        f"bankroll.starting_usdc = {shown} (from config.toml {path.resolve()}): {STARTING_USDC_ACCEPTED}"
    )


def test_the_documented_1e999_line() -> None:
    err = error_of(path=REPO_CONFIG, env={"BIGEARN_BANKROLL__STARTING_USDC": "1e999"})
    assert str(err) == (
        "bankroll.starting_usdc = '1e999' (from env BIGEARN_BANKROLL__STARTING_USDC): "
        "accepted: a finite amount of USDC > 0 and <= 1000000000000 with at most 6 decimals"
    )


@pytest.mark.parametrize(
    "value", [float("inf"), float("nan"), -1, 10**30, pytest.param(10**5000, id="10**5000"), Decimal("1e999")]
)
def test_starting_usdc_out_of_bounds_as_cli_values(value: object) -> None:
    err = error_of(path=REPO_CONFIG, overrides={"bankroll.starting_usdc": value}, env={})
    assert str(err).startswith("bankroll.starting_usdc = ")
    assert str(err).endswith(f"(from cli --bankroll.starting_usdc): {STARTING_USDC_ACCEPTED}")


def test_starting_usdc_with_digit_separators_and_at_the_bounds(tmp_path: Path) -> None:
    var = "BIGEARN_BANKROLL__STARTING_USDC"
    for s in (
        load_settings(write(tmp_path, "[bankroll]\nstarting_usdc = 1_000\n"), env={}),
        load_settings(write(tmp_path, '[bankroll]\nstarting_usdc = "1_000"\n'), env={}),
        load_settings(REPO_CONFIG, env={var: "1_000"}),
        load_settings(REPO_CONFIG, overrides={"bankroll.starting_usdc": "1_000"}, env={}),
    ):
        assert s.bankroll.starting_usdc == Decimal(1000)
    top = load_settings(REPO_CONFIG, env={var: "1000000000000"}).bankroll.starting_usdc
    assert top == Decimal(10**12)
    assert load_settings(REPO_CONFIG, env={var: "0.000001"}).bankroll.starting_usdc == Decimal("0.000001")


@pytest.mark.parametrize(
    ("key", "value", "accepted"),
    [
        ("risk.min_order_usdc", "-1", ">= 0 and <= 1000000000000"),
        ("risk.min_order_usdc", "1e999", ">= 0 and <= 1000000000000"),
        ("breakers.max_rolling_loss_usdc", "inf", "> 0 and <= 1000000000000"),
        ("polymarket.min_liquidity_usdc", "1e-9", ">= 0 and <= 1000000000000"),
    ],
)
def test_every_usdc_setting_is_bounded(key: str, value: str, accepted: str) -> None:
    section, name = key.split(".")
    var = f"BIGEARN_{section.upper()}__{name.upper()}"
    assert str(error_of(path=REPO_CONFIG, env={var: value})) == (
        f"{key} = {value!r} (from env {var}): "
        f"accepted: a finite amount of USDC {accepted} with at most 6 decimals"
    )
    assert load_settings(REPO_CONFIG, env={var: "1_000.5"}).model_dump()[section][name] == Decimal("1000.5")


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999", "NaN", "Infinity"])
def test_float_settings_refuse_nan_and_inf_from_env_file_and_cli(tmp_path: Path, text: str) -> None:
    var = "BIGEARN_ENGINE__CYCLE_INTERVAL_S"
    accepted = "accepted: a number > 0 and <= 86400"
    assert str(error_of(path=REPO_CONFIG, env={var: text})).endswith(f"(from env {var}): {accepted}")
    number = float(text)
    cli = error_of(path=REPO_CONFIG, overrides={"engine.cycle_interval_s": number}, env={})
    assert (
        str(cli) == f"engine.cycle_interval_s = {number!r} (from cli --engine.cycle_interval_s): {accepted}"
    )
    toml = {"nan": "nan", "inf": "inf", "-inf": "-inf", "1e999": "1e999"}.get(text)
    if toml is not None:
        path = write(tmp_path, f"[engine]\ncycle_interval_s = {toml}\n")
        assert str(error_of(path=path, env={})).endswith(f"{accepted}")


def _numeric_settings() -> list[tuple[str, str, object]]:
    """(section, key, annotation) of every setting that holds a number or a list of numbers."""
    out = []
    for section, model in Settings.model_fields.items():
        if section == "strategies":  # tables of each strategy's own model (tests/test_strategy_config.py)
            continue
        assert model.annotation is not None
        for key, field in model.annotation.model_fields.items():
            if field.annotation in (int, float, Decimal) or key in ("speed", "ratchet", "short_ratchet"):
                out.append((section, key, field.annotation))
    return out


@pytest.mark.parametrize(("section", "key", "annotation"), _numeric_settings())
def test_every_number_has_an_upper_bound_and_refuses_nan(section: str, key: str, annotation: object) -> None:
    huge: object = 10**30 if annotation is int else 1e300
    if key in ("ratchet", "short_ratchet"):
        huge = [[1e300, 0.5]]
    err = error_of(path=REPO_CONFIG, overrides={f"{section}.{key}": huge}, env={})
    assert err.key == f"{section}.{key}" and "accepted: " in str(err)
    if annotation is not int:
        nan = [[float("nan"), 0.5]] if key in ("ratchet", "short_ratchet") else float("nan")
        assert (
            error_of(path=REPO_CONFIG, overrides={f"{section}.{key}": nan}, env={}).key == f"{section}.{key}"
        )


def test_bounds_are_stated_in_the_accepted_text() -> None:
    rows = {key: accepted for key, _, accepted in describe_keys()}
    assert rows["engine.cycle_interval_s"] == "a number > 0 and <= 86400"
    assert rows["breakers.cooldown_s"] == "a number >= 0 and <= 604800"
    assert rows["engine.seed"] == "an integer >= 0 and <= 9223372036854775807"
    assert rows["market_state.ratchet"].startswith("a list of [hours to close in [0, 8760], size multiplier")
    assert rows["venue.speed"] == 'a number >= 0.001 and <= 1000000 or "max"'


def test_a_toml_integer_too_long_to_read_is_one_clear_line(tmp_path: Path) -> None:
    path = write(tmp_path, f"[bankroll]\nstarting_usdc = {'9' * 5000}\n")
    message = str(error_of(path=path, env={}))
    assert message.startswith(f"{path.resolve()}: invalid TOML: ") and "9999" not in message


# ---------------------------------------------------------------- keys pasted where they do not belong


PASTED_KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def assert_key_absent(key: str, *texts: str) -> None:
    """None of the key's hex digits leak: not even 8 of them in a row."""
    digits = key.lower().removeprefix("0x")
    for text in texts:
        low = text.lower()
        assert not [digits[i : i + 8] for i in range(len(digits) - 7) if digits[i : i + 8] in low], text


@pytest.mark.parametrize("key", [PASTED_KEY, PASTED_KEY.removeprefix("0x"), PASTED_KEY.upper()[2:]])
def test_a_private_key_pasted_as_funder_is_refused_without_echo(tmp_path: Path, key: str) -> None:
    accepted = 'accepted: a 0x address of 40 hex digits, or ""; this looks like a private key: never put a key in config'
    path = write(tmp_path, f'[polymarket]\nfunder = "{key}"\n')
    from_file = error_of(path=path, env={})
    assert str(from_file) == (
        f"polymarket.funder = <{len(key)} characters, not shown> (from config.toml {path.resolve()}): {accepted}"
    )
    var = "BIGEARN_POLYMARKET__FUNDER"
    from_env = error_of(path=REPO_CONFIG, env={var: key})
    assert (
        str(from_env)
        == f"polymarket.funder = <{len(key)} characters, not shown> (from env {var}): {accepted}"
    )
    from_cli = error_of(path=REPO_CONFIG, overrides={"polymarket.funder": key}, env={})
    for err in (from_file, from_env, from_cli):
        assert_key_absent(PASTED_KEY, str(err), repr(err), *err.problems, str(err.key), str(err.source))


def test_an_address_field_never_echoes_what_it_refuses(tmp_path: Path) -> None:
    var = "BIGEARN_POLYMARKET__FUNDER"
    assert str(error_of(path=REPO_CONFIG, env={var: "alice"})) == (
        f'polymarket.funder = <5 characters, not shown> (from env {var}): accepted: a 0x address of 40 hex digits, or ""'
    )
    # TOML reads 0x... as an integer: still refused, and the number is not printed either
    path = write(tmp_path, f"[polymarket]\nfunder = {PASTED_KEY}\n")
    message = str(error_of(path=path, env={}))
    assert message.startswith("polymarket.funder = <an integer of ") and "not shown" in message
    assert_key_absent(PASTED_KEY, message, str(int(PASTED_KEY, 16)))
    assert str(int(PASTED_KEY, 16))[:12] not in message
    address = "0x" + "ab" * 20
    assert load_settings(REPO_CONFIG, env={var: address}).polymarket.funder == address


def test_a_key_pasted_into_any_setting_or_name_is_not_echoed(tmp_path: Path) -> None:
    err = error_of(path=REPO_CONFIG, env={"BIGEARN_LOG__LEVEL": PASTED_KEY})
    assert str(err).startswith(
        "log.level = <66 characters, not shown> (from env BIGEARN_LOG__LEVEL): accepted: "
    )
    assert str(err).endswith("; this looks like a private key: never put a key in config")
    named = error_of(path=REPO_CONFIG, env={f"BIGEARN_{PASTED_KEY[2:]}": "1"})
    path = write(tmp_path, f'[polymarket]\n"{PASTED_KEY}" = 1\n')
    in_file = error_of(path=path, env={})
    cli = error_of(path=REPO_CONFIG, overrides={f"venue.{PASTED_KEY}": 1}, env={})
    for e in (err, named, in_file, cli):
        assert_key_absent(PASTED_KEY, str(e), *e.problems, str(e.key), str(e.source))
    assert "<64 hex digits, not shown>" in str(named) and "<66 hex digits" not in str(in_file)


# ---------------------------------------------------------------- credential variables


def test_credential_env_vars_are_neither_refused_nor_kept() -> None:
    env = {
        "BIGEARN_PRIVATE_KEY": PASTED_KEY,
        "BIGEARN_FUNDER": "0x" + "cd" * 20,
        "BIGEARN_API_KEY": "5c7a3f0e-key",
        "BIGEARN_API_SECRET": "c2VjcmV0LXNlY3JldA==",
        "BIGEARN_API_PASSPHRASE": "pass-phrase-value",
        "BIGEARN_KEYSTORE_PASSWORD": "hunter2",
        "BIGEARN_LLM_URL": "http://127.0.0.1:9/v1",
        "BIGEARN_LLM_MODEL": "local-model",
        "BIGEARN_LLM_API_KEY": "sk-llm-key-value",
    }
    assert set(env) == CREDENTIAL_ENV_VARS | BRAIN_ENV_VARS
    s = load_settings(REPO_CONFIG, env=env)
    assert s == Settings()
    dumped = s.model_dump_json()
    assert not [value for value in env.values() if value.lower() in dumped.lower()]
    assert_key_absent(PASTED_KEY, dumped, repr(s))


def test_bigearn_funder_loads_alone_and_next_to_the_funder_setting() -> None:
    address = "0x" + "cd" * 20
    assert load_settings(REPO_CONFIG, env={"BIGEARN_FUNDER": address}) == Settings()
    both = load_settings(REPO_CONFIG, env={"BIGEARN_FUNDER": address, "BIGEARN_POLYMARKET__FUNDER": address})
    assert both.polymarket.funder == address  # whether the two agree is checked with the credentials


def test_a_toml_syntax_error_does_not_quote_a_pasted_key(tmp_path: Path) -> None:
    bare = PASTED_KEY.removeprefix("0x")
    path = write(tmp_path, f"[{bare}]\n[{bare}]\n")
    message = str(error_of(path=path, env={}))
    assert message.startswith(f"{path.resolve()}: invalid TOML: Cannot declare ")
    assert_key_absent(PASTED_KEY, message)


@pytest.mark.parametrize("var", ["BIGEARN_VENUE__KEYSTORE", "BIGEARN_STORE__PATH", "BIGEARN_LOG__FILE"])
def test_a_key_is_never_accepted_as_a_text_setting(var: str) -> None:
    # Settings are stored with every run: a key that passed here would land in the database.
    err = error_of(path=REPO_CONFIG, env={var: PASTED_KEY})
    assert str(err).endswith("; this looks like a private key: never put a key in config")
    assert_key_absent(PASTED_KEY, str(err))
    condition_id = "0x" + "ab" * 32  # the same shape, and a legitimate value where markets are listed
    listed = load_settings(REPO_CONFIG, env={"BIGEARN_POLYMARKET__INCLUDE_MARKETS": condition_id})
    assert listed.polymarket.include_markets == condition_id
