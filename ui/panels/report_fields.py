"""Moved to :mod:`agent.run.report_fields`; this name stays only for ``ui/chat/text.py``.

The chat module still imports the report's typed fields from here; once it imports
them from :mod:`agent.run.report_fields`, delete this module.
"""

from agent.run.report_fields import Difference, ReportFields, Score

__all__ = ["Difference", "ReportFields", "Score"]
