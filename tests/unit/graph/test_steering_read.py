"""Reading plain-word steering deterministically (no model): what each message asks for."""

from __future__ import annotations

import pytest

from agent.graph.steering import read_follow_up, read_steering

RULES = ["keep it under 30 words"]


@pytest.mark.parametrize(
    ("message", "asks"),
    [
        ("stop", {"stop": True}),
        ("pause", {"pause": True}),  # a pause is no longer a stop
        ("Pause the run please", {"pause": True}),
        ("hold on", {"pause": True}),
        ("wait a moment", {"pause": True}),
        ("wait, use zopo", {"optimizer": "zopo"}),  # only a bare request pauses
        ("resume", {"resume": True}),
        ("continue with zopo", {"resume": True, "optimizer": "zopo"}),
        ("keep going", {"resume": True}),  # not read as a rule ("keep")
        ("accept 7", {"accept": "7"}),
        ("accept #7", {"accept": "#7"}),
        ("accept candidate 7", {"accept": "candidate 7"}),
        ('accept "Be brief."', {"accept": '"Be brief."'}),
        ("pick #3", {"accept": "#3"}),
        ("choose shorter words", {}),  # softer verbs need a number or quoted text
        ("roll back to 3", {"roll_back": "3"}),
        ("rollback to #3", {"roll_back": "#3"}),
        ("go back to 3", {"roll_back": "3"}),
        ("try GPO now", {"optimizer": "gpo"}),
        ("budget 40", {"budget_queries": 40}),
        ("keep it under 20 words", {"add_directives": ["keep it under 20 words"]}),
        ("remove the 30 words rule", {"remove_asked": "30 words rule", "remove_directives": RULES}),
        ("remove the banana rule", {"remove_asked": "banana rule"}),
        ("be more creative", {}),
    ],
)
def test_read_steering(message, asks):
    steering = read_steering(message, RULES)
    fields = ("stop", "pause", "resume", "optimizer", "budget_queries", "accept", "roll_back")
    found = {name: getattr(steering, name) for name in fields if getattr(steering, name)}
    for name in ("add_directives", "remove_directives"):
        if getattr(steering, name):
            found[name] = getattr(steering, name)
    if steering.remove_asked is not None:
        found["remove_asked"] = steering.remove_asked
    assert found == asks
    assert steering.understood == bool(asks)


@pytest.mark.parametrize(
    ("message", "follow_up"),
    [
        ("carry on", "continue"), ("continue", "continue"), ("again", "continue"),
        ("hold on", "wait"), ("wait a second", "wait"),
        ("make it shorter", "refine"), ("it should mention refunds", "refine"),
        ("keep it under 30 words", "refine"), ("be friendlier", "refine"),
        ("Classify the review as positive or negative.", None), ("Answer the question.", None),
        ("Make it shorter " + "and clearer " * 8, None),  # a long message is a new prompt
    ],
)  # fmt: skip
def test_follow_ups_after_a_finished_run(message, follow_up):
    assert read_follow_up(message) == follow_up
