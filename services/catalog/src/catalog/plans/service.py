"""Reading plans, priorities, measures and indicators."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func
from sqlmodel import Session, col, select

from catalog.common.i18n import LocalizedText, text_of
from catalog.common.keyset import after
from catalog.common.search import matches
from catalog.institutions.models import Institution
from catalog.plans.models import (
    Indicator,
    IndicatorPublic,
    InstitutionRef,
    Measure,
    MeasureDetail,
    MeasureInstitution,
    MeasureInstitutions,
    MeasurePublic,
    Period,
    Plan,
    PlanDetail,
    PlanPublic,
    PlanVersion,
    PlanVersionPublic,
    Priority,
    PriorityPublic,
    YearlyTarget,
    YearlyTargetPublic,
)
from pilnveide_kit.errors import NotFound
from pilnveide_kit.pagination import PageParams, count_of


class PlanNotFound(NotFound):
    """No plan has this code."""

    slug = "plan-not-found"


class PriorityNotFound(NotFound):
    """The plan has no priority or goal with this code."""

    slug = "priority-not-found"


class MeasureNotFound(NotFound):
    """The plan has no measure with this code."""

    slug = "measure-not-found"


class IndicatorNotFound(NotFound):
    """The plan has no indicator with this code."""

    slug = "indicator-not-found"


def _text(lv: str | None, en: str | None) -> LocalizedText:
    return text_of(lv, en) or LocalizedText(lv="")


def get_plan_row(session: Session, code: str) -> Plan:
    """The plan with this code, or a 404 problem."""
    plan = session.exec(select(Plan).where(Plan.code == code)).first()
    if plan is None:
        raise PlanNotFound(f"No plan has the code {code!r}", plan=code)
    return plan


def _counts(
    session: Session, model: type[Priority] | type[Measure] | type[Indicator]
) -> dict[int, int]:
    rows = session.exec(select(col(model.plan_id), func.count()).group_by(col(model.plan_id))).all()
    return {int(plan_id): int(count) for plan_id, count in rows}


def _plan_public(plan: Plan, counts: Sequence[dict[int, int]]) -> dict[str, object]:
    assert plan.id is not None
    return {
        "code": plan.code,
        "kind": plan.kind,
        "title": _text(plan.title_lv, plan.title_en),
        "owner_institution": plan.owner_institution,
        "period": Period(start=plan.period_start, end=plan.period_end),
        "source": plan.source,
        "version": plan.version,
        "sha256": plan.sha256,
        "loaded_at": plan.loaded_at,
        "priorities": counts[0].get(plan.id, 0),
        "measures": counts[1].get(plan.id, 0),
        "indicators": counts[2].get(plan.id, 0),
    }


def list_plans(session: Session, *, kind: str | None) -> list[PlanPublic]:
    """Every plan loaded: the national plan first, then institutions' strategies."""
    query = select(Plan).order_by(col(Plan.kind).desc(), col(Plan.code))
    if kind:
        query = query.where(Plan.kind == kind)
    counts = [_counts(session, Priority), _counts(session, Measure), _counts(session, Indicator)]
    return [PlanPublic.model_validate(_plan_public(p, counts)) for p in session.exec(query).all()]


def get_plan(session: Session, code: str) -> PlanDetail:
    """One plan with its annex data."""
    plan = get_plan_row(session, code)
    counts = [_counts(session, Priority), _counts(session, Measure), _counts(session, Indicator)]
    return PlanDetail.model_validate(
        {**_plan_public(plan, counts), "annex5": plan.annex, "footnotes": plan.footnotes or []}
    )


def plan_versions(session: Session, code: str) -> list[PlanVersionPublic]:
    """Every version of a plan's data file loaded so far, oldest first."""
    get_plan_row(session, code)
    rows = session.exec(
        select(PlanVersion).where(PlanVersion.plan_code == code).order_by(col(PlanVersion.version))
    ).all()
    return [PlanVersionPublic.model_validate(r, from_attributes=True) for r in rows]


