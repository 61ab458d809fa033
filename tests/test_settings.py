"""One settings object: environment and .env, every setting documented in .env.example."""

from __future__ import annotations

import re

from bot.settings import Settings

from .conftest import REPO


def env_names(field_name: str, field) -> set[str]:
    alias = field.validation_alias
    if alias is not None:
        return {str(choice) for choice in alias.choices}
    return {f"NEWSBOT_{field_name.upper()}"}


def test_every_setting_is_in_env_example_with_a_comment():
    text = (REPO / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z_]+)=", text, re.M))
    for name, field in Settings.model_fields.items():
        names = env_names(name, field)
        assert names & listed, f"{name} is missing from .env.example"
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z_]+=", line):
            assert lines[i - 1].startswith("#"), f"{line} has no comment above it"
    assert listed <= {n for name, field in Settings.model_fields.items() for n in env_names(name, field)}


def test_reads_environment_and_dotenv(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("NEWSBOT_CHUNK_TOKENS=150\nDISCORD_TOKEN=from-dotenv\nASK_CHANNEL_IDS=1, 2\n")
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(tmp_path / "d"))
    settings = Settings()
    assert settings.chunk_tokens == 150
    assert settings.data_dir == tmp_path / "d"
    assert settings.discord_token.get_secret_value() == "from-dotenv"
    assert "from-dotenv" not in repr(settings)
    assert settings.ask_channel_ids == [1, 2]
    assert settings.archive_config().chunk_tokens == 150


def clean_environment(tmp_path, monkeypatch):
    """No .env and no setting in the environment: every value is its default."""
    monkeypatch.chdir(tmp_path)
    names = {n for name, field in Settings.model_fields.items() for n in env_names(name, field)}
    for name in names:
        monkeypatch.delenv(name, raising=False)


def test_unset_settings_build_the_index_defaults(tmp_path, monkeypatch):
    """index/ owns these defaults; Settings refers to them, so unset settings must rebuild them exactly."""
    from bot.llm import LLMConfig
    from index.archive import ArchiveConfig
    from index.ingest.limits import ReadLimits
    from index.web.fetch import FetchSettings
    from index.web.watch import ANNOUNCE_LIMIT

    clean_environment(tmp_path, monkeypatch)
    settings = Settings()
    assert settings.archive_config() == ArchiveConfig()
    assert settings.fetch_settings() == FetchSettings()
    assert settings.read_limits() == ReadLimits()
    assert settings.announce_limit == ANNOUNCE_LIMIT
    assert settings.llm_timeout == LLMConfig.timeout


def test_every_reading_limit_is_a_setting():
    import dataclasses

    from index.ingest.limits import ReadLimits

    missing = {f.name for f in dataclasses.fields(ReadLimits)} - set(Settings.model_fields)
    assert not missing, f"ReadLimits fields without a setting: {sorted(missing)}"


def test_env_example_states_the_defaults(tmp_path, monkeypatch):
    """Copied to .env unchanged, .env.example changes nothing: each value it lists is the default."""
    clean_environment(tmp_path, monkeypatch)
    defaults = Settings().model_dump()
    example = Settings(_env_file=REPO / ".env.example", _env_ignore_empty=True).model_dump()
    differing = {name: (example[name], value) for name, value in defaults.items() if example[name] != value}
    assert not differing, f"(.env.example, default) differ: {differing}"
