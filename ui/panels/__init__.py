"""What the panels show, free of Gradio.

A run's typed view and its JSON (``run_view``, saved by ``stored_view``), the report
read through typed fields, the Inspect tables and series, the embedding map, the
figures, and the Markdown report.
"""
