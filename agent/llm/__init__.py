"""Model access: settings, the chat-model factory, the embedded server, the runtimes.

The embedded llama.cpp server runs in a child process that dies with its parent; the
runtimes hand the task and optimizer models to a run. May import optimizers and
memory; never the graph, a run or an interface.
"""
