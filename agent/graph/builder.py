"""The PromptPilot state machine: a planner node and the tool nodes it chooses.

START → planner ─┬→ evaluate ─┐
                 ├→ gpo / zopo / textgrad / ape / random ─┤→ planner …
                 ├→ ask_user / pause ─┘   (interrupt: waits for the person)
                 ├→ report → planner → finish → END

The planner routes to ``pause`` by itself, without a model call, while the
person's "pause" stands; the pause node's answer is steering like any message.
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Checkpointer

from agent.graph import nodes
from agent.graph.state import ACTIONS, PilotState
from agent.run.session import RunSession
from optimizers.registry import NAMES


def route(state: PilotState) -> str:
    """Follow the planner's decision."""
    return state.action if state.action in ACTIONS else "report"


def build_graph(checkpointer: Checkpointer = None) -> CompiledStateGraph:
    """Assemble and compile the graph."""
    graph = StateGraph(PilotState, context_schema=RunSession)
    graph.add_node("planner", nodes.planner)
    graph.add_node("evaluate", nodes.evaluate_seed)
    for name in NAMES:
        graph.add_node(name, nodes.optimizer_step(name))
    graph.add_node("report", nodes.report)
    graph.add_node("ask_user", nodes.ask_user)
    graph.add_node("pause", nodes.pause)
    graph.add_node("finish", nodes.finish)

    graph.add_edge(START, "planner")
    graph.add_conditional_edges("planner", route, {action: action for action in ACTIONS})
    for node in ("evaluate", *NAMES, "report", "ask_user", "pause"):
        graph.add_edge(node, "planner")
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)
