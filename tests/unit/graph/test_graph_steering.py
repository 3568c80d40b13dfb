"""Steering a running graph in plain words: pause / resume, accept a candidate, roll back."""

from __future__ import annotations

import re
from collections import Counter

from agent.graph.pilot import run_pilot
from memory.run_registry import FolderRegistry
from optimizers.events import CandidateScored
from tests.unit.graph_fixtures import ScriptedPlanner, fake_runtime, request_for


class Person:
    """Reads PromptPilot's messages; after the n-th message of a node, sends scripted lines.

    A script value may be a function of the run so far (the scored events), for lines
    that name a candidate by its text.
    """

    def __init__(self, script):
        self.script = script
        self.session = None
        self.seen = Counter()
        self.messages = []
        self.scored = []  # the "scored" events' data, in order

    def on_session(self, session):
        self.session = session

    def on_event(self, event):
        if isinstance(event, CandidateScored):
            self.scored.append(event.as_dict())

    def on_message(self, message):
        self.messages.append((message.name, str(message.content)))
        self.seen[message.name] += 1
        lines = self.script.get((message.name, self.seen[message.name]), [])
        for line in lines(self) if callable(lines) else lines:
            self.session.send(line)

    def said(self, node):
        return [text for name, text in self.messages if name == node]


async def run(data_file, runtime, home, embedder, planner, person, **kwargs):
    return await run_pilot(
        request_for(data_file),
        runtime,
        home=home,
        embedder=embedder,
        planner=planner,
        on_message=person.on_message,
        on_session=person.on_session,
        on_event=person.on_event,
        **kwargs,
    )


PAUSED = re.compile(
    r"^Paused after 1 dev queries; best so far #0 \(dev \d\.\d{3}\): 'Answer the question\.'\. "
    r"Say 'resume' to go on, or steer \(e\.g\. 'try zopo'"
)


async def test_pause_holds_without_spending_and_only_a_request_resumes(
    data_file, runtime, tmp_path, bundled_embedder
):
    planner = ScriptedPlanner(["evaluate", "random", "report", "finish"])
    person = Person({("evaluate", 1): ["resume", "pause"], ("random", 1): ["pause"]})
    answers = iter(["what is this?", "wait", "resume", ""])  # "": a headless caller
    asked = []

    async def answer(question):
        spent = (planner.calls, runtime.task.usage.calls, runtime.optimizer.usage.calls)
        asked.append((question, spent))
        return next(answers)

    home = tmp_path / "home"
    report = await run(data_file, runtime, home, bundled_embedder, planner, person, answer=answer)
    assert [bool(PAUSED.match(question)) for question, _ in asked] == [True, True, True, False]
    assert asked[3][0].startswith("Paused after 2 dev queries; best so far #")
    # Nothing was spent while paused: not even the planner model was asked.
    assert len({spent for _, spent in asked[:3]}) == 1
    assert asked[0][1][0] == 1  # only "evaluate" was decided before the pause
    assert person.said("steering") == [
        "Not paused; carrying on.",
        "Paused: nothing is spent until you say 'resume'.",
        "I read 'what is this?' as a question about what I can do, not a command; the planner "
        "sees it. Commands: stop, "
        "pause, resume, try structure/gpo/zopo/textgrad/ape/random, budget N, accept N, roll back "
        "to N, "
        "or a rule such as 'keep it under 30 words'. Still paused: say 'resume' to go on.",
        "Still paused: say 'resume' to go on.",
        "Resumed.",
        "Paused: nothing is spent until you say 'resume'.",
        "No answer: resuming.",
    ]
    assert report is not None
    assert [e["source"] for e in report["trajectory"]][:2] == ["seed", "random"]
    assert planner.calls == 4  # evaluate, random, report, finish: none while paused
    assert FolderRegistry(home).load(report["run"])["status"] == "finished"


async def test_a_paused_run_survives_a_restart_and_the_answer_steers_it(
    data_file, runtime, tmp_path, bundled_embedder
):
    planner = ScriptedPlanner(["evaluate", "gpo", "report", "finish"])
    person = Person({("evaluate", 1): ["hold on"]})
    home = tmp_path / "home"
    assert await run(data_file, runtime, home, bundled_embedder, planner, person) is None
    (record,) = FolderRegistry(home).list()
    assert record["status"] == "waiting"
    assert PAUSED.match(record["question"])

    # A new process: the checkpoint holds the pause; the answer is steering.
    answered = []

    async def answer(question):
        answered.append(question)
        return "try random"

    restarted = Person({})
    report = await run_pilot(
        None, fake_runtime(), home=home, run=record["run"], embedder=bundled_embedder,
        planner=planner, answer=answer, on_message=restarted.on_message,
    )  # fmt: skip
    assert len(answered) == 1
    assert PAUSED.match(answered[0])
    assert restarted.said("steering") == ["Next step: random. Resuming."]
    assert report is not None
    assert "random" in [e["source"] for e in report["trajectory"]]  # the person's choice ran
    record = FolderRegistry(home).load(record["run"])
    assert (record["status"], record["question"]) == ("finished", None)


