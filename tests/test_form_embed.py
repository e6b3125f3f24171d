"""HubSpot forms on the host's pages: the region's embed, the nonce, escaping, and consent."""

from __future__ import annotations

import json
import logging
import re
from html.parser import HTMLParser

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from skypanel_hubspot_plugin.hooks import form_embed as form_embed_hook
from sqlalchemy import Engine
from sqlmodel import Session

from skypanel_hubspot_plugin import PageContext, runtime
from skypanel_hubspot_plugin.page.form_embed import embed_html, jinja_globals
from skypanel_hubspot_plugin.settings import schema as keys
from skypanel_hubspot_plugin.settings.table import Setting

TOKEN = "pat-na1-0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CONTACT_FORM = "1b2c3d4e-5f60-4718-9a0b-c1d2e3f4a5b6"
TICKET_FORM = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
EMBED_RE = re.compile(
    r'<div id="(?P<id>hubspot-form-[0-9a-f]{12})" class="hubspot-form" '
    r'data-hubspot-form="(?:contact|ticket)"></div>\n'
    r'<script charset="utf-8" type="text/javascript" '
    r'src="https://js(?:-[a-z]{2}[0-9]{1,2})?\.hsforms\.net/forms/embed/v2\.js"'
    r'(?: nonce="(?P<nonce>[^"<>]*)")?></script>\n'
    r'<script type="text/javascript"(?: nonce="[^"<>]*")?>\n'
    r'if \(window\.hbspt\) hbspt\.forms\.create\(\{region: "[a-z]{2}[0-9]{1,2}", '
    r'portalId: "[1-9][0-9]{0,11}", '
    r'formId: "[0-9a-f-]{36}", target: "#(?P=id)"\}\);\n'
    r"</script>"
)


def embed(pm, form: str = "contact", **page: object) -> list[str]:  # type: ignore[no-untyped-def]
    return list(pm.hook.skypanel_form_embed(form=form, page=PageContext(**page)))  # type: ignore[arg-type]


def enable_forms(rt: runtime.Runtime, region: str = "na1", **extra: object) -> None:
    rt.store.save(
        {
            "hubspot_enabled": True,
            "hubspot_portal_id": "12345678",
            "hubspot_api_key": TOKEN,
            "hubspot_region": region,
            "hubspot_contact_form_id": CONTACT_FORM,
            "hubspot_ticket_form_id": TICKET_FORM,
            **extra,
        }
    )


@pytest.mark.parametrize(
    ("region", "host"),
    [("na1", "js.hsforms.net"), ("eu1", "js-eu1.hsforms.net"), ("na2", "js-na2.hsforms.net")],
)
def test_the_embed_is_hubspots_code_for_the_portals_region(  # type: ignore[no-untyped-def]
    pm, started_offline, region: str, host: str
) -> None:
    enable_forms(started_offline, region)
    (html,) = embed(pm, "contact", csp_nonce="r4nd0m")
    target = re.search(r'id="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    assert html == (
        f'<div id="{target}" class="hubspot-form" data-hubspot-form="contact"></div>\n'
        f'<script charset="utf-8" type="text/javascript" src="https://{host}/forms/embed/v2.js" '
        'nonce="r4nd0m"></script>\n'
        '<script type="text/javascript" nonce="r4nd0m">\n'
        f'if (window.hbspt) hbspt.forms.create({{region: "{region}", portalId: "12345678", '
        f'formId: "{CONTACT_FORM}", target: "#{target}"}});\n'
        "</script>"
    )


def test_each_form_gets_its_own_id_and_target(pm, started_offline) -> None:  # type: ignore[no-untyped-def]
    enable_forms(started_offline)
    (contact,) = embed(pm, "contact")
    (ticket,) = embed(pm, "ticket")
    (again,) = embed(pm, "contact")
    assert CONTACT_FORM in contact and TICKET_FORM in ticket
    ids = [EMBED_RE.fullmatch(h).group("id") for h in (contact, ticket, again)]  # type: ignore[union-attr]
    assert len(set(ids)) == 3
    assert "nonce" not in contact  # no nonce given, none invented


def test_the_nonce_is_on_both_scripts_and_escaped(pm, started_offline) -> None:  # type: ignore[no-untyped-def]
    enable_forms(started_offline)
    (html,) = embed(pm, csp_nonce='"><script>alert(1)</script>')
    assert html.count('nonce="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"') == 2
    assert html.count("<script") == 2


def test_nothing_while_disabled_or_unset(pm, started_offline) -> None:  # type: ignore[no-untyped-def]
    assert embed(pm) == []
    enable_forms(started_offline, hubspot_enabled=False)
    assert embed(pm, "contact") == [] and embed(pm, "ticket") == []
    started_offline.store.save({"hubspot_enabled": True, "hubspot_ticket_form_id": ""})
    assert embed(pm, "ticket") == []
    assert len(embed(pm, "contact")) == 1


