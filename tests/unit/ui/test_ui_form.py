"""The app's panels as a request and runtime settings: validation and API-key handling."""

from __future__ import annotations

import json

import pytest

from agent.llm.runtime import RuntimeSettings
from agent.llm.settings import ModelSettings
from optimizers.budget import Budget
from ui.chat.form import ModelForm, RunForm, split_size


def test_defaults_make_an_auto_request_with_fraction_splits():
    request = RunForm().request("builtin:review_sentiment", "Classify.", ("be brief",))
    assert request.optimizer == "auto"
    assert request.budget == Budget.default()  # 250 paid calls, 210 s
    assert (request.split_spec.train, request.split_spec.dev) == (0.2, 0.4)
    assert request.directives == ("be brief",)


@pytest.mark.parametrize(("value", "size"), [(0.25, 0.25), (20.0, 20), (1, 1), (0, 0.0)])
def test_split_sizes_below_one_are_fractions_else_counts(value, size):
    assert split_size(value, "dev") == size
    assert type(split_size(value, "dev")) is type(size)


@pytest.mark.parametrize(
    ("form", "message"),
    [
        (RunForm(metric="mod:fn"), "unknown metric 'mod:fn'"),  # user code is CLI-only
        (RunForm(optimizer="dspy"), "unknown optimizer 'dspy'"),
        (RunForm(budget=0), "budget .* whole number >= 1, got 0"),
        (RunForm(seed=1.5), "seed must be a whole number"),
        (RunForm(dev=2.5), "dev split size must be a whole count"),
        (RunForm(test=None), "give the test split size"),
        (RunForm(template="Answer: {input}"), "must contain {prompt} and {input}"),
    ],
)
def test_bad_values_name_the_field(form, message):
    with pytest.raises(ValueError, match=message):
        form.request("data.csv", "prompt")


def test_an_empty_url_is_the_embedded_model_and_a_url_needs_a_model():
    default = ModelSettings()
    assert ModelForm().settings(default, "task").embedded
    with pytest.raises(ValueError, match="name the task model served at http://h/v1"):
        ModelForm(url="http://h/v1").settings(default, "task")
    with pytest.raises(ValueError, match="must start with http"):
        ModelForm(url="h:8000", model="m").settings(default, "task")


def test_an_environment_key_goes_only_to_its_own_endpoint():
    default = ModelSettings(base_url="https://api.example/v1", model="m", api_key="sk-env")
    same = ModelForm(url="https://api.example/v1", model="m").settings(default, "task")
    assert same.api_key == "sk-env"
    elsewhere = ModelForm(url="http://other:8000/v1", model="m").settings(default, "task")
    assert elsewhere.api_key is None
    typed = ModelForm(url="http://other:8000/v1", model="m", key="sk-typed")
    assert typed.settings(default, "task").api_key == "sk-typed"


def test_typed_keys_never_show_in_reprs_or_recorded_settings():
    form = RunForm(
        task_model=ModelForm(url="http://h/v1", model="m", key="sk-secret-1"),
        optimizer_model=ModelForm(url="http://h/v1", model="m", key="sk-secret-2"),
    )
    settings = form.runtime_settings(RuntimeSettings())
    assert settings.task.api_key == "sk-secret-1"
    shown = repr(form) + repr(settings) + json.dumps(settings.task.public())
    assert "sk-secret" not in shown
    assert settings.task.public()["api_key_set"] is True
