"""The simulation loop: one simulated day at a time, through the real services on a scratch database.

Each calendar day, on a simulated clock installed for the run (and the previous clock put back afterwards):

* 00:10 — the night's sweeps: due timers fire (the 7-day public notice ends), the deadline sweep reminds, marks
  overdue and escalates — the engine's own `sweep_timers` and `Deadlines.sweep`, as the worker runs them;
* 08:00 — messages: the district verification centre answers the economic checks requested `check_delay` working
  days ago (working days only), objections lodged on the public notice page arrive (any day);
* 09:00–16:00, working days — the day's applications are opened (`workflows.cases.open_case`, by the street's
  clerk);
* 17:00, working days — every role at every street works the tasks that were on its desk when the day began
  (created before 08:30), oldest first, up to its capacity (people × tasks per day), completing each through the
  task service with valid form data (workflows/simulation/forms.py). A task that appears during the day waits for
  the next working day, so the result does not depend on the order in which roles are visited.

The economic-check requests are read from the outbox (`economic_check.requested`), as the centre's webhook
subscription would receive them; the outbox is not delivered otherwise. The spot-check selection draws from a
generator seeded by the scenario for the run, so that a run is repeatable (production draws from the system's
randomness so that nobody can predict a visit).
"""
from __future__ import annotations

import random
import time as wall_time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine import clock as clock_module
from engine.clock import SHANGHAI
from engine.deadlines import Deadlines
from engine.errors import Conflict, InvalidInput, NotFound
from engine.models import HumanTask, OutboxEvent, ProcessInstance, TaskStatus
from engine.runtime import Engine

from .. import functions
from ..cases import local_standard, open_case
from ..demo import DIBAO_STANDARD
from ..demo_cases import HOUSEHOLDS, People
from ..income import flags_of_task
from ..models import Case, CaseStatus, User
from ..register.reviews import REVIEW_PROCESS_KEY
from ..tasks import TaskService
from . import reviews
from .forms import CaseState, UnknownForm, check_reply, flag_decisions, form_data, objection
from .plan import Arrival, arrival_plan, days
from .results import Progress, RunResult, TaskRecord
from .scenario import STREET_ROLES, Scenario
from .setup import Staff, calendar_for, prepare

CHECK_ACTOR = "webhook:hedui"  # the verification centre answers through the signed inbound webhook in real life
NIGHT, MORNING, OPEN_FROM, DESK_CUTOFF, WORK = time(0, 10), time(8, 0), time(9, 0), time(8, 30), time(17, 0)
SWEEP_LIMIT = 500
REVIEWS_NOT_DEPLOYED = "复核（reviews.per_month）未推演：定期复核流程 dibao_review 没有部署"


class SimulationError(RuntimeError):
    """The run cannot go on (a form it cannot fill, a missing process); the message says which."""


def at(day: date, moment: time) -> datetime:
    return datetime.combine(day, moment, tzinfo=SHANGHAI)


@contextmanager
def _seeded_spot_checks(seed: int) -> Iterator[None]:
    previous = functions._rng
    functions._rng = random.Random(seed)  # type: ignore[assignment]
    try:
        yield
    finally:
        functions._rng = previous


