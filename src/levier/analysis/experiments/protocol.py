"""The experiment protocol: what is tested, on whom, how it is read, and its versions.

A protocol is a pydantic model stored as JSON in the workspace's ``experiments/`` directory
(``experiments/<key>.json``) until the loop store takes it over. Saving a changed protocol
bumps ``version`` and appends the previous one to ``history`` (with time and note), so the
analysis can always cite the protocol version it used. :func:`render_protocol` prints the
one-page protocol in French or English (Markdown or HTML).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

from markdown_it import MarkdownIt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from levier.analysis.experiments.metrics import MetricSpec, default_metrics
from levier.analysis.experiments.units import unit_label
from levier.errors import ConfigError, OptionError
from levier.i18n import gettext as _

__all__ = ["Arm", "Change", "WebSettings", "Protocol", "ProtocolStore", "render_protocol", "DEFAULT_EXCLUSIONS"]

DEFAULT_EXCLUSIONS = ("opted_out", "vip", "litigation", "do_not_contact")
_P, _S, _G = default_metrics()


_CSS_PROPERTY = r"^-?[a-z][a-z0-9-]*$"
_ATTRIBUTE = r"^[A-Za-z_:][A-Za-z0-9_.:-]*$"
_URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "srcdoc"}


class Change(BaseModel):
    """One change the landing-page snippet applies to the elements matching ``selector``.

    - ``{"selector": "h1", "action": "text", "value": "New headline"}`` — replace the text;
    - ``{"selector": ".cta", "action": "attr", "name": "aria-label", "value": "Book a demo"}``;
    - ``{"selector": ".cta", "action": "css", "name": "background-color", "value": "#e4572e"}``;
    - ``{"selector": "#phone-row", "action": "hide"}`` — hide (and disable the fields inside).

    Event-handler attributes (``on…``), ``style`` and ``javascript:`` URLs are refused: a
    protocol must not be able to run code on the landing page.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    selector: str = Field(min_length=1, max_length=300)
    action: Literal["text", "attr", "css", "hide"]
    name: str | None = Field(None, max_length=80)
    value: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _check(self) -> Change:
        if self.action in ("text", "attr", "css") and self.value is None:
            raise ValueError(f"action '{self.action}' needs a value")
        if self.action == "hide" and (self.value is not None or self.name is not None):
            raise ValueError("action 'hide' takes only a selector")
        if self.action == "text" and self.name is not None:
            raise ValueError("action 'text' takes a selector and a value, no name")
        if self.action in ("attr", "css") and not self.name:
            raise ValueError(f"action '{self.action}' needs a name (attribute or CSS property)")
        if self.action == "css" and not re.match(_CSS_PROPERTY, self.name or ""):
            raise ValueError(f"'{self.name}' is not a CSS property name (e.g. background-color)")
        if self.action == "css" and re.search(r"url\s*\(|expression\s*\(|[;{}<]", self.value or "", re.I):
            raise ValueError("a CSS value cannot contain url(), expression(), ';', braces or '<'")
        if self.action == "attr":
            name = (self.name or "").lower()
            if not re.match(_ATTRIBUTE, self.name or "") or name.startswith("on") or name == "style":
                raise ValueError(f"attribute '{self.name}' is not allowed (no event handlers, no style: use action css)")
            if name in _URL_ATTRIBUTES and re.sub(r"[\s\x00-\x1f]", "", self.value or "").lower().startswith(
                    ("javascript:", "data:", "vbscript:")):
                raise ValueError(f"attribute '{self.name}' cannot hold a javascript:, data: or vbscript: URL")
        return self


