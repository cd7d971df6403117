import pytest

from discord_sync.settings import Settings, SettingsError

TOKEN = "MTIzNDU2Nzg5MDEyMzQ1Njc4.Gabcde.super-secret-token-value"


def test_defaults_when_nothing_is_set():
    settings = Settings.from_env({})
    assert settings.discord_api_base_url == "https://discord.com/api/v10"
    assert settings.max_channel_workers == 10
    assert settings.channel_batch_size == 5
    assert settings.message_fetch_size == 100
    assert settings.database_url is None
    assert settings.debug_rate_limits is False
    assert settings.progress_interval == 5.0
    assert settings.api_max_body_bytes == 16_384


@pytest.mark.parametrize(
    "variable, value, expected_words",
    [
        ("SYNC_MAX_CHANNEL_WORKERS", "ten", "whole number"),
        ("SYNC_MAX_CHANNEL_WORKERS", "0", "between 1 and"),
        ("SYNC_MESSAGE_FETCH_SIZE", "0", "between 1 and 100"),
        ("SYNC_MESSAGE_FETCH_SIZE", "500", "between 1 and 100"),
        ("SYNC_CHANNEL_BATCH_SIZE", "-3", "between 1 and"),
        ("DISCORD_API_BASE_URL", "discord.com/api", "http(s) URL"),
        ("DISCORD_API_BASE_URL", "ftp://x", "http(s) URL"),
        ("DATABASE_URL", "mysql://root@localhost/db", "PostgreSQL URL"),
        ("DEBUG_RATE_LIMITS", "maybe", "true or false"),
        ("ANONYMIZATION_KEY", "short", "at least 16"),
        ("SYNC_GLOBAL_REQUESTS_PER_SECOND", "80", "between"),
        ("SYNC_PROGRESS_INTERVAL", "0", "between 0.1 and"),
        ("SYNC_PROGRESS_INTERVAL", "soon", "number"),
        ("API_MAX_BODY_BYTES", "10", "between 256 and"),
    ],
)
def test_malformed_setting_is_refused_naming_the_variable(variable, value, expected_words):
    with pytest.raises(SettingsError) as error:
        Settings.from_env({variable: value})
    assert variable in str(error.value)
    assert expected_words in str(error.value)


def test_token_never_shows_in_repr_or_str():
    settings = Settings.from_env({"DISCORD_BOT_TOKEN": TOKEN})
    assert settings.discord_bot_token.reveal() == TOKEN
    assert TOKEN not in repr(settings)
    assert TOKEN not in str(settings.discord_bot_token)


def test_sync_refuses_to_start_without_token_or_key():
    with pytest.raises(SettingsError, match="DISCORD_BOT_TOKEN"):
        Settings.from_env({"ANONYMIZATION_KEY": "k" * 16}).require_sync_secrets()
    with pytest.raises(SettingsError, match="ANONYMIZATION_KEY"):
        Settings.from_env({"DISCORD_BOT_TOKEN": TOKEN}).require_sync_secrets()
