"""The demo panel in a real browser: an admin sets HubSpot up, a customer signs up and asks for help.

The panel runs in-process under uvicorn on a free loopback port, against the fake HubSpot;
Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright) is the admin and the
customer. Every request the browser tries to send off loopback is refused and recorded, so
the test also sees which HubSpot scripts a page asked for, without any internet.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Response,
    Route,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from skypanel_hubspot_plugin import runtime
from skypanel_hubspot_plugin.demo.app import create_app
from skypanel_hubspot_plugin.demo.config import DemoConfig
from skypanel_hubspot_plugin.demo.sandbox_pages import (
    add_sandbox_forms,
    subscribe_sandbox_webhooks,
)
from skypanel_hubspot_plugin.testing import (
    FAKE_APP_SECRET,
    FAKE_CONTACT_FORM_ID,
    FAKE_PORTAL_ID,
    FAKE_TICKET_FORM_ID,
    FAKE_TOKEN,
    FakeHubSpot,
)

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path(os.environ.get("SKYPANEL_TEST_CHROMIUM", "/usr/bin/chromium"))
ADMIN_PASSWORD = "correct horse battery staple"
SAMPLE_CUSTOMERS = 5
WAIT_MS = 20_000
WAIT_S = WAIT_MS / 1000
#: Each shown select whose words (any option it can show) are wider than its box.
CUT_OFF_SELECTS = """() => {
  const ctx = document.createElement("canvas").getContext("2d");
  const cut = [];
  for (const select of document.querySelectorAll("select")) {
    if (!select.offsetParent) continue;
    const style = getComputedStyle(select);
    ctx.font = `${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const arrow = 20;
    const room = select.clientWidth - parseFloat(style.paddingLeft)
      - parseFloat(style.paddingRight) - arrow;
    const words = [...select.options].filter((o) => !o.disabled).map((o) => o.text);
    const widest = words.find((text) => ctx.measureText(text).width > room);
    if (widest !== undefined) cut.push(`${select.id || select.className}: ${widest}`);
  }
  return cut;
}"""


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("SKYPANEL_TEST_ARTIFACTS") or ROOT / "test-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        reason = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; CI=true requires it")
        pytest.skip(reason)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def panel(tmp_path: Path, fake_hubspot: FakeHubSpot) -> Iterator[str]:
    """The demo panel served on 127.0.0.1 until the test ends; yields its base URL."""
    sock = socket.create_server(("127.0.0.1", 0))  # the port first: webhooks are signed for it
    port = sock.getsockname()[1]
    app = create_app(
        DemoConfig(
            data_dir=tmp_path / "panel",
            admin_password=ADMIN_PASSWORD,
            hubspot_base_url=fake_hubspot.base_url,
            settings_poll_interval=0.2,
            sample_customers=SAMPLE_CUSTOMERS,
            sandbox=fake_hubspot,
            public_base_url=f"http://127.0.0.1:{port}",
        )
    )
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="demo-panel", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the demo panel did not start")
        time.sleep(0.01)
    add_sandbox_forms(fake_hubspot)
    subscribe_sandbox_webhooks(fake_hubspot, f"http://127.0.0.1:{port}/api/hubspot/webhooks")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(WAIT_S)
        assert not thread.is_alive(), "the demo panel did not stop"


@dataclass
class Traffic:
    """What one browser context fetched from the panel, and what it tried to fetch elsewhere."""

    bodies: list[tuple[str, str]]
    refused: list[str]
    page_errors: list[str]
    console_errors: list[str]


def new_context(browser: Browser, panel: str) -> tuple[BrowserContext, Traffic]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    traffic = Traffic(bodies=[], refused=[], page_errors=[], console_errors=[])

    def refuse(route: Route) -> None:
        traffic.refused.append(route.request.url)
        route.abort()

    def keep(response: Response) -> None:
        if response.url.startswith(panel) and not 300 <= response.status < 400:
            with contextlib.suppress(PlaywrightError):  # a page already navigated away from
                traffic.bodies.append((response.url, response.text()))

    context.route(lambda url: urlsplit(url).hostname != "127.0.0.1", refuse)
    context.on("response", keep)

    def watch(page: Page) -> None:
        page.on("pageerror", lambda e: traffic.page_errors.append(str(e)))
        page.on(
            "console",
            lambda m: (
                traffic.console_errors.append(f"{page.url}: {m.text}")
                if m.type == "error"
                else None
            ),
        )

    context.on("page", watch)
    return context, traffic


def admin_settings_page(browser: Browser, panel: str) -> tuple[Page, Traffic]:
    """A fresh browser context signed in as the admin, on the HubSpot settings page."""
    context, traffic = new_context(browser, panel)
    admin = context.new_page()
    log_in_as_admin(admin, panel)
    return admin, traffic


def log_in_as_admin(page: Page, panel: str) -> None:
    page.goto(f"{panel}/admin/settings")
    expect(page).to_have_url(f"{panel}/admin/login")
    page.fill("#username", "admin")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login-submit")
    expect(page).to_have_url(f"{panel}/admin/settings")


def enable_with_polling(admin: Page, panel: str) -> None:
    """Logs in as the admin and fills the settings for tickets coming back by polling every
    10 s (no app client secret), leaving them to be saved."""
    log_in_as_admin(admin, panel)
    admin.check("#hubspot_enabled")
    admin.fill("#hubspot_portal_id", str(FAKE_PORTAL_ID))
    admin.fill("#hubspot_api_key", FAKE_TOKEN)
    admin.check("#hubspot_ticket_enabled")
    admin.select_option("#hubspot_ticket_sync", "polling")
    admin.fill("#hubspot_ticket_poll_interval", "10")


def save_settings(page: Page) -> None:
    page.click("#settings-save")
    expect(page.locator("#settings-message")).to_have_text("Settings saved.")


def test_admin_sets_up_hubspot_and_a_customer_reaches_it(
    browser: Browser, panel: str, fake_hubspot: FakeHubSpot
) -> None:
    admin_context, admin_traffic = new_context(browser, panel)
    customer_context, customer_traffic = new_context(browser, panel)
    admin = admin_context.new_page()
    customer = customer_context.new_page()

    # The admin logs in; the settings page is drawn from the plugin's schema. Nothing is
    # set up yet, and nothing on the page says something went wrong.
    log_in_as_admin(admin, panel)
    admin_traffic.console_errors.clear()  # (the login form's own 401, if any, is not this)
    expect(admin.locator("#contacts-message")).to_contain_text("once the integration is enabled")
    expect(admin.locator("#settings-message")).not_to_have_text("Loading the saved settings…")
    expect(admin.locator(f"#{TICKET_MAP}-note")).to_contain_text("once an access token is saved")
    expect(admin.locator('[data-kind="error"]:not(:empty)')).to_have_count(0)
    # Nothing was asked that could only be refused before configuration: no console errors.
    assert admin_traffic.console_errors == []
    # The status → stage table is the Ticket pipeline card's, not a second JSON field.
    expect(admin.locator("#hubspot_ticket_status_stages")).to_be_hidden()
    for key in ("hubspot_enabled", "hubspot_portal_id", "hubspot_region", "hubspot_rate_limit"):
        expect(admin.locator(f"#{key}")).to_be_enabled()
    expect(admin.locator("#hubspot_api_key")).to_have_attribute("type", "password")
    expect(admin.locator("#hubspot_api_key")).to_have_attribute("placeholder", "not set")

    # Switching HubSpot on without a portal or a token is refused, next to the field.
    admin.check("#hubspot_enabled")
    admin.click("#settings-save")
    expect(admin.locator("#hubspot_portal_id-error")).to_be_visible()
    expect(admin.locator("#hubspot_portal_id-error")).not_to_be_empty()
    expect(admin.locator("#settings-message")).to_contain_text("Invalid settings")

    admin.fill("#hubspot_portal_id", str(FAKE_PORTAL_ID))
    admin.fill("#hubspot_api_key", FAKE_TOKEN)
    admin.fill("#hubspot_app_secret", FAKE_APP_SECRET)
    admin.fill("#hubspot_contact_form_id", FAKE_CONTACT_FORM_ID)
    admin.fill("#hubspot_ticket_form_id", FAKE_TICKET_FORM_ID)
    admin.check("#hubspot_ticket_enabled")
    save_settings(admin)
    expect(admin.locator("#hubspot_portal_id-error")).to_be_hidden()
    expect(admin.locator("#hubspot_api_key")).to_have_value("")
    expect(admin.locator("#hubspot_api_key")).to_have_attribute(
        "placeholder", f"set (…{FAKE_TOKEN[-4:]})"
    )

    admin.click("#test-connection")
    result = admin.locator("#connection-result")
    expect(result).to_contain_text("connection successful")
    expect(result).to_contain_text(str(FAKE_PORTAL_ID))
    expect(result).to_contain_text("come back by webhooks or polling")
    assert (result.text_content() or "").count("come back by") == 1  # said once
    # Every select shows its words whole, HubSpot's property lists included.
    expect(admin.locator(f"#{CONTACT_MAP}-rows select").first).to_be_visible()
    assert admin.evaluate(CUT_OFF_SELECTS) == []

    # The panel's own fields (the customer's plan and servers, the ticket's server) are
    # offered, and mapped to the portal's custom properties.
    for field in ("plan", "server_count"):
        expect(admin.locator(f"#{CONTACT_MAP}-fields option[value={field}]")).to_have_count(1)
    expect(admin.locator(f"#{TICKET_MAP}-fields option[value=server]")).to_have_count(1)
    for key, field, prop in (
        (CONTACT_MAP, "plan", "hosting_plan"),
        (CONTACT_MAP, "server_count", "server_count"),
        (TICKET_MAP, "server", "panel_server"),
    ):
        admin.click(f"#{key}-add")
        row = admin.locator(f"#{key}-rows tr").last
        row.locator("input.map-field").fill(field)
        row.locator("select.map-property").select_option(prop)
    admin.click("#settings-save")
    # Saved, with what the portal said of the map: a number property takes numbers only.
    message = admin.locator("#settings-message")
    expect(message).to_contain_text("Settings saved. Before relying on them:")
    expect(message).to_contain_text("'server_count' is a number")
    expect(message).to_have_attribute("data-kind", "warning")

    admin.check("#hubspot_chat_enabled")
    save_settings(admin)

    # The customer's page carries the chat loader in its head, with the page's CSP nonce.
    response = customer.goto(f"{panel}/", wait_until="domcontentloaded")
    assert response is not None
    nonce = re.search(r"'nonce-([^']+)'", response.headers["content-security-policy"])
    assert nonce is not None
    loader = customer.locator('head script[src*="hs-scripts.com"]')
    expect(loader).to_have_count(1)
    chat_script = f"https://js.hs-scripts.com/{FAKE_PORTAL_ID}.js"
    assert loader.get_attribute("src") == chat_script
    assert f'nonce="{nonce.group(1)}"' in response.text()
    # The browser asked for it (so the CSP let it through); only loopback is reachable here.
    deadline = time.monotonic() + WAIT_S
    while chat_script not in customer_traffic.refused and time.monotonic() < deadline:
        customer.wait_for_timeout(50)
    assert chat_script in customer_traffic.refused
    # The contact form the admin chose is embedded too, HubSpot's code with the nonce.
    embed = customer.locator('#hubspot-contact-form script[src*="hsforms.net"]')
    expect(embed).to_have_count(1)
    # (browsers hide a nonce from the DOM once the page loaded: read it in the HTML)
    assert re.search(
        rf'src="https://js\.hsforms\.net/[^"]+"[^>]* nonce="{nonce.group(1)}"', response.text()
    )
    assert f'formId: "{FAKE_CONTACT_FORM_ID}"' in response.text()

    # Signing up becomes a HubSpot contact, through the outbox.
    customer.fill("#email", "margaret.hamilton@example.com")
    customer.fill("#first_name", "Margaret")
    customer.fill("#last_name", "Hamilton")
    customer.fill("#company", "Apollo Hosting")
    customer.fill("#phone", "+1 617 555 0100")
    customer.select_option("#plan", "pro")
    customer.fill("#server_count", "3")
    expect(customer.locator("label[for=email] .required-mark")).to_have_count(1)
    expect(customer.locator("label[for=company] .required-mark")).to_have_count(0)
    customer.click("#signup-submit")
    expect(customer).to_have_url(f"{panel}/tickets?welcome=1")
    expect(customer.locator("#signup-confirmation")).to_contain_text(
        "Your account is ready, Margaret"
    )
    fake_hubspot.wait_for(
        lambda f: f.contact_by_email("margaret.hamilton@example.com") is not None, timeout=WAIT_S
    )
    contact = fake_hubspot.contact_by_email("margaret.hamilton@example.com") or {}
    assert contact["properties"]["company"] == "Apollo Hosting"
    assert contact["properties"]["hosting_plan"] == "pro"
    assert contact["properties"]["server_count"] == "3"
    # ... and a submission of the HubSpot contact form, filed under the visitor's page.
    fake_hubspot.wait_for(lambda f: len(f.form_submissions(FAKE_CONTACT_FORM_ID)) == 1)
    (submission,) = fake_hubspot.form_submissions(FAKE_CONTACT_FORM_ID)
    assert submission["fields"]["email"] == "margaret.hamilton@example.com"
    assert submission["context"]["pageUri"] == f"{panel}/"
    expect(customer.locator('#hubspot-ticket-form script[src*="hsforms.net"]')).to_have_count(1)

    # A support ticket becomes a HubSpot ticket tied to that contact; closing it moves it on.
    customer.fill("#subject", "My VPS does not boot")
    customer.fill("#content", "It stopped after the kernel update.")
    customer.select_option("#priority", "high")
    customer.select_option("#category", "billing")
    customer.fill("#server", "vps-7.example.net")
    customer.click("#ticket-submit")
    expect(customer.locator("#my-tickets")).to_contain_text("My VPS does not boot")
    expect(customer.locator("#signup-confirmation")).to_have_count(0)  # said once
    row = customer.locator("#my-tickets tbody tr", has_text="My VPS does not boot")
    for label in ("High", "Billing", "Open"):  # the panel's words, not its codes
        expect(row).to_contain_text(label)
    fake_hubspot.wait_for(lambda f: len(f.tickets()) == 1, timeout=WAIT_S)
    (ticket,) = fake_hubspot.tickets()
    assert ticket["properties"]["hs_ticket_priority"] == "HIGH"
    assert ticket["properties"]["hs_ticket_category"] == "BILLING_ISSUE"
    assert ticket["properties"]["panel_server"] == "vps-7.example.net"
    fake_hubspot.wait_for(
        lambda f: f.associations("tickets", ticket["id"], "contacts") == [contact["id"]],
        timeout=WAIT_S,
    )
    # A HubSpot agent moves it on; HubSpot's signed webhook brings the change to the panel.
    admin.goto(f"{panel}/admin/sandbox")
    row = admin.locator("#sandbox-tickets tbody tr", has_text="My VPS does not boot")
    row.locator("select").select_option("3")
    row.locator("button").click()
    expect(row.locator("td").nth(2)).to_have_text("3")
    customer.reload()
    expect(customer.locator("#my-tickets")).to_contain_text("In progress")
    expect(customer.locator("#my-tickets")).not_to_contain_text("in_progress")
    admin.goto(f"{panel}/admin/settings")

    customer.click("#my-tickets button:has-text('Close')")
    expect(customer.locator("#my-tickets")).to_contain_text("Closed")
    fake_hubspot.wait_for(
        lambda f: f.tickets()[0]["properties"]["hs_pipeline_stage"] == "4", timeout=WAIT_S
    )

    # The admin sees both deliveries arrive, refreshed without reloading the page.
    contact_rows = admin.locator("#deliveries-rows tr", has_text="Contact update")
    expect(contact_rows).to_have_count(1)
    expect(contact_rows).to_contain_text("delivered")
    expect(contact_rows).to_contain_text(contact["id"])
    expect(contact_rows).to_contain_text("margaret.hamilton@example.com")
    expect(admin.locator("#deliveries-rows tr", has_text="New ticket")).to_contain_text("delivered")
    # The outbox's codes are for scripts (and the cells' tooltips), not for reading.
    expect(admin.locator("#deliveries-rows")).not_to_contain_text("contact.upsert")
    expect(admin.locator("#deliveries-rows")).not_to_contain_text("user:")

    # "Sync all contacts" sends the customers the panel had before HubSpot was set up.
    admin.click("#backfill-start")
    expect(admin.locator("#backfill-status")).to_contain_text(
        f"Done: {SAMPLE_CUSTOMERS + 1} of {SAMPLE_CUSTOMERS + 1} contacts delivered"
    )
    progress = admin.locator("#backfill-progress")
    expect(progress).to_be_visible()
    assert progress.evaluate("bar => bar.value === bar.max")
    assert len(fake_hubspot.contacts()) == SAMPLE_CUSTOMERS + 1
    expect(admin.locator("#contacts-rows tr")).to_have_count(SAMPLE_CUSTOMERS + 1)
    expect(admin.locator("#contacts-rows")).to_contain_text("margaret.hamilton@example.com")

    # The token went in once and never came back out, on any page or API answer.
    admin.reload()
    expect(admin.locator("#hubspot_api_key-status")).to_contain_text(FAKE_TOKEN[-4:])
    expect(admin.locator("#deliveries-rows tr", has_text="Ticket change")).to_contain_text(
        "delivered"
    )
    # HubSpot's scripts cannot load here, and no page throws a JavaScript error for it.
    assert admin_traffic.page_errors == [] and customer_traffic.page_errors == []
    fetched = admin_traffic.bodies + customer_traffic.bodies
    assert any(url.endswith("/api/admin/settings/hubspot/settings") for url, _ in fetched)
    assert [url for url, body in fetched if FAKE_TOKEN in body] == []
    assert FAKE_TOKEN not in admin.content() + customer.content()
    # Nothing but the HubSpot scripts the chat loader named was asked for off loopback.
    assert {urlsplit(url).hostname for url in customer_traffic.refused} <= {
        "js.hs-scripts.com",
        "js.hsforms.net",
    }

    # Replaying parked deliveries: the confirmation counts in words and stays through the
    # table's refreshes until the admin dismisses it.
    for parked, words in (
        (1, "1 parked delivery queued again."),
        (2, "2 parked deliveries queued again."),
    ):
        for n in range(parked):
            user_id = f"{900 + parked * 10 + n}"
            runtime.current().outbox.record(
                "contact.upsert",
                f"user:{user_id}",
                {"user_id": user_id, "properties": {"email": f"parked.{user_id}@example.com"}},
                dead_reason="refused by HubSpot in this test",
            )
        expect(admin.locator("#delivery-counts")).to_contain_text(f"{parked} parked")
        admin.click("#deliveries-replay")
        expect(admin.locator("#deliveries-notice-text")).to_have_text(words)
        for _ in range(2):  # two refreshes of the table later, it is still there
            with admin.expect_response(lambda r: "/deliveries?" in r.url):
                pass
        expect(admin.locator("#deliveries-notice-text")).to_have_text(words)
    admin.click("#deliveries-notice-dismiss")
    expect(admin.locator("#deliveries-notice")).to_be_hidden()

    admin.click("#test-connection")
    expect(admin.locator("#connection-result")).to_contain_text("connection successful")
    shot = artifacts_dir() / "settings-page.png"
    admin.screenshot(path=str(shot), full_page=True)
    if os.environ.get("SKYPANEL_UPDATE_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "demo-settings.png")


def test_the_admin_api_refuses_customers_and_forged_requests(browser: Browser, panel: str) -> None:
    context, _ = new_context(browser, panel)
    page = context.new_page()
    settings_api = f"{panel}/api/admin/settings/hubspot/settings"
    assert page.request.get(settings_api).status == 401

    page.goto(f"{panel}/")
    page.fill("#email", "not an address")
    page.click("#signup-submit")  # refused: each bad field outlined, its message tied to it
    expect(page.locator("#email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#email")).to_have_attribute("aria-describedby", "email-error")
    expect(page.locator("#email-error")).to_contain_text("name@example.com")
    expect(page.locator("#first_name")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#company")).not_to_have_attribute("aria-invalid", "true")
    page.fill("#email", "eve@example.com")
    page.fill("#first_name", "Eve")
    page.click("#signup-submit")
    expect(page).to_have_url(f"{panel}/tickets?welcome=1")
    assert page.request.get(settings_api).status == 403
    page.goto(f"{panel}/admin/settings")
    expect(page).to_have_url(f"{panel}/admin/login")

    page.fill("#username", "admin")
    page.fill("#password", "not the password")
    page.click("#login-submit")
    expect(page.locator("[role=alert]")).to_have_text("Wrong username or password")

    log_in_as_admin(page, panel)
    csrf = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert csrf
    forged = page.request.post(settings_api, data={"hubspot_portal_id": "666"})
    assert forged.status == 403
    wrong = page.request.post(
        settings_api, data={"hubspot_portal_id": "666"}, headers={"X-CSRF-Token": csrf + "x"}
    )
    assert wrong.status == 403
    page.reload()
    expect(page.locator("#hubspot_portal_id")).to_be_enabled()
    expect(page.locator("#hubspot_portal_id")).to_have_value("")


def test_admin_picks_a_pipeline_and_polling_brings_an_agents_change_back(
    browser: Browser, panel: str, fake_hubspot: FakeHubSpot
) -> None:
    """No app client secret (a Service Key, or a panel HubSpot cannot reach): the admin
    picks the portal's custom pipeline from HubSpot's lists and polling as the way back;
    an agent's move on the sandbox reaches the customer's page within the interval."""
    admin_context, _ = new_context(browser, panel)
    customer_context, _ = new_context(browser, panel)
    admin = admin_context.new_page()
    customer = customer_context.new_page()
    enable_with_polling(admin, panel)
    expect(admin.locator("#hubspot_ticket_sync-row .help")).to_contain_text("polling works")
    save_settings(admin)

    # The lists come from HubSpot; the custom pipeline's defaults follow its stages' state.
    admin.click("#pipelines-load")
    expect(admin.locator("#pipeline-picker")).to_be_visible()
    expect(admin.locator("#pipeline-select option")).to_have_count(2)
    admin.select_option("#pipeline-select", "hosting")
    expect(admin.locator("#stage-select")).to_have_value("hs-new")
    expect(admin.locator("#status-stage-waiting")).to_have_value("hs-waiting")
    expect(admin.locator("#status-stage-closed")).to_have_value("hs-solved")
    expect(admin.locator("#hubspot_ticket_pipeline")).to_have_value("hosting")
    stage_help = admin.locator("#hubspot_ticket_stage-row .help")
    expect(stage_help).to_contain_text("hs-new is “New” in the “Hosting support” pipeline")
    expect(stage_help).not_to_contain_text("1 is New")
    assert admin.evaluate(CUT_OFF_SELECTS) == []
    # A stage of another pipeline is refused next to its field, and nothing is saved.
    admin.fill("#hubspot_ticket_stage", "1")
    admin.click("#settings-save")
    expect(admin.locator("#hubspot_ticket_stage-error")).to_contain_text(
        "not a stage of pipeline hosting"
    )
    admin.select_option("#stage-select", "hs-new")
    save_settings(admin)
    admin.click("#test-connection")
    expect(admin.locator("#connection-result")).to_contain_text("come back by polling")
    connection = admin.locator("#connection-result").text_content() or ""
    assert connection.count("come back by") == 1

    # A customer's ticket lands in the chosen pipeline and stage.
    customer.goto(f"{panel}/")
    customer.fill("#email", "grace.hopper@example.com")
    customer.fill("#first_name", "Grace")
    customer.click("#signup-submit")
    expect(customer).to_have_url(f"{panel}/tickets?welcome=1")
    customer.fill("#subject", "Backups are failing")
    customer.click("#ticket-submit")
    fake_hubspot.wait_for(lambda f: len(f.tickets()) == 1, timeout=WAIT_S)
    (ticket,) = fake_hubspot.tickets()
    assert ticket["properties"]["hs_pipeline"] == "hosting"
    assert ticket["properties"]["hs_pipeline_stage"] == "hs-new"

    # An agent solves it in HubSpot; no webhook is sent, the worker's poll finds it.
    requests_before = len(fake_hubspot.requests)
    admin.goto(f"{panel}/admin/sandbox")
    row = admin.locator("#sandbox-tickets tbody tr", has_text="Backups are failing")
    row.locator("select").select_option("hs-solved")
    row.locator("button").click()
    expect(row.locator("td").nth(2)).to_have_text("hs-solved")
    deadline = time.monotonic() + 10 + WAIT_S  # the interval, and the page's own refresh
    while "closed" not in (customer.locator("#my-tickets").text_content() or "").lower():
        assert time.monotonic() < deadline, "the agent's change did not reach the panel"
        customer.wait_for_timeout(500)
        customer.reload()
    assert any(r.path.endswith("/tickets/search") for r in fake_hubspot.requests[requests_before:])


SETTINGS_API = "/api/admin/settings/hubspot"
CONTACT_MAP = "hubspot_contact_property_map"
TICKET_MAP = "hubspot_ticket_property_map"


def save_and_wait(page: Page) -> Response:
    """Clicks Save and returns the settings save's answer (not an earlier one's message)."""
    with page.expect_response(
        lambda r: r.url.endswith(f"{SETTINGS_API}/settings") and r.request.method == "POST"
    ) as answer:
        page.click("#settings-save")
    return answer.value


def saved_maps(page: Page, panel: str) -> dict[str, dict[str, str]]:
    response = page.request.get(f"{panel}{SETTINGS_API}/property-map")
    assert response.status == 200
    maps: dict[str, dict[str, str]] = response.json()["maps"]
    return maps


def test_admin_maps_a_ticket_field_to_a_portal_property_chosen_from_the_list(
    browser: Browser, panel: str
) -> None:
    admin, traffic = admin_settings_page(browser, panel)
    contact_rows = admin.locator(f"#{CONTACT_MAP}-rows tr")
    ticket_rows = admin.locator(f"#{TICKET_MAP}-rows tr")

    # No token yet: HubSpot's property lists cannot be read, and the page says so; the
    # saved map is still shown as rows, its property names typed.
    expect(admin.locator(f"#{TICKET_MAP}-note")).to_contain_text(
        "listed here once an access token is saved"
    )
    expect(contact_rows).to_have_count(5)
    expect(contact_rows.nth(1).locator("input.map-field")).to_have_value("first_name")
    expect(contact_rows.nth(1).locator("input.map-property")).to_have_value("firstname")
    expect(ticket_rows).to_have_count(0)
    expect(admin.locator(f"#{CONTACT_MAP}")).to_be_hidden()  # the JSON, under "Edit as JSON"

    admin.fill("#hubspot_portal_id", str(FAKE_PORTAL_ID))
    admin.fill("#hubspot_api_key", FAKE_TOKEN)
    save_settings(admin)

    # With the token saved, each property is picked from the portal's list: label, name
    # and type; what the panel may not fill is shown but cannot be chosen.
    expect(admin.locator(f"#{TICKET_MAP}-note")).to_be_empty()
    first_name = contact_rows.nth(1).locator("select.map-property")
    expect(first_name).to_have_value("firstname")
    expect(first_name.locator("option[value=firstname]")).to_have_text(
        "First Name · firstname (text)"
    )
    expect(first_name.locator("option[value=createdate]")).to_be_disabled()
    expect(first_name.locator("option[value=server_count]")).to_have_text(
        "Servers · server_count (number)"
    )

    admin.click(f"#{TICKET_MAP}-add")
    row = ticket_rows.last
    expect(row.locator("input.map-field")).to_be_focused()
    row.locator("input.map-field").fill("server")
    choice = row.locator("select.map-property")
    expect(choice.locator("option[value=panel_server]")).to_have_text(
        "Server · panel_server (text)"
    )
    expect(choice.locator("option[value=hs_pipeline_stage]")).to_be_disabled()
    choice.select_option("panel_server")
    # The table writes the JSON the form saves.
    expect(admin.locator(f"#{TICKET_MAP}")).to_have_value('{"server": "panel_server"}')
    assert save_and_wait(admin).status == 200
    expect(admin.locator("#settings-message")).to_have_text("Settings saved.")
    assert saved_maps(admin, panel)[TICKET_MAP] == {"server": "panel_server"}

    # When the panel writes it: a select per row; the contact's email, always.
    expect(contact_rows.nth(0).locator("select.map-mode")).to_be_disabled()
    row.locator("select.map-mode").select_option("fill_if_empty")
    expect(admin.locator(f"#{TICKET_MAP}")).to_have_value(
        '{"server": {"property": "panel_server", "mode": "fill_if_empty"}}'
    )
    assert save_and_wait(admin).status == 200
    assert saved_maps(admin, panel)[TICKET_MAP] == {
        "server": {"property": "panel_server", "mode": "fill_if_empty"}
    }
    row.locator("select.map-mode").select_option("overwrite")
    assert save_and_wait(admin).status == 200

    # Pasted as JSON, a property the portal lacks: the rows follow, and the save is refused
    # by HubSpot's list, named on the field and on its row.
    admin.locator(f"#{TICKET_MAP}-row summary").click()
    admin.fill(f"#{TICKET_MAP}", '{"server": "panel_server", "datacenter": "no_such_property"}')
    expect(ticket_rows).to_have_count(2)
    missing = ticket_rows.nth(1).locator("select.map-property")
    expect(missing).to_have_value("no_such_property")
    expect(missing.locator("option:checked")).to_have_text(
        "no_such_property (not in HubSpot's list)"
    )
    assert save_and_wait(admin).status == 422
    expect(admin.locator(f"#{TICKET_MAP}-error")).to_have_text(
        "datacenter: HubSpot has no ticket property 'no_such_property'"
    )
    expect(missing).to_have_attribute("aria-invalid", "true")
    expect(admin.locator("#settings-errors")).to_contain_text(
        "Panel ticket extra fields → HubSpot ticket properties"
    )
    assert saved_maps(admin, panel)[TICKET_MAP] == {"server": "panel_server"}

    # Removing rows: the bad one, then the one saved before; the map ends empty.
    ticket_rows.nth(1).get_by_role("button", name="Remove datacenter").click()
    expect(ticket_rows).to_have_count(1)
    assert save_and_wait(admin).status == 200
    expect(admin.locator("#settings-errors")).to_be_hidden()
    expect(admin.locator(f"#{TICKET_MAP}-error")).to_be_hidden()
    ticket_rows.first.get_by_role("button", name="Remove server").click()
    expect(ticket_rows).to_have_count(0)
    expect(admin.locator(f"#{TICKET_MAP}")).to_have_value("{}")
    assert save_and_wait(admin).status == 200
    assert saved_maps(admin, panel)[TICKET_MAP] == {}
    assert saved_maps(admin, panel)[CONTACT_MAP]["first_name"] == "firstname"
    assert traffic.page_errors == []


def test_a_refused_save_is_listed_at_the_top_and_each_item_leads_to_its_field(
    browser: Browser, panel: str
) -> None:
    admin, traffic = admin_settings_page(browser, panel)
    summary = admin.locator("#settings-errors")
    expect(summary).to_be_hidden()

    admin.fill("#hubspot_portal_id", "12ab")
    admin.fill("#hubspot_rate_limit", "0")
    assert save_and_wait(admin).status == 422
    expect(summary).to_be_visible()
    expect(summary).to_be_focused()
    expect(summary).to_have_attribute("role", "alert")
    expect(summary.locator("li")).to_have_count(2)
    portal_item = summary.locator("li", has=admin.get_by_role("link", name="HubSpot portal ID"))
    expect(portal_item).to_contain_text("HubSpot portal ID: must be digits only")
    link = portal_item.get_by_role("link")
    expect(link).to_have_attribute("href", "#hubspot_portal_id")
    expect(summary.get_by_role("link", name="HubSpot requests per 10 seconds")).to_be_visible()

    link.click()
    field = admin.locator("#hubspot_portal_id")
    expect(field).to_be_focused()
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_attribute("aria-describedby", "hubspot_portal_id-error")
    expect(admin.locator("#hubspot_portal_id-error")).to_be_visible()
    expect(admin.locator("#hubspot_portal_id-error")).to_contain_text("must be digits only")

    # Put right, the save goes through and the summary and the marks go away.
    field.fill(str(FAKE_PORTAL_ID))
    admin.fill("#hubspot_rate_limit", "100")
    assert save_and_wait(admin).status == 200
    expect(summary).to_be_hidden()
    expect(field).not_to_have_attribute("aria-invalid", "true")
    expect(admin.locator("#hubspot_portal_id-error")).to_be_hidden()
    assert traffic.page_errors == []


def test_the_health_card_shows_what_delivery_is_doing(browser: Browser, panel: str) -> None:
    admin, traffic = admin_settings_page(browser, panel)
    expect(admin.locator("#health-version")).to_have_text("2026-09")
    expect(admin.locator("#health-delivered")).to_have_text("0")
    expect(admin.locator("#health-last")).to_have_text("never")
    expect(admin.locator("#health-oldest")).to_have_text("none waiting")
    expect(admin.locator("#health-budget")).to_have_text("100 of 100 per 10 s")
    expect(admin.locator("#health-paused")).to_be_hidden()

    admin.check("#hubspot_enabled")
    admin.fill("#hubspot_portal_id", str(FAKE_PORTAL_ID))
    admin.fill("#hubspot_api_key", FAKE_TOKEN)
    save_settings(admin)
    admin.click("#backfill-start")
    expect(admin.locator("#backfill-status")).to_contain_text(
        f"Done: {SAMPLE_CUSTOMERS} of {SAMPLE_CUSTOMERS} contacts delivered"
    )
    # Refreshed with the deliveries, without reloading the page.
    expect(admin.locator("#health-delivered")).to_have_text(str(SAMPLE_CUSTOMERS))
    expect(admin.locator("#health-queued")).to_have_text("0")
    expect(admin.locator("#health-parked")).to_have_text("0")
    expect(admin.locator("#health-last")).not_to_have_text("never")
    expect(admin.locator("#health-budget")).to_have_text(re.compile(r"^\d+ of 100 per 10 s$"))
    assert traffic.page_errors == []


def set_up_hubspot_with_webhooks(admin: Page, panel: str) -> None:
    """The admin pastes what the demo printed (the app client secret included) and saves."""
    log_in_as_admin(admin, panel)
    admin.check("#hubspot_enabled")
    admin.fill("#hubspot_portal_id", str(FAKE_PORTAL_ID))
    admin.fill("#hubspot_api_key", FAKE_TOKEN)
    admin.fill("#hubspot_app_secret", FAKE_APP_SECRET)
    admin.check("#hubspot_ticket_enabled")
    save_settings(admin)


def sign_up(customer: Page, panel: str, email: str, first_name: str) -> None:
    customer.goto(f"{panel}/")
    customer.fill("#email", email)
    customer.fill("#first_name", first_name)
    customer.click("#signup-submit")
    expect(customer).to_have_url(f"{panel}/tickets?welcome=1")


def test_a_tickets_conversation_goes_both_ways_and_a_chat_becomes_a_ticket(
    browser: Browser, panel: str, fake_hubspot: FakeHubSpot
) -> None:
    admin_context, admin_traffic = new_context(browser, panel)
    customer_context, customer_traffic = new_context(browser, panel)
    admin = admin_context.new_page()
    customer = customer_context.new_page()
    set_up_hubspot_with_webhooks(admin, panel)
    # The sandbox starts with tickets opened in HubSpot brought into the panel.
    expect(admin.locator("#hubspot_import_hubspot_tickets")).to_be_checked()

    # A customer opens a ticket, then writes on its page.
    sign_up(customer, panel, "katherine.johnson@example.com", "Katherine")
    customer.fill("#subject", "Mail bounces")
    customer.fill("#content", "Every message to gmail.com comes back.")
    customer.click("#ticket-submit")
    customer.get_by_role("link", name="Mail bounces").click()
    expect(customer.locator("#ticket-subject")).to_have_text("Mail bounces")
    expect(customer.locator("#ticket-thread")).to_contain_text(
        "Every message to gmail.com comes back."
    )
    customer.fill("#body", "It started this morning, <b>after</b> the DNS change.")
    customer.click("#reply-submit")
    thread = customer.locator("#ticket-thread .message[data-author-kind=customer]")
    expect(thread).to_have_count(1)
    # Written as text, never as markup.
    expect(thread).to_contain_text("It started this morning, <b>after</b> the DNS change.")

    # It reaches the HubSpot ticket as the customer's incoming email.
    fake_hubspot.wait_for(lambda f: len(f.tickets()) == 1, timeout=WAIT_S)
    (ticket,) = fake_hubspot.tickets()
    fake_hubspot.wait_for(lambda f: len(f.thread(ticket["id"])) == 1, timeout=WAIT_S)
    (entry,) = fake_hubspot.thread(ticket["id"])
    assert entry["kind"] == "incoming"
    assert entry["text"] == "It started this morning, <b>after</b> the DNS change."

    # In the sandbox, an agent reads it on the ticket's timeline, notes, then answers.
    admin.goto(f"{panel}/admin/sandbox")
    admin.get_by_role("link", name="Mail bounces").click()
    timeline = admin.locator("#hubspot-thread")
    expect(timeline.locator("[data-kind=incoming]")).to_contain_text("after</b> the DNS change")
    admin.fill("#note-body", "Customer is on the legacy mail cluster; do not refund.")
    admin.click("#note-submit")
    expect(timeline.locator("[data-kind=note]")).to_contain_text("legacy mail cluster")
    admin.fill("#reply-body", "We fixed the SPF record. Please try again.")
    admin.click("#reply-submit")
    expect(timeline.locator("[data-kind=outgoing]")).to_contain_text("We fixed the SPF record")

    # The reply is on the customer's page, after their message; the note never is.
    customer.reload()
    messages = customer.locator("#ticket-thread .message:not(.message-opening)")
    expect(messages).to_have_count(2)
    expect(messages.nth(0)).to_have_attribute("data-author-kind", "customer")
    expect(messages.nth(1)).to_have_attribute("data-author-kind", "agent")
    expect(messages.nth(1)).to_contain_text("We fixed the SPF record. Please try again.")
    expect(customer.locator("#ticket-thread")).not_to_contain_text("legacy mail cluster")
    expect(customer.locator("body")).not_to_contain_text("do not refund")

    # The panel's staff answer from the admin's ticket page: a sent email on the ticket.
    admin.goto(f"{panel}/admin/tickets")
    admin.get_by_role("link", name="Mail bounces").click()
    expect(admin.locator("#ticket-thread [data-author-kind=agent]")).to_contain_text("SPF")
    admin.fill("#body", "Staff here: the fix is live on every mail server.")
    admin.click("#reply-submit")
    fake_hubspot.wait_for(lambda f: len(f.thread(ticket["id"])) == 4, timeout=WAIT_S)
    kinds = [(e["kind"], e["text"]) for e in fake_hubspot.thread(ticket["id"])]
    assert kinds[-1] == ("outgoing", "Staff here: the fix is live on every mail server.")
    admin.goto(f"{panel}/admin/sandbox/tickets/{ticket['id']}")  # the panel's, not an agent's
    expect(timeline.locator("[data-kind=outgoing]").last).to_contain_text("Panel staff")
    customer.reload()
    expect(messages).to_have_count(3)
    expect(messages.nth(2)).to_have_attribute("data-author-kind", "staff")

    # An agent turns a visitor's chat into a ticket for the customer's contact: it appears
    # in the customer's ticket list, and the conversation goes on from the panel.
    admin.goto(f"{panel}/admin/sandbox")
    admin.select_option("#chat-contact", "katherine.johnson@example.com")
    admin.fill("#chat-subject", "Upgrade to the Pro plan")
    admin.fill("#chat-transcript", "Visitor: can I move to Pro without downtime?")
    admin.click("#chat-submit")
    expect(admin.locator("#sandbox-tickets")).to_contain_text("Upgrade to the Pro plan")
    customer.goto(f"{panel}/tickets")
    expect(customer.locator("#my-tickets")).to_contain_text("Upgrade to the Pro plan")
    customer.get_by_role("link", name="Upgrade to the Pro plan").click()
    expect(customer.locator("#ticket-thread")).to_contain_text("move to Pro without downtime")
    customer.fill("#body", "Yes please, tonight.")
    customer.click("#reply-submit")
    born = next(t for t in fake_hubspot.tickets() if t["id"] != ticket["id"])
    fake_hubspot.wait_for(
        lambda f: [e["text"] for e in f.thread(born["id"])] == ["Yes please, tonight."],
        timeout=WAIT_S,
    )
    assert len(fake_hubspot.tickets()) == 2  # the panel did not open it in HubSpot again
    assert admin_traffic.page_errors == [] and customer_traffic.page_errors == []


def reload_until_shown(page: Page, selector: str, text: str, within_s: float) -> None:
    """Reloads ``page`` until ``selector`` contains ``text`` (a page without live refresh),
    failing at the deadline."""
    deadline = time.monotonic() + within_s
    while text not in (page.locator(selector).text_content() or ""):
        assert time.monotonic() < deadline, f"{text!r} did not reach {page.url}"
        page.wait_for_timeout(250)
        page.reload()


def test_with_polling_an_agents_reply_and_a_chats_ticket_come_at_the_next_poll(
    browser: Browser, panel: str, fake_hubspot: FakeHubSpot
) -> None:
    """No app client secret, polling chosen: nothing comes by webhook, and the worker's
    conversation poll brings an agent's reply and a ticket opened in HubSpot within the
    interval."""
    admin_context, _ = new_context(browser, panel)
    customer_context, _ = new_context(browser, panel)
    admin = admin_context.new_page()
    customer = customer_context.new_page()
    enable_with_polling(admin, panel)
    save_settings(admin)

    sign_up(customer, panel, "dorothy.vaughan@example.com", "Dorothy")
    customer.fill("#subject", "Slow database")
    customer.click("#ticket-submit")
    fake_hubspot.wait_for(lambda f: len(f.tickets()) == 1, timeout=WAIT_S)
    admin.goto(f"{panel}/admin/sandbox")
    admin.get_by_role("link", name="Slow database").click()
    admin.fill("#reply-body", "We moved you to a faster disk.")
    admin.click("#reply-submit")
    admin.goto(f"{panel}/admin/sandbox")
    admin.fill("#chat-subject", "Invoice question")
    admin.fill("#chat-transcript", "Visitor: why two invoices?")
    admin.click("#chat-submit")

    customer.get_by_role("link", name="Slow database").click()
    reload_until_shown(customer, "#ticket-thread", "We moved you to a faster disk.", 10 + WAIT_S)
    customer.goto(f"{panel}/tickets")
    reload_until_shown(customer, "#my-tickets", "Invoice question", 10 + WAIT_S)