async def test_accept_ends_the_run_with_the_chosen_candidate(
    data_file, runtime, tmp_path, bundled_embedder
):
    def worst(person):  # the lowest-scoring fully scored candidate after the seed
        return min((e for e in person.scored[1:] if e["complete"]), key=lambda e: e["dev"])

    def accept_the_worst(person):
        return ["accept 99", "accept 'no such prompt'", f'accept "{worst(person)["text"]}"']

    planner = ScriptedPlanner(["evaluate"] + ["ape"] * 5 + ["zopo", "report", "finish"])
    person = Person({("ape", 5): accept_the_worst})
    report = await run(data_file, runtime, tmp_path / "home", bundled_embedder, planner, person)

    chosen = worst(person)
    number = chosen["number"]
    best_dev_seen = max(e["dev"] for e in person.scored)
    assert chosen["dev"] < best_dev_seen, "the person overrides a better-scoring candidate"
    replies = person.said("steering")
    assert replies[0] == (
        "I cannot accept '99': there is no candidate #99: numbers go from #0 (the seed) to #5. "
        "Nothing changed."
    )
    assert replies[1].startswith("I cannot accept \"'no such prompt'\": no scored prompt has")
    assert replies[2] == (
        f"Accepted #{number} (dev {chosen['dev']:.3f}): {chosen['text']!r}. "
        "It is the final answer: scoring it on test next."
    )
    assert (report["best_prompt"], report["best_number"]) == (chosen["text"], number)
    assert (report["chosen_by"], report["stopped"]) == ("user", "accepted by user")
    assert report["scores"]["best"]["dev"]["mean"] == chosen["dev"]
    assert report["scores"]["best"]["test"]["split"] == "test"
    assert report["scores"]["best"]["test"]["n"] == 12
    assert "zopo" not in [e["source"] for e in report["trajectory"]]  # the run ended there
    assert person.said("report")[0].startswith(
        f"Best prompt (#{number}, chosen by you): {chosen['text']!r}"
    )


async def test_roll_back_drops_later_candidates_from_best_and_the_search_goes_on(
    data_file, runtime, tmp_path, bundled_embedder
):
    planner = ScriptedPlanner(["evaluate"] + ["ape"] * 5 + ["gpo", "zopo", "report", "finish"])
    person = Person({("ape", 5): ["roll back to 42", "roll back to #1"]})
    report = await run(data_file, runtime, tmp_path / "home", bundled_embedder, planner, person)
    trajectory = report["trajectory"]
    assert max(e["dev"] for e in trajectory[2:6]) > max(e["dev"] for e in trajectory[:2]), (
        "a rolled-back candidate was better than #1 and everything before it"
    )
    replies = person.said("steering")
    assert replies[0].startswith("I cannot roll back to '42': there is no candidate #42")
    assert replies[1].startswith(
        f"Rolled back to #1 (dev {trajectory[1]['dev']:.3f}); later candidates no longer count"
    )
    assert [e["number"] for e in trajectory if e["rolled_back"]] == [2, 3, 4, 5]
    # The best is chosen among what still counts: #0-#1 and what came after the rollback.
    counting = [e for e in trajectory if not e["rolled_back"] and e["complete"]]
    best = max(counting, key=lambda e: e["dev"])  # the earliest wins a tie, as in the runner
    assert report["best_scored_number"] == best["number"]
    # It is handed back only if it beats the seed clearly on dev (the guard), else the seed is.
    answer = best if report["guard"]["passed"] else trajectory[0]
    assert report["best_number"] == answer["number"]
    assert report["best_prompt"] == answer["prompt"]
    assert report["chosen_by"] == "search"
    # GPO and ZOPO ran after the rollback, and a new candidate beat #1.
    assert {"gpo", "zopo"} <= {e["source"] for e in trajectory[6:]}
    assert best["number"] > 5
