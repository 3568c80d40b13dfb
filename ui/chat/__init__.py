"""The chat column, free of Gradio.

What a message means, the words the assistant says, the run form's values checked,
and uploaded data previewed.
"""