class Simulation:
    def __init__(self, session: Session, engine: Engine, deadlines: Deadlines, scenario: Scenario, *,
                 progress: Callable[[Progress], None] | None = None):
        self.session = session
        self.engine = engine
        self.deadlines = deadlines
        self.scenario = scenario
        self.progress = progress
        self.calendar = calendar_for(scenario)
        self.cases: dict[int, CaseState] = {}  # by process instance id
        self.replies: list[tuple[date, int]] = []  # (due day, instance id)
        self.objections: list[int] = []  # instance ids, delivered the next morning
        self.last_request_id = 0
        self.services: dict[str, TaskService] = {}
        self.completed = 0
        self.messages = 0
        self.reviewed: dict[int, tuple[int, int]] = {}  # review instance id → (household income, review number)
        self.standard: Decimal | None = None

    # -- the run -----------------------------------------------------------------------------------------------
    def run(self) -> RunResult:
        scenario = self.scenario
        clock = clock_module.SimulatedClock(at(scenario.start, time(0)))
        previous_clock, previous_calendar = clock_module.active(), self.engine.calendar
        started = wall_time.monotonic()
        clock_module.install(clock)
        self.engine.calendar = self.calendar
        try:
            if self.engine.clock is not clock:
                raise SimulationError("推演需要引擎使用全局时钟（engine.clock）")
            with _seeded_spot_checks(scenario.seed):
                result = self._run(clock)
        finally:
            clock_module.install(previous_clock)
            self.engine.calendar = previous_calendar
            self.session.rollback()
        result.seconds = wall_time.monotonic() - started
        return result

    def _run(self, clock: clock_module.SimulatedClock) -> RunResult:
        scenario = self.scenario
        staff = prepare(self.session, scenario, clock.now())
        plan = arrival_plan(scenario, self.calendar.is_workday)
        people = People(scenario.start)
        self.last_request_id = self.session.scalar(
            select(func.coalesce(func.max(OutboxEvent.id), 0))) or 0
        all_days = list(days(scenario.start, scenario.end))
        result = RunResult(scenario, len(all_days), 0, 0.0)
        review_days = reviews.review_plan(scenario, self.calendar.is_workday, sorted(HOUSEHOLDS))
        if review_days and not self._deployed(REVIEW_PROCESS_KEY):
            result.notes.append(REVIEWS_NOT_DEPLOYED)
            review_days = {}
        for number, day in enumerate(all_days, 1):
            clock.set(at(day, NIGHT))
            self._sweep()
            clock.set(at(day, MORNING))
            workday = self.calendar.is_workday(day)
            self._deliver(day, workday)
            if workday:
                result.working_days += 1
                # The day's applications, then its reviews, spread over 09:00–16:00 in that order.
                openings: list[Arrival | reviews.ReviewArrival] = [*plan.get(day, []), *review_days.get(day, [])]
                for index, item in enumerate(openings):
                    clock.set(at(day, OPEN_FROM) + timedelta(hours=7) * index / len(openings))
                    if isinstance(item, Arrival):
                        self._open(item, people, staff)
                    else:
                        self._start_review(item, people)
                self._collect_requests(day)
                clock.set(at(day, WORK))
                self._work(day, staff)
                self._collect_requests(day)
                clock.set(at(day, WORK) + timedelta(minutes=30))
                self._deliver(day, workday, same_day_only=True)
                self._watch_notices()
            if self.progress is not None:
                self.progress(Progress(number, len(all_days), day, self._open_count()))
        clock.set(at(scenario.end, NIGHT))
        self._sweep()
        return self._collect(result)

    # -- the day's parts ---------------------------------------------------------------------------------------
    def _sweep(self) -> None:
        while self.engine.sweep_timers(limit=SWEEP_LIMIT) >= SWEEP_LIMIT:
            pass
        while max(self.deadlines.sweep(self.engine.now()).values()) >= 2000:
            pass

    def _open(self, arrival: Arrival, people: People, staff: Staff) -> None:
        applicant, members, income = people.household(arrival.household)
        user = staff.for_task("street_clerk", arrival.street, None)
        assert user is not None  # prepare() made one for every street
        payload = {"program": arrival.program, "street": arrival.street, "community": arrival.community,
                   "applicant": applicant,
                   "household": {"members": members, "monthly_income": income,
                                 "assets": {"deposits": 1000 * (1 + arrival.number % 7), "vehicles": 0}}}
        case = open_case(self.session, self.engine, payload, user)
        self.cases[case.process_instance_id] = CaseState(arrival, case.process_instance_id, income)

    def _deployed(self, key: str) -> bool:
        try:
            self.engine.latest_definition(key)
        except NotFound:
            return False
        return True

    def _start_review(self, arrival: reviews.ReviewArrival, people: People) -> None:
        now = self.engine.now()
        if self.standard is None:
            row = local_standard(self.session, self.scenario.district, "dibao", now.astimezone(SHANGHAI).date())
            self.standard = row.amount if row is not None else DIBAO_STANDARD
        review, income = reviews.start(self.session, self.engine, self.scenario, arrival, people, self.standard, now)
        if review.process_instance_id is not None:
            self.reviewed[review.process_instance_id] = (income, arrival.number)

    def _collect_requests(self, day: date) -> None:
        """Economic checks requested since the last look (the outbox, as the centre's subscription gets them)."""
        rows = self.session.execute(
            select(OutboxEvent.id, OutboxEvent.payload)
            .where(OutboxEvent.id > self.last_request_id, OutboxEvent.event_type == "economic_check.requested")
            .order_by(OutboxEvent.id)).all()
        delay = self.scenario.check_delay
        due = day if delay == 0 else \
            self.calendar.add_working_days(at(day, WORK), delay).astimezone(SHANGHAI).date() - timedelta(days=1)
        for row_id, payload in rows:
            self.last_request_id = row_id
            instance_id = (payload or {}).get("process_instance_id")
            if instance_id in self.cases:
                self.replies.append((due, instance_id))
        if not rows:
            newest = self.session.scalar(select(func.max(OutboxEvent.id)))
            self.last_request_id = max(self.last_request_id, newest or 0)

    def _deliver(self, day: date, workday: bool, *, same_day_only: bool = False) -> None:
        if workday:
            due = [item for item in self.replies if item[0] <= day]
            self.replies = [item for item in self.replies if item[0] > day]
            for _due, instance_id in due:
                self._message(instance_id, "economic_check.completed", check_reply(self.cases[instance_id]),
                              CHECK_ACTOR)
        if not same_day_only:
            waiting, self.objections = self.objections, []
            for instance_id in waiting:
                self._message(instance_id, "objection.lodged", objection(self.cases[instance_id]), "public")

    def _message(self, instance_id: int, name: str, payload: dict, actor: str) -> None:
        try:
            self.engine.send_message(instance_id, name, payload, actor=actor)
            self.messages += 1
        except Conflict:  # the case moved on meanwhile (refused, notice ended): the message finds nobody waiting
            self.session.rollback()

    def _watch_notices(self) -> None:
        """Objected cases whose public notice has begun get their objection the next morning."""
        pending = [c.instance_id for c in self.cases.values() if c.arrival.fate.objected and not c.objection_sent]
        if not pending:
            return
        rows = self.session.execute(select(ProcessInstance.id, ProcessInstance.waiting)
                                    .where(ProcessInstance.id.in_(pending))).all()
        for instance_id, waiting in rows:
            if any(item.get("type") == "message" and item.get("name") == "objection.lodged" for item in waiting or []):
                self.cases[instance_id].objection_sent = True
                self.objections.append(instance_id)

    def _work(self, day: date, staff: Staff) -> None:
        desk = self.session.scalars(
            select(HumanTask)
            .where(HumanTask.status == TaskStatus.OPEN, HumanTask.district == self.scenario.district,
                   HumanTask.created_at < at(day, DESK_CUTOFF))
            .order_by(HumanTask.created_at, HumanTask.id)).all()
        left: dict[tuple[str | None, str | None], float] = {}
        for task in desk:
            role = task.role or ""
            place = task.street if role in STREET_ROLES else None
            if (role, place) not in left:
                capacity = self.scenario.capacity(role, task.street)
                left[(role, place)] = capacity.per_day if capacity else float("inf")
            if left[(role, place)] <= 0:
                continue
            left[(role, place)] -= 1
            self._complete(task.id, task, day, staff)

    def _complete(self, task_id: int, task: HumanTask, day: date, staff: Staff) -> None:
        user = self._worker(task, staff)
        if task.process_key == REVIEW_PROCESS_KEY:
            income, number = self.reviewed.get(task.instance_id, (None, task.id))
            data = reviews.form_data(task, income, day, number)
            if data is None:
                raise SimulationError(str(UnknownForm(task)))
        else:
            try:
                data = form_data(task, self.cases.get(task.instance_id), day)
            except UnknownForm as exc:
                raise SimulationError(str(exc)) from exc
        for attempt in (1, 2):
            try:
                self._service(user).complete(task_id, data)
                break
            except Conflict:  # closed by another step of its case meanwhile
                self.session.rollback()
                return
            except InvalidInput as exc:
                self.session.rollback()
                if attempt == 1 and any(k.startswith("flag_decisions") for k in exc.fields):
                    # The assessment raised flags (a failed check, income above the standard): the reviewer
                    # decides each, as the page asks. Read only then — it costs a workflow load.
                    data["flag_decisions"] = flag_decisions(flags_of_task(self.engine, self.session, task), data)
                    continue
                # The simulation's own form data is wrong: say where rather than guess further.
                problems = "；".join(f"{k}：{'、'.join(map(str, v))}" for k, v in exc.fields.items())
                raise SimulationError(f"推演填写的「{task.name}」表单（{task.form_key}）未通过校验："
                                      f"{problems or exc}") from exc
        self.completed += 1

    def _worker(self, task: HumanTask, staff: Staff) -> User:
        if task.assignee:
            user = self.session.scalars(select(User).where(User.username == task.assignee)).first()
        else:
            user = staff.for_task(task.role or "", task.street, task.community)
        if user is None:
            raise SimulationError(f"没有人能办理 {task.name}（岗位 {task.role}，{task.street or ''}"
                                  f"{task.community or ''}）")
        return user

    def _service(self, user: User) -> TaskService:
        if user.username not in self.services:
            self.services[user.username] = TaskService(self.session, self.engine, user)
        return self.services[user.username]

    def _open_count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(HumanTask).where(
            HumanTask.status == TaskStatus.OPEN, HumanTask.district == self.scenario.district)) or 0

    # -- the result --------------------------------------------------------------------------------------------
    def _collect(self, result: RunResult) -> RunResult:
        rows = self.session.scalars(select(HumanTask).where(HumanTask.district == self.scenario.district)
                                    .order_by(HumanTask.id)).all()
        for task in rows:
            closed = task.completed_at or (task.created_at if task.status == TaskStatus.CANCELLED else None)
            result.tasks.append(TaskRecord(task.process_key, task.element_id, task.name, task.role, task.street,
                                           task.created_at, closed, task.status == TaskStatus.COMPLETED,
                                           task.due_at, task.overdue_at))
        seen = list(dict.fromkeys(t.step for t in result.tasks))
        processes = list(dict.fromkeys(t.process_key for t in result.tasks))
        # The applications' steps first, the reviews' after them; within a process as the flow reached them.
        result.step_order = sorted(seen, key=lambda s: (s.startswith(f"{REVIEW_PROCESS_KEY}/"),
                                                        processes.index(s.split("/")[0]), seen.index(s)))
        # Cases of applications only: the households put on the register for reviews have no process of their own.
        result.cases = Counter(str(s.value) if isinstance(s, CaseStatus) else str(s) for s in self.session.scalars(
            select(Case.status).where(Case.district == self.scenario.district,
                                      Case.process_instance_id.is_not(None))))
        result.reviews = len(self.reviewed)
        result.completed_tasks = self.completed
        result.messages = self.messages
        return result
