"""`levier experiment design|assign|analyze|report|protocol|decide`: thin layer over levier.analysis.experiments."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from levier.analysis.experiments.analysis import collect_statistics
from levier.analysis.experiments.bayesian import GaussianPrior
from levier.analysis.experiments.decision import decide
from levier.analysis.experiments.design import design as plan_design
from levier.analysis.experiments.engine import plan_in_engine
from levier.analysis.experiments.protocol import (
    Protocol,
    ProtocolStore,
    load_protocol_file,
    render_protocol,
)
from levier.analysis.experiments.readout import ExperimentResult, ReadoutOptions, read_out
from levier.analysis.experiments.storage import daily_traffic
from levier.analysis.experiments.summary import read_summary
from levier.analysis.experiments.unit_files import read_unit_file
from levier.cli._app import JsonOpt, LangOpt, WorkspaceOpt, app, console, emit_json, err_console
from levier.errors import OptionError
from levier.i18n import get_language
from levier.i18n import gettext as _
from levier.workspace import open_workspace

__all__ = ["experiment_app"]

experiment_app = typer.Typer(help="Design, assign, analyse and report A/B experiments.", no_args_is_help=True)
app.add_typer(experiment_app, name="experiment")

EngineOpt = Annotated[str, typer.Option("--engine", help="frequentist, bayesian or sequential.")]
DiffOpt = Annotated[str, typer.Option("--difference", help="relative (lift) or absolute (difference of means).")]


def _floats(text: str | None, what: str) -> list[float] | None:
    if not text:
        return None
    try:
        return [float(x) for x in text.split(",")]
    except ValueError:
        raise OptionError(_("{what} must be numbers separated by commas (got '{text}').", what=what, text=text)) from None


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


@experiment_app.command("design")
def design_cmd(
    baseline: Annotated[float, typer.Option("--baseline", help="Baseline conversion rate (0.1 = 10 %) or mean of the metric.")],
    mde: Annotated[float | None, typer.Option("--mde", help="Minimum detectable effect, relative by default (0.1 = +10 %).")] = None,
    n: Annotated[int | None, typer.Option("--n", help="Units per arm available: compute the detectable effect instead.")] = None,
    kind: Annotated[str, typer.Option("--kind", help="proportion or mean.")] = "proportion",
    sd: Annotated[float | None, typer.Option("--sd", help="Standard deviation of a mean metric.")] = None,
    absolute: Annotated[bool, typer.Option("--absolute", help="The MDE is an absolute difference, not a relative lift.")] = False,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    power: Annotated[float, typer.Option("--power", help="Power (1 - β).")] = 0.8,
    one_sided: Annotated[bool, typer.Option("--one-sided", help="Plan a one-sided test.")] = False,
    arms: Annotated[str, typer.Option("--arms", help="Arm names, control first.")] = "control,treatment",
    weights: Annotated[str | None, typer.Option("--weights", help="Traffic weights per arm, e.g. 50,50.")] = None,
    daily_units: Annotated[float | None, typer.Option("--daily-units", help="Eligible units per day (default: from the workspace's last 28 days, if any).")] = None,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Units per arm, duration and detectable effect of a planned experiment, with warnings."""
    if kind not in ("proportion", "mean"):
        raise OptionError(_("--kind must be proportion or mean (got '{kind}').", kind=kind))
    if daily_units is None and workspace is not None:
        with open_workspace(workspace) as ws:
            daily_units = daily_traffic(ws)
    w = _floats(weights, "--weights")
    res = plan_design(baseline, mde=mde, n_per_arm=n, kind=kind, sd=sd, relative=not absolute, alpha=alpha,  # type: ignore[arg-type]
                      power=power, alternative="greater" if one_sided else "two-sided", arms=tuple(_names(arms)),
                      weights=tuple(w) if w else None, daily_units=daily_units)
    if json_:
        emit_json(res.to_dict())
        return
    table = Table(title=_("Experiment design", lang=lang))
    table.add_column(_("Arm", lang=lang))
    table.add_column(_("Units", lang=lang), justify="right")
    for arm, k in zip(res.arms, res.n_per_arm, strict=True):
        table.add_row(arm, f"{k:,}")
    console.print(table)
    console.print(_("Detectable effect: {rel} relative ({abs} absolute); total {n} units.", lang=lang,
                    rel=f"{res.mde_relative:+.2%}", abs=f"{res.mde_absolute:+.4g}", n=f"{res.n_total:,}"))
    if res.days is not None:
        console.print(_("Duration at {d} units/day: {days} days.", lang=lang, d=f"{res.daily_units:.1f}", days=res.days))
    for msg in res.warning_messages(lang):
        console.print(f"[yellow]⚠ {msg}[/yellow]")


