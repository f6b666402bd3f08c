"""Settings: profiles, environment, TOML files, validation and secret handling."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskseal.errors import ConfigError
from riskseal.settings import Settings, settings_reference_markdown, unknown_variables

DOCS = Path(__file__).resolve().parents[2] / "docs" / "CONFIGURATION.md"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("RISKSEAL_"):
            monkeypatch.delenv(name)


def test_local_profile_has_small_group_timeouts() -> None:
    settings = Settings.local()
    assert settings.kafka_session_timeout_ms == 6_000
    assert settings.kafka_heartbeat_interval_ms == 1_000
    assert settings.kafka_replication_factor == 1


def test_production_profile_defaults() -> None:
    settings = Settings.production()
    assert settings.kafka_session_timeout_ms == 45_000
    assert settings.kafka_replication_factor == 3
    assert settings.object_lock_retention_days == 2_557


def test_explicit_value_wins_over_profile_default() -> None:
    assert Settings.production(kafka_session_timeout_ms=9_000).kafka_session_timeout_ms == 9_000


def test_profile_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKSEAL_PROFILE", "production")
    monkeypatch.setenv("RISKSEAL_KAFKA_BOOTSTRAP", "kafka:9092")
    settings = Settings.from_env()
    assert settings.profile == "production"
    assert settings.kafka_session_timeout_ms == 45_000
    assert settings.kafka_bootstrap == "kafka:9092"


def test_unknown_profile_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKSEAL_PROFILE", "staging")
    with pytest.raises(ConfigError, match=r"profile \(RISKSEAL_PROFILE\)"):
        Settings.from_env()


def test_bad_number_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RISKSEAL_PARTITIONS_ACCESS", "zero")
    with pytest.raises(ConfigError, match="RISKSEAL_PARTITIONS_ACCESS"):
        Settings.from_env()


def test_toml_file_is_loaded_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "riskseal.toml"
    config.write_text(
        'profile = "production"\ns3_bucket = "from-file"\nkafka_bootstrap = "file:9092"\n'
    )
    monkeypatch.setenv("RISKSEAL_KAFKA_BOOTSTRAP", "env:9092")
    settings = Settings.from_toml(config)
    assert settings.profile == "production"
    assert settings.s3_bucket == "from-file"
    assert settings.kafka_bootstrap == "env:9092"
    assert settings.kafka_replication_factor == 3


def test_config_file_from_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "riskseal.toml"
    config.write_text('s3_prefix = "audit-trail"\n')
    monkeypatch.setenv("RISKSEAL_CONFIG", str(config))
    assert Settings.from_env().s3_prefix == "audit-trail"


def test_unknown_key_in_toml_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "riskseal.toml"
    config.write_text('kafka_bootstrapp = "typo:9092"\n')
    with pytest.raises(ConfigError, match=r"unknown setting.*kafka_bootstrapp"):
        Settings.from_toml(config)


def test_invalid_toml_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "riskseal.toml"
    config.write_text("s3_bucket = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        Settings.from_toml(config)


def test_missing_toml_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read config file"):
        Settings.from_toml(tmp_path / "absent.toml")


def test_sasl_needs_mechanism_user_and_password() -> None:
    with pytest.raises(ConfigError, match="RISKSEAL_KAFKA_SASL_PASSWORD"):
        Settings.production(kafka_security_protocol="SASL_SSL", kafka_sasl_username="u")


def test_sasl_settings_reach_the_client_config() -> None:
    settings = Settings.production(
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="sealer",
        kafka_sasl_password="hunter2",
    )
    config = settings.kafka_config()
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["sasl.password"] == "hunter2"


def test_half_a_key_pair_is_refused() -> None:
    with pytest.raises(ConfigError, match="RISKSEAL_AUDIT_S3_SECRET_ACCESS_KEY"):
        Settings.local(audit_s3_access_key_id="AKIA")


def test_secrets_never_show_in_repr_or_errors() -> None:
    settings = Settings.local(s3_access_key_id="AK", s3_secret_access_key="very-secret-value")
    assert "very-secret-value" not in repr(settings)
    assert "very-secret-value" not in settings.model_dump_json()
    with pytest.raises(ConfigError) as refused:
        Settings.local(s3_secret_access_key="very-secret-value")
    assert "very-secret-value" not in str(refused.value)
    assert refused.value.__cause__ is None


def test_group_timing_reaches_consumer_config() -> None:
    config = Settings.local().kafka_consumer_config("g1")
    assert config["group.id"] == "g1"
    assert config["session.timeout.ms"] == 6_000
    assert config["heartbeat.interval.ms"] == 1_000


def test_audit_topics_are_the_sealed_ones() -> None:
    settings = Settings.local()
    assert set(settings.audit_topics) == {
        "access.requests",
        "access.actions",
        "risk.decisions",
        "risk.deadletter",
    }
    assert (
        settings.topic_partitions["access.requests"] == settings.topic_partitions["access.actions"]
    )


def test_every_field_is_documented() -> None:
    undocumented = [name for name, f in Settings.model_fields.items() if not f.description]
    assert undocumented == []


def test_configuration_doc_is_current() -> None:
    assert DOCS.read_text(encoding="utf-8") == settings_reference_markdown(), (
        "docs/CONFIGURATION.md is stale: run `riskseal config reference > docs/CONFIGURATION.md`"
    )


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("RISKSEAL_S3_ENDPOINT", "not-a-url", "is not an http:// or https:// URL"),
        ("RISKSEAL_KAFKA_SSL_CA_LOCATION", "/nonexistent/ca.pem", "is not a readable file"),
        ("RISKSEAL_SEAL_MAX_AGE_S", "inf", "finite number"),
        ("RISKSEAL_AUTHORIZE_TIMEOUT_S", "nan", "finite number"),
    ],
)
def test_a_setting_that_cannot_work_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=says):
        Settings.from_env()


def test_a_misspelt_variable_is_named_with_the_setting_it_likely_means() -> None:
    environ = {
        "RISKSEAL_S3_BUCKETS": "prod",
        "RISKSEAL_S3_BUCKET": "prod",
        "RISKSEAL_CONFIG": "riskseal.toml",
        "RISKSEAL_NOTHING_LIKE_IT": "1",
        "HOME": "/root",
    }
    assert unknown_variables(environ) == [
        ("RISKSEAL_NOTHING_LIKE_IT", None),
        ("RISKSEAL_S3_BUCKETS", "RISKSEAL_S3_BUCKET"),
    ]


def test_loading_warns_of_a_misspelt_variable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("RISKSEAL_KAFKA_BOOTSTRAP_SERVERS", "kafka:9092")
    Settings.from_env()
    assert "did you mean RISKSEAL_KAFKA_BOOTSTRAP?" in caplog.text