class Arm(BaseModel):
    """One arm: name, traffic weight, what it changes (text / attribute / CSS for landing pages)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    weight: float = Field(1.0, ge=0)
    description: str = ""
    changes: list[Change] = Field(default_factory=list, max_length=50)


class WebSettings(BaseModel):
    """Publication of the experiment to landing pages (public variant and events endpoints).

    Off by default. ``origins`` is the CORS allow-list of the pages that may call the
    endpoints from a browser (``https://www.example.com``; ``*`` allows any origin);
    ``rate_per_minute`` caps requests per client address and experiment (decision 0073).
    """

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    origins: list[str] = Field(default_factory=list)
    rate_per_minute: int = Field(120, ge=1, le=100_000)

    @model_validator(mode="after")
    def _check(self) -> WebSettings:
        for o in self.origins:
            if o != "*" and not re.match(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$", o):
                raise ValueError(f"origin '{o}' must look like https://www.example.com (scheme, host, optional port; no path)")
        return self

    def allows(self, origin: str | None) -> bool:
        """Whether a browser request from ``origin`` may call the endpoints (no Origin: yes)."""
        return origin is None or "*" in self.origins or origin.rstrip("/") in self.origins


class Protocol(BaseModel):
    """The protocol of one experiment (the first arm is the control)."""

    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    title: str = ""
    observation: str = ""
    hypothesis: str = ""
    variable: str = ""
    unit: Literal["lead", "account", "visitor"] = "lead"
    arms: list[Arm] = Field(default_factory=lambda: [Arm(name="control"), Arm(name="treatment")])
    primary: MetricSpec = _P
    secondary: list[MetricSpec] = Field(default_factory=lambda: list(_S))
    guardrails: list[MetricSpec] = Field(default_factory=lambda: list(_G))
    dimensions: list[str] = Field(default_factory=lambda: ["channel", "company_size"])
    mde: float = Field(0.10, description="Relative minimum detectable effect (0.1 = +10 %).")
    target: float | None = Field(None, description="Relative effect needed to ship; default: the MDE.")
    alpha: float = Field(0.05, gt=0, lt=0.5)
    power: float = Field(0.8, gt=0, lt=1)
    engine: Literal["frequentist", "bayesian", "sequential"] = "frequentist"
    correction: Literal["holm", "bh", "none"] = "holm"
    planned_n_per_arm: int | None = None
    planned_days: int | None = None
    start: date | None = None
    end: date | None = None
    exclusions: list[str] = Field(default_factory=lambda: list(DEFAULT_EXCLUSIONS))
    web: WebSettings = Field(default_factory=WebSettings)
    decision_rule: str = ""
    owner: str = ""
    version: int = 1
    history: list[dict[str, Any]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Protocol:
        names = [a.name for a in self.arms]
        if len(names) < 2 or len(set(names)) != len(names):
            raise ValueError("an experiment needs at least two arms with distinct names")
        if sum(a.weight for a in self.arms) <= 0:
            raise ValueError("arm weights must not all be zero")
        if self.unit == "visitor" and "dimensions" not in self.model_fields_set:
            self.dimensions = ["utm_source", "utm_medium"]  # a visitor's breakdowns come from its first web event
        return self

    @property
    def control(self) -> str:
        return self.arms[0].name

    @property
    def variants(self) -> list[str]:
        return [a.name for a in self.arms]

    @property
    def weights(self) -> list[float]:
        return [a.weight for a in self.arms]

    @property
    def ship_target(self) -> float:
        return self.target if self.target is not None else self.mde

    def metrics(self) -> list[tuple[str, MetricSpec]]:
        """(role, metric) for every metric: primary, secondary, guardrail."""
        return [("primary", self.primary), *[("secondary", m) for m in self.secondary],
                *[("guardrail", m) for m in self.guardrails]]

    def content(self) -> dict[str, Any]:
        """The protocol without its version bookkeeping (what a change is compared on)."""
        return self.model_dump(mode="json", exclude={"version", "history"})


class ProtocolStore:
    """Protocols as JSON files in ``<workspace>/experiments/``."""

    def __init__(self, workspace_path: str | Path) -> None:
        self.dir = Path(workspace_path) / "experiments"

    def path(self, key: str) -> Path:
        return self.dir / f"{key}.json"

    def keys(self) -> list[str]:
        return sorted(p.stem for p in self.dir.glob("*.json")) if self.dir.is_dir() else []

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def load(self, key: str) -> Protocol:
        path = self.path(key)
        if not path.is_file():
            raise OptionError(_("No protocol for experiment '{key}' ({path}).", key=key, path=path),
                              hint=_("Create it with `levier experiment protocol {key} --from FILE`.", key=key))
        return load_protocol_file(path)

    def save(self, protocol: Protocol, note: str = "") -> Protocol:
        """Write ``protocol``; when it changes an existing one, bump the version and keep history."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.exists(protocol.key):
            old = self.load(protocol.key)
            if old.content() == protocol.content():
                return old
            entry = {"version": old.version, "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
                     "note": note, "protocol": old.content()}
            protocol = protocol.model_copy(update={"version": old.version + 1, "history": [*old.history, entry]})
        self.path(protocol.key).write_text(protocol.model_dump_json(indent=2), encoding="utf-8")
        return protocol


def load_protocol_file(path: str | Path) -> Protocol:
    """Read a protocol from JSON or YAML; errors name the file and the field."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text) or {}
        else:
            data = json.loads(text)
        return Protocol.model_validate(data)
    except FileNotFoundError:
        raise OptionError(_("File not found: {path}", path=path)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(root)"
        raise ConfigError(_("Invalid protocol {path}: field '{field}': {problem}", path=path, field=where,
                            problem=first["msg"])) from None
    except ValueError as exc:  # JSON / YAML syntax
        raise ConfigError(_("Cannot read the protocol {path}: {problem}", path=path, problem=exc)) from None




def _metric_line(m: MetricSpec, lang: str) -> str:
    better = _("higher is better", lang=lang) if m.direction == "higher" else _("lower is better", lang=lang)
    extra = f", {_('limit', lang=lang)} {m.limit:g}" if m.limit is not None else ""
    per = f", {_('per lead', lang=lang)}" if m.per == "lead" else ""
    return f"`{m.name}` ({m.kind}{per}; {better}{extra})"


def render_protocol(p: Protocol, lang: str = "fr", fmt: Literal["md", "html"] = "md") -> str:
    """The one-page protocol in Markdown (or HTML)."""
    t = lambda s, **k: _(s, lang=lang, **k)  # noqa: E731
    arms = ", ".join(f"**{a.name}** ({a.weight:g})" + (f" — {a.description}" if a.description else "") for a in p.arms)
    rule = p.decision_rule or t("Ship when the primary KPI improves by at least {target} with p < {alpha} and every "
                                "guardrail is safe; stop on harm or a guardrail breach; otherwise iterate.",
                                target=f"{p.ship_target:+.0%}", alpha=p.alpha)
    lines = [
        f"# {t('Experiment protocol')} — {p.title or p.key}", "",
        f"*{t('Key')}: `{p.key}` · {t('version')} {p.version}*" + (f" · {t('Owner')}: {p.owner}" if p.owner else ""), "",
        f"- **{t('Observation')}**: {p.observation or '—'}",
        f"- **{t('Hypothesis')}**: {p.hypothesis or '—'}",
        f"- **{t('The one variable tested')}**: {p.variable or '—'}",
        f"- **{t('Randomisation unit')}**: {unit_label(p.unit, lang)}",
        f"- **{t('Arms and weights')}**: {arms} ({t('the first arm is the control')})",
        f"- **{t('Primary KPI')}**: {_metric_line(p.primary, lang)}",
        f"- **{t('Secondary KPIs')}**: " + (", ".join(_metric_line(m, lang) for m in p.secondary) or "—"),
        f"- **{t('Guardrails')}**: " + (", ".join(_metric_line(m, lang) for m in p.guardrails) or "—"),
        f"- **{t('Minimum detectable effect')}**: {p.mde:+.1%} · α = {p.alpha:g} · {t('power')} = {p.power:.0%}",
        f"- **{t('Planned units per arm')}**: {p.planned_n_per_arm or '—'} · {t('planned duration (days)')}: {p.planned_days or '—'}",
        f"- **{t('Period')}**: {p.start or '—'} → {p.end or '—'}",
        f"- **{t('Exclusions')}**: {', '.join(p.exclusions) or '—'}",
        f"- **{t('Analysis')}**: {p.engine}; {t('correction')}: {p.correction}; {t('breakdowns')}: {', '.join(p.dimensions) or '—'}",
        f"- **{t('Decision rule')}**: {rule}",
    ]
    text = "\n".join(lines) + "\n"
    return MarkdownIt().render(text) if fmt == "html" else text
