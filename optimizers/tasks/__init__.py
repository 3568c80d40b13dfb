"""Eval data: examples, loading files into tasks, splitting them, builtin example tasks."""

from optimizers.tasks.builtin import BUILTIN_TASKS, builtin_task_path, load_builtin_task
from optimizers.tasks.errors import DataError
from optimizers.tasks.example import Example, Task
from optimizers.tasks.limits import LoadLimits
from optimizers.tasks.loaders import ColumnMapping, load_task
from optimizers.tasks.splits import Splits, SplitSpec, split_task

__all__ = [
    "BUILTIN_TASKS",
    "ColumnMapping",
    "DataError",
    "Example",
    "LoadLimits",
    "SplitSpec",
    "Splits",
    "Task",
    "builtin_task_path",
    "load_builtin_task",
    "load_task",
    "split_task",
]
