"""What the panels show, free of Gradio.

The Inspect tables and series, a run's view saved as JSON, the figures, and the
Markdown report.
"""
