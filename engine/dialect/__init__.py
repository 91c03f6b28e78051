"""The deploy checks of our process authoring dialect (DESIGN "Process authoring dialect"), run by
`engine.definitions.compile_bpmn` after the safe XML intake.

* document.py — one BPMN document indexed for the checks;
* spiff_parser.py — SpiffWorkflow's parser, its exceptions as problems on elements;
* user_tasks.py — roles, form keys and time limits of user tasks;
* expressions.py — timers, scripts, conditions and gateways;
* correlations.py — message correlation, which the dialect does not support.

Every check yields problems instead of raising, so a designer sees all of them at once.
"""
from .correlations import check_correlations
from .document import NSMAP, BpmnDocument
from .expressions import check_expressions
from .spiff_parser import parse_with_spiff
from .user_tasks import (
    USER_TASK_PROPERTIES,
    UserTaskInfo,
    check_user_tasks,
    user_tasks_from_specs,
    user_tasks_from_xml,
)

__all__ = [
    "NSMAP", "USER_TASK_PROPERTIES", "BpmnDocument", "UserTaskInfo", "check_correlations", "check_expressions",
    "check_user_tasks",
    "parse_with_spiff", "user_tasks_from_specs", "user_tasks_from_xml",
]
