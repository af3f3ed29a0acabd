"""Loading a plan's reviewed data file: idempotent, and a changed file becomes a new version."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, delete, select

from catalog.common.i18n import LocalizedText
from catalog.common.search import search_text, sort_key
from catalog.common.time import utcnow
from catalog.institutions.models import InstitutionCreate
from catalog.institutions.service import upsert_many
from catalog.loader.schema import NationalPlanSeed, StrategySeed
from catalog.plans.models import (
    Indicator,
    Measure,
    MeasureInstitution,
    Plan,
    PlanVersion,
    Priority,
    YearlyTarget,
)

ROLES = ("responsible", "co_responsible", "cooperating")


def _texts(*texts: LocalizedText | None) -> list[str | None]:
    out: list[str | None] = []
    for t in texts:
        if t is not None:
            out.extend([t.lv, t.en])
    return out


def _plan_row(
    session: Session, seed: NationalPlanSeed | StrategySeed, sha256: str, source_file: str
) -> tuple[Plan, bool]:
    """The plan row, created or updated to this file's version; False when it is unchanged."""
    plan = session.exec(select(Plan).where(Plan.code == seed.code)).first()
    if plan is not None and plan.sha256 == sha256:
        return plan, False
    version = 1 if plan is None else plan.version + 1
    if plan is None:
        plan = Plan(
            code=seed.code, kind=seed.kind, title_lv="", period_start=0, period_end=0, sha256=""
        )
    plan.kind = seed.kind
    plan.title_lv = seed.title.lv or ""
    plan.title_en = seed.title.en
    plan.owner_institution = seed.owner_institution
    plan.period_start = seed.period.start
    plan.period_end = seed.period.end
    plan.source = dict(seed.source)
    plan.annex = seed.annex5 if isinstance(seed, NationalPlanSeed) else None
    plan.footnotes = [f.model_dump(exclude_none=True) for f in seed.footnotes]
    plan.version = version
    plan.sha256 = sha256
    plan.loaded_at = utcnow()
    session.add(plan)
    session.flush()
    session.add(
        PlanVersion(plan_code=seed.code, version=version, sha256=sha256, source_file=source_file)
    )
    return plan, True


class _Children:
    """Existing children of a plan by code, to update in place and delete what the file dropped."""

    def __init__(self, session: Session, plan: Plan) -> None:
        self.session = session
        self.plan = plan
        self.priorities = {
            r.code: r for r in session.exec(select(Priority).where(Priority.plan_id == plan.id))
        }
        self.measures = {
            r.code: r for r in session.exec(select(Measure).where(Measure.plan_id == plan.id))
        }
        self.indicators = {
            r.code: r for r in session.exec(select(Indicator).where(Indicator.plan_id == plan.id))
        }
        self.seen: dict[str, set[str]] = {"priority": set(), "measure": set(), "indicator": set()}

    def priority(self, code: str) -> Priority:
        self.seen["priority"].add(code)
        row = self.priorities.get(code)
        if row is None:
            row = Priority(
                plan_id=self.plan.id or 0,
                plan_code=self.plan.code,
                code=code,
                kind="",
                sort_key=sort_key(code),
                title_lv="",
            )
        return row

    def measure(self, code: str) -> Measure:
        self.seen["measure"].add(code)
        row = self.measures.get(code)
        if row is None:
            row = Measure(
                plan_id=self.plan.id or 0,
                plan_code=self.plan.code,
                priority_id=0,
                priority_code="",
                code=code,
                sort_key=sort_key(code),
                text_lv="",
            )
        return row

    def indicator(self, code: str) -> Indicator:
        if code in self.seen["indicator"]:
            raise ValueError(f"plan {self.plan.code}: indicator code {code!r} appears twice")
        self.seen["indicator"].add(code)
        row = self.indicators.get(code)
        if row is None:
            row = Indicator(
                plan_id=self.plan.id or 0,
                plan_code=self.plan.code,
                priority_id=0,
                priority_code="",
                code=code,
                sort_key=sort_key(code),
                text_lv="",
            )
        return row

    def drop_missing(self) -> None:
        """Delete children the new file no longer has (indicators, then measures, priorities)."""
        gone_indicators = [
            r.id for c, r in self.indicators.items() if c not in self.seen["indicator"]
        ]
        gone_measures = [r.id for c, r in self.measures.items() if c not in self.seen["measure"]]
        gone_priorities = [
            r.id for c, r in self.priorities.items() if c not in self.seen["priority"]
        ]
        if gone_indicators:
            self.session.exec(
                delete(YearlyTarget).where(col(YearlyTarget.indicator_id).in_(gone_indicators))
            )
            self.session.exec(delete(Indicator).where(col(Indicator.id).in_(gone_indicators)))
        if gone_measures:
            self.session.exec(
                delete(MeasureInstitution).where(
                    col(MeasureInstitution.measure_id).in_(gone_measures)
                )
            )
            self.session.exec(delete(Measure).where(col(Measure.id).in_(gone_measures)))
        if gone_priorities:
            self.session.exec(delete(Priority).where(col(Priority.id).in_(gone_priorities)))
        self.session.flush()