def list_priorities(
    session: Session, *, plan: str | None, q: str | None, page: PageParams
) -> tuple[list[PriorityPublic], int]:
    """Priorities (and strategies' goals) in plan order."""
    query = select(Priority)
    if plan:
        get_plan_row(session, plan)
        query = query.where(Priority.plan_code == plan)
    if q:
        query = query.where(matches(Priority.search_text, q))
    total = count_of(session, query)
    cursor = after([Priority.plan_code, Priority.sort_key], ["p", "s"], page.after)
    if cursor is not None:
        query = query.where(cursor)
    query = query.order_by(col(Priority.plan_code), col(Priority.sort_key)).limit(page.limit + 1)
    rows = list(session.exec(query).all())
    return _priorities_public(session, rows), total


def get_priority(session: Session, plan: str, code: str) -> PriorityPublic:
    """One priority or goal of a plan."""
    get_plan_row(session, plan)
    row = session.exec(
        select(Priority).where(Priority.plan_code == plan, Priority.code == code)
    ).first()
    if row is None:
        raise PriorityNotFound(f"The plan {plan} has no priority {code!r}", plan=plan, code=code)
    return _priorities_public(session, [row])[0]


def _priorities_public(session: Session, rows: list[Priority]) -> list[PriorityPublic]:
    ids = [r.id for r in rows]
    measures: dict[int, list[str]] = defaultdict(list)
    if ids:
        for priority_id, code in session.exec(
            select(Measure.priority_id, Measure.code)
            .where(col(Measure.priority_id).in_(ids))
            .order_by(col(Measure.sort_key))
        ).all():
            measures[priority_id].append(code)
    return [
        PriorityPublic(
            plan=r.plan_code,
            code=r.code,
            kind=r.kind,
            title=_text(r.title_lv, r.title_en),
            funding=r.funding,
            nap_links=r.nap_links,
            measures=measures.get(r.id or 0, []),
        )
        for r in rows
    ]


def list_measures(
    session: Session,
    *,
    plan: str | None,
    priority: str | None,
    responsible: str | None,
    institution: str | None,
    deadline_year: int | None,
    q: str | None,
    page: PageParams,
) -> tuple[list[MeasurePublic], int]:
    """Measures in plan order, filtered."""
    query = select(Measure)
    if plan:
        get_plan_row(session, plan)
        query = query.where(Measure.plan_code == plan)
    if priority:
        query = query.where(Measure.priority_code == priority)
    if responsible:
        query = query.where(
            col(Measure.id).in_(
                select(MeasureInstitution.measure_id).where(
                    MeasureInstitution.institution_code == responsible,
                    MeasureInstitution.role == "responsible",
                )
            )
        )
    if institution:
        query = query.where(
            col(Measure.id).in_(
                select(MeasureInstitution.measure_id).where(
                    MeasureInstitution.institution_code == institution
                )
            )
        )
    if deadline_year is not None:
        query = query.where(Measure.deadline_year == deadline_year)
    if q:
        query = query.where(matches(Measure.search_text, q))
    total = count_of(session, query)
    cursor = after([Measure.plan_code, Measure.sort_key], ["p", "s"], page.after)
    if cursor is not None:
        query = query.where(cursor)
    query = query.order_by(col(Measure.plan_code), col(Measure.sort_key)).limit(page.limit + 1)
    return _measures_public(session, list(session.exec(query).all())), total


def _measure_row(session: Session, plan: str, code: str) -> Measure:
    get_plan_row(session, plan)
    row = session.exec(
        select(Measure).where(Measure.plan_code == plan, Measure.code == code)
    ).first()
    if row is None:
        raise MeasureNotFound(f"The plan {plan} has no measure {code!r}", plan=plan, code=code)
    return row


def get_measure(session: Session, plan: str, code: str) -> MeasureDetail:
    """One measure with its results, institutions and indicators in full."""
    row = _measure_row(session, plan, code)
    public = _measures_public(session, [row])[0]
    indicators = session.exec(
        select(Indicator).where(Indicator.measure_id == row.id).order_by(col(Indicator.sort_key))
    ).all()
    return MeasureDetail(
        **public.model_dump(), indicator_details=_indicators_public(session, list(indicators))
    )


