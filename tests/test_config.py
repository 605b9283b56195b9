"""Settings: the environment first, then .streamlit/secrets.toml; a broken file is reported."""

from __future__ import annotations

import logging

import pytest

from services import config


@pytest.fixture
def secrets_file(tmp_path, monkeypatch):
    path = tmp_path / "secrets.toml"
    monkeypatch.setattr(config, "SECRETS_PATH", path)
    monkeypatch.delenv("REFERRAL_ATLAS_DB_URL", raising=False)
    monkeypatch.setattr(config, "_reported", set())
    return path


def test_a_missing_secrets_file_is_no_problem(secrets_file):
    assert config.secrets_problem() is None
    assert config.database_url() == f"sqlite:///{config.DEFAULT_DB_PATH}"


def test_a_good_secrets_file_is_read_and_the_environment_wins(secrets_file, monkeypatch):
    secrets_file.write_text('REFERRAL_ATLAS_DB_URL = "sqlite:////tmp/from-secrets.db"\n')
    assert config.secrets_problem() is None
    assert config.database_url() == "sqlite:////tmp/from-secrets.db"
    monkeypatch.setenv("REFERRAL_ATLAS_DB_URL", "sqlite:////tmp/from-env.db")
    assert config.database_url() == "sqlite:////tmp/from-env.db"


def test_a_broken_secrets_file_names_the_file_and_line_and_is_logged_once(secrets_file, caplog):
    secrets_file.write_text(
        '# settings\nREFERRAL_ATLAS_DB_URL = "postgresql://atlas@db/atlas"\nNPI_API_URL = \n'
    )
    with caplog.at_level(logging.ERROR, logger="services.config"):
        problem = config.secrets_problem()
        config.secrets_problem()
        config.setting("NPI_API_URL")
    assert problem == f"{secrets_file} is not valid TOML at line 3, column 15 (invalid value)."
    # its settings are ignored (the demo still opens), but not silently
    assert config.database_url() == f"sqlite:///{config.DEFAULT_DB_PATH}"
    logged = [r for r in caplog.records if r.name == "services.config"]
    assert len(logged) == 1 and "line 3" in logged[0].getMessage()


def test_a_secrets_file_that_is_not_utf8_is_reported_in_plain_words(secrets_file):
    secrets_file.write_bytes("NPI_API_URL = 'é'\n".encode("utf-16"))
    assert config.secrets_problem() == f"{secrets_file} cannot be read: it is not UTF-8 text."
