"""The LangGraph state machine, and the run it drives (the pilot).

State, planner (the optimizer model when it is capable, else the deterministic
policy), tool nodes, the steering a person sends mid-run, and their wiring. May import
agent.llm, agent.run, optimizers and memory.
"""