def _check_unit_source(unit: str, units: Path | None) -> None:
    if unit == "visitor" and units is None:
        raise OptionError(_("Visitor units cannot be listed from the facts: give them with --units FILE."),
                          hint=_("Or publish the experiment to landing pages (web.enabled): visitors are assigned on their first visit."))


@experiment_app.command("assign")
def assign_cmd(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    units: Annotated[Path | None, typer.Option("--units", help="CSV of unit ids (a column unit_id, lead_id, account_id, anonymous_id or id; or one id per line), read by the engine. Default: the workspace's leads, or their accounts when the protocol's unit is account; required for visitor units.")] = None,
    variants: Annotated[str | None, typer.Option("--variants", help="Variants, control first (default: the protocol's, else control,treatment).")] = None,
    weights: Annotated[str | None, typer.Option("--weights", help="Weights per variant, e.g. 50,50 (default: the protocol's, else equal).")] = None,
    since: Annotated[datetime | None, typer.Option("--since", help="Only leads (or accounts of leads) created on or after this date.")] = None,
    until: Annotated[datetime | None, typer.Option("--until", help="Only leads (or accounts of leads) created before this date.")] = None,
    exclude: Annotated[str | None, typer.Option("--exclude", help="Exclusion rules (default: the protocol's, else opted_out,vip,litigation,do_not_contact; 'none' for none). An account is excluded when one of its leads is VIP, in litigation or do-not-contact, or when all of them opted out.")] = None,
    exclude_file: Annotated[Path | None, typer.Option("--exclude-file", help="CSV of unit ids never to assign (same format as --units).")] = None,
    export: Annotated[Path | None, typer.Option("--export", help="Write every assignment of the experiment to this CSV (for CRM import).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be assigned; store nothing.")] = False,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Assign units to variants by deterministic hashing; existing units keep their variant."""
    with open_workspace(workspace) as ws:
        store = ProtocolStore(ws.path)
        proto = store.load(key) if store.exists(key) else None
        names = _names(variants) if variants else (proto.variants if proto else ["control", "treatment"])
        w = _floats(weights, "--weights") or (proto.weights if proto else None)
        rules = _names(exclude) if exclude else (proto.exclusions if proto else None)
        rules = [] if rules == ["none"] else rules
        unit = proto.unit if proto else "lead"
        _check_unit_source(unit, units)
        with err_console.status(_("Assigning in the engine…")):
            listed = read_unit_file(ws, units, option="--units") if units else None
            barred = read_unit_file(ws, exclude_file, option="--exclude-file") if exclude_file else None
            job = plan_in_engine(ws, key, names, w, unit=unit, units=listed, since=since, until=until, rules=rules,
                                 excluded=barred)
            plan = job.plan()
            stored = 0 if dry_run else job.store(datetime.now(UTC).replace(tzinfo=None))
            if export:
                job.export(export)
    payload = {**plan.to_dict(), "stored": stored, "dry_run": dry_run, "export": str(export) if export else None}
    if json_:
        emit_json(payload)
        return
    console.print(_("{new} new units assigned, {kept} kept, {excluded} excluded.", new=plan.new, kept=plan.kept,
                    excluded=plan.excluded))
    console.print(", ".join(f"{v}: {k:,}" for v, k in plan.counts.items()))
    if export:
        console.print(_("Assignments written to {path}", path=export))


def _options(engine: str, difference: str, alpha: float, correction: str, target: float | None,
             prior_mean: float | None, prior_sd: float | None, tuning: float, proto: Protocol | None,
             daily: float | None) -> ReadoutOptions:
    if engine not in ("frequentist", "bayesian", "sequential"):
        raise OptionError(_("--engine must be frequentist, bayesian or sequential (got '{v}').", v=engine))
    if difference not in ("relative", "absolute"):
        raise OptionError(_("--difference must be relative or absolute (got '{v}').", v=difference))
    if correction not in ("holm", "bh", "none"):
        raise OptionError(_("--correction must be holm, bh or none (got '{v}').", v=correction))
    prior = GaussianPrior(prior_mean or 0.0, prior_sd**2, True) if prior_sd else None
    tgt = target if target is not None else (proto.ship_target if proto else 0.10)
    return ReadoutOptions(engine=engine, difference=difference, alpha=alpha, correction=correction,  # type: ignore[arg-type]
                          target=tgt, prior=prior, tuning=tuning, daily_units=daily,
                          power=proto.power if proto else 0.8,
                          weights=tuple(proto.weights) if proto else None)


def _protocol_dimensions(ws: Any, proto: Protocol) -> list[str]:
    """The protocol's breakdowns this unit can use (a warning names the others, which are skipped)."""
    from levier.analysis.experiments.units import WEB_DIMENSIONS

    allowed = WEB_DIMENSIONS if proto.unit == "visitor" else tuple(ws.table("leads").columns)
    skipped = [d for d in proto.dimensions if d not in allowed]
    if skipped:
        err_console.print("[yellow]⚠ " + _("Breakdowns skipped (not available for {unit} units): {names}.",
                                            unit=proto.unit, names=", ".join(skipped)) + "[/yellow]")
    return [d for d in proto.dimensions if d in allowed]


def _analyse(key: str | None, summary: Path | None, workspace: Path | None, control: str | None,
             dimensions: list[str] | None, opts_args: dict[str, Any], lang: str | None) -> tuple[ExperimentResult, Any]:
    proto: Protocol | None = None
    if summary is not None:
        data = read_summary(summary, control=control, **({"key": key} if key else {}))
        opts = _options(**opts_args, proto=None, daily=None)
    else:
        if not key:
            raise OptionError(_("Give the experiment key, or --from-summary FILE."))
        with open_workspace(workspace) as ws:
            store = ProtocolStore(ws.path)
            proto = store.load(key) if store.exists(key) else Protocol(key=key)
            a = ws.table("assignments")
            arms = [str(v) for v in a.filter(a.experiment_key == key).select("variant").distinct().execute()["variant"]]
            order = [v for v in proto.variants if v in arms] + sorted(set(arms) - set(proto.variants))
            if control:
                order = [control] + [v for v in order if v != control]
            roles = {m.name: r for r, m in proto.metrics()}
            if dimensions is None:
                dimensions = _protocol_dimensions(ws, proto)
            with err_console.status(_("Computing statistics in the engine…")):
                data = collect_statistics(ws.tables, key, [m for _r, m in proto.metrics()], order or proto.variants,
                                          dimensions=dimensions, roles=roles, unit=proto.unit)
            opts = _options(**opts_args, proto=proto, daily=daily_traffic(ws, unit=proto.unit))
    result = read_out(data, opts)
    decision = decide(result, proto, target=opts.target, lang=lang)
    return result, decision


@experiment_app.command("analyze")
def analyze_cmd(
    key: Annotated[str | None, typer.Argument(help="Experiment key (its assignments and protocol in the workspace).")] = None,
    from_summary: Annotated[Path | None, typer.Option("--from-summary", help="CSV with one row per arm: arm, units, conversions or sum + sum_squares.")] = None,
    engine: EngineOpt = "frequentist",
    difference: DiffOpt = "relative",
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level (1 - α intervals).")] = 0.05,
    correction: Annotated[str, typer.Option("--correction", help="holm, bh or none (several arms × metrics).")] = "holm",
    target: Annotated[float | None, typer.Option("--target", help="Relative effect needed to ship (default: the protocol's MDE, else 0.10).")] = None,
    control: Annotated[str | None, typer.Option("--control", help="Control arm (default: the first arm).")] = None,
    dimension: Annotated[list[str] | None, typer.Option("--dimension", help="Breakdown by this leads column, or web event column (utm_source…) for visitor units (repeatable).")] = None,
    prior_mean: Annotated[float | None, typer.Option("--prior-mean", help="Bayesian: mean of a proper prior on the relative lift.")] = None,
    prior_sd: Annotated[float | None, typer.Option("--prior-sd", help="Bayesian: standard deviation of that prior (enables it).")] = None,
    tuning: Annotated[float, typer.Option("--tuning", help="Sequential: sample size where the confidence sequence is tightest.")] = 5000.0,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Analyse an experiment (workspace facts or a summary CSV) and propose a decision."""
    args = {"engine": engine, "difference": difference, "alpha": alpha, "correction": correction, "target": target,
            "prior_mean": prior_mean, "prior_sd": prior_sd, "tuning": tuning}
    result, decision = _analyse(key, from_summary, workspace, control, dimension, args, lang)
    if json_:
        emit_json({**result.to_dict(), "decision": decision.to_dict()})
        return
    from levier.report.experiments import render_markdown

    console.print(render_markdown(result, decision, lang or get_language()), markup=False, soft_wrap=True)


@experiment_app.command("report")
def report_cmd(
    key: Annotated[str | None, typer.Argument(help="Experiment key.")] = None,
    from_summary: Annotated[Path | None, typer.Option("--from-summary", help="Summary CSV instead of the workspace.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output file (.md, .html, .xlsx or .json); default: Markdown on stdout.")] = None,
    engine: EngineOpt = "frequentist",
    difference: DiffOpt = "relative",
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Write the experiment report section (effect chart, tables, decision) as Markdown, HTML, XLSX or JSON."""
    from levier.report import experiments as rep

    args = {"engine": engine, "difference": difference, "alpha": alpha, "correction": "holm", "target": None,
            "prior_mean": None, "prior_sd": None, "tuning": 5000.0}
    result, decision = _analyse(key, from_summary, workspace, None, None, args, lang)
    language = lang or get_language()
    suffix = out.suffix.lower() if out else ".md"
    if out is None:
        if json_:
            emit_json({**result.to_dict(), "decision": decision.to_dict(), "chart": rep.effect_chart_spec(result, language)})
        else:
            console.print(rep.render_markdown(result, decision, language), markup=False, soft_wrap=True)
        return
    if suffix == ".xlsx":
        rep.write_xlsx(out, result, decision, language)
    elif suffix in (".html", ".htm"):
        out.write_text(rep.render_html(result, decision, language), encoding="utf-8")
    elif suffix == ".json":
        import json

        out.write_text(json.dumps({**result.to_dict(), "decision": decision.to_dict()}, indent=2, default=str), encoding="utf-8")
    elif suffix == ".md":
        out.write_text(rep.render_markdown(result, decision, language), encoding="utf-8")
    else:
        raise OptionError(_("--out must end in .md, .html, .xlsx or .json (got '{name}').", name=out.name))
    if json_:
        emit_json({"path": str(out), "light": decision.light, "action": decision.action})
    else:
        console.print(_("Report written to {path}", path=out))


@experiment_app.command("protocol")
def protocol_cmd(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    from_file: Annotated[Path | None, typer.Option("--from", help="Create or update the protocol from this YAML/JSON file (a change bumps the version).")] = None,
    note: Annotated[str, typer.Option("--note", help="Why the protocol changed (kept in its history).")] = "",
    fmt: Annotated[str, typer.Option("--format", help="md or html.")] = "md",
    out: Annotated[Path | None, typer.Option("--out", help="Write the printable protocol to this file.")] = None,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Create, update (versioned) and print the one-page protocol of an experiment."""
    with open_workspace(workspace) as ws:
        store = ProtocolStore(ws.path)
        if from_file is not None:
            proto = load_protocol_file(from_file)
            if proto.key != key:
                proto = proto.model_copy(update={"key": key})
            proto = store.save(proto, note)
        else:
            proto = store.load(key)
    if json_:
        emit_json(proto.model_dump(mode="json"))
        return
    text = render_protocol(proto, lang or get_language(), "html" if fmt == "html" else "md")
    if out:
        out.write_text(text, encoding="utf-8")
        console.print(_("Protocol written to {path}", path=out))
    else:
        console.print(text, markup=False, soft_wrap=True)


@experiment_app.command("decide")
def decide_cmd(
    key: Annotated[str, typer.Argument(help="Experiment key (its registry entry in the loop is created if missing).")],
    from_summary: Annotated[Path | None, typer.Option("--from-summary", help="Summary CSV instead of the workspace's facts.")] = None,
    engine: EngineOpt = "frequentist",
    difference: DiffOpt = "relative",
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    target: Annotated[float | None, typer.Option("--target", help="Relative effect needed to ship (default: the protocol's MDE, else 0.10).")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Override the proposed action: ship, iterate or stop.")] = None,
    outcome: Annotated[str | None, typer.Option("--outcome", help="Override the learning's outcome: success or failure.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the decision and learning draft; write nothing.")] = False,
    workspace: WorkspaceOpt = None,
    json_: JsonOpt = False,
    lang: LangOpt = None,
) -> None:
    """Decide an experiment in the loop: registry status (ship / iterate / stop) and a learning draft."""
    from levier.analysis.experiments.record import learning_fields, record_decision

    if outcome is not None and outcome not in ("success", "failure"):
        raise OptionError(_("--outcome must be success or failure (got '{v}').", v=outcome))
    args = {"engine": engine, "difference": difference, "alpha": alpha, "correction": "holm", "target": target,
            "prior_mean": None, "prior_sd": None, "tuning": 5000.0}
    result, decision = _analyse(key, from_summary, workspace, None, None, args, lang)
    with open_workspace(workspace) as ws:
        store = ProtocolStore(ws.path)
        proto = store.load(key) if store.exists(key) else None
        if proto is not None and from_summary is not None:
            decision = decide(result, proto, target=target, lang=lang)
        if dry_run:
            payload: dict[str, Any] = {"dry_run": True, "light": decision.light, "action": action or decision.action,
                                       "learning": learning_fields(decision, action=action, outcome=outcome, lang=lang)}
        else:
            with ws.session() as s:
                recorded = record_decision(s, result, decision, proto, action=action, outcome=outcome, lang=lang)
                s.commit()
            payload = {"dry_run": False, **recorded.to_dict()}
    if json_:
        emit_json(payload)
        return
    learning = payload["learning"]
    console.print(_("Decision: {action} ({light}).", lang=lang, action=payload["action"], light=decision.light))
    for _code, message in decision.reasons:
        console.print(f"- {message}", markup=False)
    if dry_run:
        console.print(_("Learning draft (not saved): {title} — {outcome}", lang=lang, title=learning["title"],
                        outcome=learning["outcome"]), markup=False)
    else:
        console.print(_("Experiment #{id} is {status}; learning #{lid} written ({outcome}).", lang=lang,
                        id=payload["experiment_id"], status=payload["status"], lid=payload["learning_id"],
                        outcome=learning["outcome"]), markup=False)