def _measures_public(session: Session, rows: list[Measure]) -> list[MeasurePublic]:
    ids = [r.id for r in rows if r.id is not None]
    links: dict[int, list[MeasureInstitution]] = defaultdict(list)
    indicator_codes: dict[int, list[str]] = defaultdict(list)
    names: dict[str, Institution] = {}
    if ids:
        for link in session.exec(
            select(MeasureInstitution)
            .where(col(MeasureInstitution.measure_id).in_(ids))
            .order_by(col(MeasureInstitution.position))
        ).all():
            links[link.measure_id].append(link)
        codes = {link.institution_code for group in links.values() for link in group}
        if codes:
            names = {
                i.code: i
                for i in session.exec(select(Institution).where(col(Institution.code).in_(codes)))
            }
        for measure_id, code in session.exec(
            select(Indicator.measure_id, Indicator.code)
            .where(col(Indicator.measure_id).in_(ids))
            .order_by(col(Indicator.sort_key))
        ).all():
            if measure_id is not None:
                indicator_codes[measure_id].append(code)

    def refs(measure_id: int, role: str) -> list[InstitutionRef]:
        out = []
        for link in links.get(measure_id, []):
            if link.role == role:
                known = names.get(link.institution_code)
                out.append(
                    InstitutionRef(
                        code=link.institution_code,
                        name=text_of(known.name_lv, known.name_en) if known else None,
                    )
                )
        return out

    return [
        MeasurePublic(
            plan=r.plan_code,
            code=r.code,
            priority=r.priority_code,
            text=_text(r.text_lv, r.text_en),
            results=[LocalizedText.model_validate(x) for x in r.results],
            deadline_year=r.deadline_year,
            institutions=MeasureInstitutions(
                responsible=refs(r.id or 0, "responsible"),
                co_responsible=refs(r.id or 0, "co_responsible"),
                cooperating=refs(r.id or 0, "cooperating"),
            ),
            indicators=indicator_codes.get(r.id or 0, []),
        )
        for r in rows
    ]


def list_indicators(
    session: Session,
    *,
    plan: str | None,
    priority: str | None,
    measure: str | None,
    target_kind: str | None,
    q: str | None,
    page: PageParams,
) -> tuple[list[IndicatorPublic], int]:
    """Indicators in plan order, filtered."""
    query = select(Indicator)
    if plan:
        get_plan_row(session, plan)
        query = query.where(Indicator.plan_code == plan)
    if priority:
        query = query.where(Indicator.priority_code == priority)
    if measure:
        query = query.where(Indicator.measure_code == measure)
    if target_kind:
        query = query.where(Indicator.target_kind == target_kind)
    if q:
        query = query.where(matches(Indicator.search_text, q))
    total = count_of(session, query)
    cursor = after([Indicator.plan_code, Indicator.sort_key], ["p", "s"], page.after)
    if cursor is not None:
        query = query.where(cursor)
    query = query.order_by(col(Indicator.plan_code), col(Indicator.sort_key)).limit(page.limit + 1)
    return _indicators_public(session, list(session.exec(query).all())), total


def get_indicator(session: Session, plan: str, code: str) -> IndicatorPublic:
    """One indicator with its target (and yearly targets for a strategy)."""
    get_plan_row(session, plan)
    row = session.exec(
        select(Indicator).where(Indicator.plan_code == plan, Indicator.code == code)
    ).first()
    if row is None:
        raise IndicatorNotFound(f"The plan {plan} has no indicator {code!r}", plan=plan, code=code)
    return _indicators_public(session, [row])[0]


def _indicators_public(session: Session, rows: list[Indicator]) -> list[IndicatorPublic]:
    ids = [r.id for r in rows if r.id is not None]
    yearly: dict[int, list[YearlyTargetPublic]] = defaultdict(list)
    if ids:
        for y in session.exec(
            select(YearlyTarget)
            .where(col(YearlyTarget.indicator_id).in_(ids))
            .order_by(col(YearlyTarget.year))
        ).all():
            yearly[y.indicator_id].append(
                YearlyTargetPublic.model_validate(y, from_attributes=True)
            )
    return [
        IndicatorPublic(
            plan=r.plan_code,
            code=r.code,
            priority=r.priority_code,
            measure=r.measure_code,
            text=_text(r.text_lv, r.text_en),
            target_kind=r.target_kind,
            target=r.target,
            target_as_written=r.target_as_written,
            unit=r.unit,
            scale=r.scale,
            data_source=r.data_source,
            baseline=r.baseline,
            result=r.result,
            yearly=yearly.get(r.id or 0, []),
        )
        for r in rows
    ]