def test_consent_refused_leaves_the_form_out_and_given_or_unmanaged_keeps_it(  # type: ignore[no-untyped-def]
    pm, started_offline
) -> None:
    enable_forms(started_offline)
    assert embed(pm, tracking_consent=False) == []
    assert len(embed(pm, tracking_consent=True)) == 1
    assert len(embed(pm, tracking_consent=None)) == 1


def test_consent_refused_keeps_the_chat_loader_out_of_the_head_too(pm, started_offline) -> None:  # type: ignore[no-untyped-def]
    enable_forms(started_offline, hubspot_chat_enabled=True)

    def head(consent: bool | None) -> list[str]:
        page = PageContext(csp_nonce="n0nce", tracking_consent=consent)
        return pm.hook.skypanel_page_head(page=page)  # type: ignore[no-any-return]

    assert head(False) == []
    assert len(head(True)) == 1 and "hs-script-loader" in head(True)[0]
    assert head(None) == head(True)  # a host that manages no consent: as before


def test_an_unknown_form_renders_nothing_and_logs_once(  # type: ignore[no-untyped-def]
    pm, started_offline, plugin_log: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        form_embed_hook._report_once, "_seen", set()
    )  # once per process, not per test
    enable_forms(started_offline)
    for _ in range(3):
        assert embed(pm, "newsletter") == []
    errors = [r.getMessage() for r in plugin_log.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "'contact' or 'ticket', not 'newsletter'" in errors[0]


def test_a_plugin_that_never_started_renders_nothing(pm) -> None:  # type: ignore[no-untyped-def]
    runtime.stop()
    assert embed(pm) == []


def test_the_jinja_global_places_the_form_unescaped_in_an_autoescaping_template(  # type: ignore[no-untyped-def]
    pm, started_offline
) -> None:
    enable_forms(started_offline, "eu1")
    env = jinja2.Environment(autoescape=True)
    env.globals.update(jinja_globals(pm))
    template = env.from_string('<main>{{ hubspot_form("contact", page) }}</main>')
    out = template.render(page=PageContext(csp_nonce="n0nce"))
    assert EMBED_RE.fullmatch(out.removeprefix("<main>").removesuffix("</main>"))
    assert "js-eu1.hsforms.net" in out
    consent_refused = template.render(page=PageContext(tracking_consent=False))
    assert consent_refused == "<main></main>"


class Parsed(HTMLParser):
    """What a browser would see: elements, their attributes, and each script's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts[-1] += data


CALL_RE = re.compile(
    r"\nif \(window\.hbspt\) hbspt\.forms\.create\(\{region: (?P<region>.*), portalId: (?P<portal>.*), "
    r"formId: (?P<form>.*), target: (?P<target>.*)\}\);\n",
    re.DOTALL,
)
anything = st.text(max_size=60)


@settings(max_examples=300, deadline=None)
@given(region=anything, portal_id=anything, form_id=anything, nonce=st.none() | anything)
def test_no_value_can_break_out_of_the_markup(
    region: str, portal_id: str, form_id: str, nonce: str | None
) -> None:
    # The settings' checks keep such values out; the template must hold even without them.
    html = embed_html(
        form="contact", region=region, portal_id=portal_id, form_id=form_id, nonce=nonce
    )
    parsed = Parsed()
    parsed.feed(html)
    parsed.close()
    assert [tag for tag, _ in parsed.tags] == ["div", "script", "script"]
    for _, attrs in parsed.tags[1:]:
        assert attrs.get("nonce") == (nonce or None)
    assert parsed.scripts[0] == ""
    call = CALL_RE.fullmatch(parsed.scripts[1])
    assert call is not None, parsed.scripts[1]
    assert json.loads(call["region"]) == region
    assert json.loads(call["portal"]) == portal_id
    assert json.loads(call["form"]) == form_id
    assert json.loads(call["target"]) == "#" + parsed.tags[0][1]["id"]  # type: ignore[operator]


stored_values = st.one_of(
    st.none(),
    st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40),
    st.sampled_from(
        ["true", "false", "12345678", "eu1", CONTACT_FORM, CONTACT_FORM.upper(), "x</script>"]
    ),
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stored=st.dictionaries(st.sampled_from([f.key for f in keys.FIELDS]), stored_values),
    nonce=st.none() | st.text(max_size=20),
)
def test_whatever_the_table_holds_the_spot_is_empty_or_exactly_the_embed(  # type: ignore[no-untyped-def]
    pm, started_offline, engine: Engine, stored: dict[str, str | None], nonce: str | None
) -> None:
    enable_forms(started_offline)  # a working set-up, then whatever the table may hold
    with Session(engine) as session:
        for key, value in stored.items():
            row = session.get(Setting, key) or Setting(key=key)
            row.value = value
            session.add(row)
        session.commit()
    started_offline.store.invalidate()
    for form in ("contact", "ticket"):
        out = embed(pm, form, csp_nonce=nonce)
        assert out == [] or (len(out) == 1 and EMBED_RE.fullmatch(out[0])), out