def load_national_plan(
    session: Session, seed: NationalPlanSeed, sha256: str, source_file: str, client_id: str
) -> tuple[Plan, bool]:
    """Load the national plan: institutions, priorities, measures with institutions, indicators."""
    if seed.institutions:
        upsert_many(
            session,
            [
                InstitutionCreate(
                    code=i.code,
                    name=i.name,
                    kind=i.kind,
                    sector=i.sector,
                    parent=i.parent,
                )
                for i in seed.institutions
            ],
            client_id,
        )
    plan, changed = _plan_row(session, seed, sha256, source_file)
    if not changed:
        return plan, False
    children = _Children(session, plan)
    for p in seed.priorities:
        priority = children.priority(str(p.number))
        priority.kind = "priority"
        priority.title_lv = p.title.lv or ""
        priority.title_en = p.title.en
        priority.funding = p.funding
        priority.nap_links = list(p.nap_links)
        priority.search_text = search_text(priority.code, *_texts(p.title))
        session.add(priority)
        session.flush()
        for m in p.measures:
            measure = children.measure(m.code)
            measure.priority_id = priority.id or 0
            measure.priority_code = priority.code
            measure.text_lv = m.text.lv or ""
            measure.text_en = m.text.en
            measure.results = [r.model_dump() for r in m.results]
            measure.deadline_year = m.deadline_year
            measure.search_text = search_text(m.code, *_texts(m.text, *m.results))
            session.add(measure)
            session.flush()
            session.exec(
                delete(MeasureInstitution).where(col(MeasureInstitution.measure_id) == measure.id)
            )
            for role in ROLES:
                for position, code in enumerate(getattr(m, role)):
                    session.add(
                        MeasureInstitution(
                            measure_id=measure.id or 0,
                            role=role,
                            institution_code=code,
                            position=position,
                        )
                    )
            for i in m.indicators:
                indicator = children.indicator(i.code)
                indicator.priority_id = priority.id or 0
                indicator.priority_code = priority.code
                indicator.measure_id = measure.id
                indicator.measure_code = measure.code
                indicator.text_lv = i.text.lv or ""
                indicator.text_en = i.text.en
                target: dict[str, Any] | None = dict(i.target) if i.target else None
                indicator.target = target
                indicator.target_kind = str(target["kind"]) if target else None
                indicator.target_as_written = target.get("as_written") if target else None
                indicator.unit = target.get("unit") if target else None
                indicator.search_text = search_text(i.code, *_texts(i.text))
                session.add(indicator)
    session.flush()
    children.drop_missing()
    return plan, True


def load_strategy(
    session: Session, seed: StrategySeed, sha256: str, source_file: str
) -> tuple[Plan, bool]:
    """Load an institution's strategy: goals, indicators, yearly targets and baselines."""
    plan, changed = _plan_row(session, seed, sha256, source_file)
    if not changed:
        return plan, False
    children = _Children(session, plan)
    for g in seed.goals:
        goal = children.priority(g.code)
        goal.kind = "goal"
        goal.title_lv = g.title.lv or ""
        goal.title_en = g.title.en
        goal.funding = None
        goal.nap_links = []
        goal.search_text = search_text(goal.code, *_texts(g.title))
        session.add(goal)
        session.flush()
        for i in g.indicators:
            indicator = children.indicator(i.code)
            indicator.priority_id = goal.id or 0
            indicator.priority_code = goal.code
            indicator.measure_id = None
            indicator.measure_code = None
            indicator.text_lv = i.text.lv or ""
            indicator.text_en = i.text.en
            indicator.unit = i.unit
            indicator.scale = i.scale.model_dump() if i.scale else None
            indicator.data_source = i.data_source.model_dump() if i.data_source else None
            indicator.baseline = i.baseline.model_dump() if i.baseline else None
            indicator.result = i.result.model_dump() if i.result else None
            indicator.target = None
            indicator.target_kind = "yearly"
            indicator.target_as_written = (
                " / ".join(f"{y.year}: {y.as_written}" for y in i.yearly if y.as_written) or None
            )
            indicator.search_text = search_text(i.code, *_texts(i.text, i.result))
            session.add(indicator)
            session.flush()
            session.exec(delete(YearlyTarget).where(col(YearlyTarget.indicator_id) == indicator.id))
            for y in i.yearly:
                session.add(
                    YearlyTarget(
                        indicator_id=indicator.id or 0,
                        year=y.year,
                        kind=y.kind,
                        value=y.value,
                        direction=y.direction,
                        relative_to_baseline=y.relative_to_baseline,
                        as_written=y.as_written,
                    )
                )
    session.flush()
    children.drop_missing()
    return plan, True
