import pytest

from agent.llm.settings import ModelSettings, settings_from_env


def test_defaults_mean_embedded():
    settings = settings_from_env("task", {})
    assert settings.embedded
    assert settings.temperature == 0.0


def test_env_overrides_and_key_stays_private():
    env = {
        "PROMPTPILOT_OPTIMIZER_BASE_URL": "http://127.0.0.1:8000/v1",
        "PROMPTPILOT_OPTIMIZER_MODEL": "big",
        "PROMPTPILOT_OPTIMIZER_TEMPERATURE": "0.7",
        "PROMPTPILOT_OPTIMIZER_API_KEY": "sk-secret-123",
    }
    settings = settings_from_env("optimizer", env)
    assert (settings.base_url, settings.model, settings.temperature) == (
        "http://127.0.0.1:8000/v1",
        "big",
        0.7,
    )
    assert settings.api_key == "sk-secret-123"
    assert "sk-secret-123" not in repr(settings)
    assert "sk-secret-123" not in str(settings.public())
    assert settings.public()["api_key_set"] is True


def test_openai_key_is_the_fallback():
    assert settings_from_env("task", {"OPENAI_API_KEY": "k"}).api_key == "k"


def test_bad_values_are_named():
    with pytest.raises(ValueError, match="PROMPTPILOT_TASK_MAX_TOKENS='lots'"):
        settings_from_env("task", {"PROMPTPILOT_TASK_MAX_TOKENS": "lots"})
    with pytest.raises(ValueError, match="max_tokens"):
        ModelSettings(max_tokens=0)
