// The admin settings page: fills and saves the form the server drew from the plugin's
// schema, and shows the connection test, the deliveries, the backfill and the contacts,
// all through the plugin's admin API. Data from the API is only ever put in the page as
// text (textContent), never as markup.
"use strict";

(() => {
  const API = "/api/admin/settings/hubspot";
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);

  async function call(method, path, body) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (method !== "GET") {
      options.headers["Content-Type"] = "application/json";
      options.headers["X-CSRF-Token"] = csrfToken;
      options.body = JSON.stringify(body ?? {});
    }
    let response;
    try {
      response = await fetch(API + path, options);
    } catch (error) {
      return { ok: false, status: 0, body: { message: "The panel did not answer. Is it still running?" } };
    }
    let data;
    try {
      data = await response.json();
    } catch (error) {
      data = { message: `Unexpected answer from the panel (HTTP ${response.status})` };
    }
    if (response.status === 401) {
      window.location.assign("/admin/login");
    }
    return { ok: response.ok, status: response.status, body: data ?? {} };
  }

  function element(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function say(node, text, kind) {
    node.textContent = text ?? "";
    node.dataset.kind = kind ?? "";
  }

  function when(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    if (Number.isNaN(date.getTime())) return String(iso);
    const today = date.toDateString() === new Date().toDateString();
    return today ? date.toLocaleTimeString() : date.toLocaleString();
  }

  // -- settings ----------------------------------------------------------------------------

  const form = $("settings-form");
  const settingsMessage = $("settings-message");
  const settingInputs = () => form.querySelectorAll("[data-setting]");

  function showFieldMessages(messages) {
    for (const input of settingInputs()) {
      const slot = $(`${input.name}-error`);
      const message = messages[input.name];
      slot.textContent = message ?? "";
      slot.hidden = !message;
      if (message) input.setAttribute("aria-invalid", "true");
      else input.removeAttribute("aria-invalid");
    }
  }

  function showTokenStatus(input, token) {
    const status = $(`${input.name}-status`);
    input.value = "";
    input.placeholder = token.set ? `set (…${token.last4 ?? ""})` : "not set";
    status.dataset.kind = token.set ? "success" : "";
    if (!token.set) {
      status.textContent = "Nothing saved yet.";
    } else if (token.source === "environment") {
      status.textContent = `Set by the SKYPANEL_HUBSPOT_ACCESS_TOKEN environment variable, ending in …${token.last4}; it overrides a saved one.`;
    } else {
      status.textContent = `Saved encrypted, ending in …${token.last4}. Leave empty to keep it.`;
    }
  }

  function fillSettings(state) {
    const values = state.values ?? {};
    for (const input of settingInputs()) {
      const type = input.dataset.setting;
      if (type === "secret") {
        const saved = input.name === "hubspot_api_key" ? state.token : state.secrets?.[input.name];
        showTokenStatus(input, saved ?? { set: false });
      } else if (input.name in values) {
        if (type === "bool") input.checked = values[input.name] === true;
        else input.value = values[input.name] ?? "";
      }
    }
    showFieldMessages(state.problems ?? {});
  }

  function collectSettings() {
    const body = {};
    for (const input of settingInputs()) {
      const type = input.dataset.setting;
      if (type === "bool") body[input.name] = input.checked;
      else if (type === "secret") {
        if (input.value !== "") body[input.name] = input.value; // empty keeps the saved token
      } else body[input.name] = input.value;
    }
    return body;
  }

  function setFormEnabled(enabled) {
    for (const group of form.querySelectorAll("[data-settings-fields]")) group.disabled = !enabled;
    $("settings-save").disabled = !enabled;
  }

  async function loadSettings() {
    setFormEnabled(false);
    const result = await call("GET", "/settings");
    if (!result.ok) {
      say(settingsMessage, `Could not load the settings: ${result.body.message ?? result.status}`, "error");
      return;
    }
    fillSettings(result.body);
    say(settingsMessage, "", "");
    setFormEnabled(true);
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFormEnabled(false);
    say(settingsMessage, "Saving…", "");
    const result = await call("POST", "/settings", collectSettings());
    setFormEnabled(true);
    if (result.ok) {
      fillSettings(result.body);
      say(settingsMessage, "Settings saved.", "success");
      loadContacts();
    } else if (result.status === 422) {
      showFieldMessages(result.body.details ?? {});
      say(settingsMessage, `${result.body.message ?? "Invalid settings"}: see the fields marked below.`, "error");
    } else {
      say(settingsMessage, result.body.message ?? `Saving failed (HTTP ${result.status})`, "error");
    }
  });

  // -- ticket pipeline -----------------------------------------------------------------------

  const STATUSES = ["open", "waiting", "in_progress", "closed"];
  let pipelines = [];

  function options(select, stages, chosen) {
    select.replaceChildren(
      ...stages.map((stage) => {
        const option = element("option", `${stage.label} (${stage.id})`);
        option.value = stage.id;
        return option;
      }),
    );
    if (stages.some((stage) => stage.id === chosen)) select.value = chosen;
  }

  function savedTable() {
    try {
      const table = JSON.parse($("hubspot_ticket_status_stages").value);
      return table && typeof table === "object" ? table : {};
    } catch (error) {
      return {};
    }
  }

  // The pickers write into the settings form's own fields, which Save sends.
  function writeBack() {
    $("hubspot_ticket_pipeline").value = $("pipeline-select").value;
    $("hubspot_ticket_stage").value = $("stage-select").value;
    const table = {};
    for (const status of STATUSES) table[status] = $(`status-stage-${status}`).value;
    $("hubspot_ticket_status_stages").value = JSON.stringify(table);
  }

  // A pipeline newly picked gets its defaults (from the stages' open/closed state).
  function showStages(fromSaved) {
    const pipeline = pipelines.find((p) => p.id === $("pipeline-select").value);
    if (!pipeline) return;
    const defaults = pipeline.defaultStatusStages ?? {};
    const table = fromSaved ? savedTable() : {};
    options($("stage-select"), pipeline.stages, fromSaved ? $("hubspot_ticket_stage").value : defaults.open);
    for (const status of STATUSES) {
      const chosen = table[status] ?? defaults[status];
      options($(`status-stage-${status}`), pipeline.stages, chosen);
      if ($(`status-stage-${status}`).value !== chosen) $(`status-stage-${status}`).value = defaults[status] ?? "";
    }
    writeBack();
  }

  async function loadPipelines() {
    const message = $("pipeline-message");
    say(message, "Asking HubSpot…", "");
    const result = await call("GET", "/pipelines");
    if (!result.ok) {
      $("pipeline-picker").hidden = true;
      const details = typeof result.body.details === "string" ? ` (${result.body.details})` : "";
      say(message, `${result.body.message ?? `HTTP ${result.status}`}${details}`, "error");
      return;
    }
    pipelines = result.body.pipelines ?? [];
    const select = $("pipeline-select");
    select.replaceChildren(
      ...pipelines.map((pipeline) => {
        const option = element("option", `${pipeline.label} (${pipeline.id})`);
        option.value = pipeline.id;
        return option;
      }),
    );
    const saved = $("hubspot_ticket_pipeline").value;
    if (pipelines.some((p) => p.id === saved)) select.value = saved;
    $("pipeline-picker").hidden = false;
    showStages(select.value === saved);
    const problems = Object.values(result.body.problems ?? {});
    say(message, problems.length ? `Saved settings: ${problems.join("; ")}` : "", problems.length ? "error" : "");
  }

  $("pipelines-load").addEventListener("click", loadPipelines);
  $("pipeline-select").addEventListener("change", () => showStages(false));
  $("stage-select").addEventListener("change", writeBack);
  for (const status of STATUSES) $(`status-stage-${status}`).addEventListener("change", writeBack);

  // -- connection test -----------------------------------------------------------------------

  $("test-connection").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    const box = $("connection-result");
    button.disabled = true;
    box.hidden = false;
    box.replaceChildren(element("p", "Asking HubSpot…"));
    box.dataset.kind = "";
    const result = await call("POST", "/test-connection");
    button.disabled = false;
    const answer = result.body;
    box.dataset.kind = answer.success ? "success" : "error";
    box.replaceChildren(element("p", answer.message ?? `HTTP ${result.status}`, "result-message"));
    if (Array.isArray(answer.missingScopes) && answer.missingScopes.length) {
      box.append(element("p", "Missing scopes:"));
      const list = element("ul");
      for (const scope of answer.missingScopes) list.append(element("li", scope));
      box.append(list);
    }
    if (Array.isArray(answer.syncModes)) {
      box.append(element("p", `Ticket changes can come back by: ${answer.syncModes.join(", ")}.`, "sync-modes"));
    }
    if (Array.isArray(answer.warnings) && answer.warnings.length) {
      const list = element("ul", null, "warnings");
      for (const warning of answer.warnings) list.append(element("li", warning));
      box.append(list);
    }
  });

  // -- deliveries ----------------------------------------------------------------------------

  const STATUS_WORDS = { queued: "queued", delivered: "delivered", dead: "parked" };

  function renderDeliveries(body) {
    const counts = body.counts ?? {};
    $("delivery-counts").textContent = ["queued", "delivered", "dead"]
      .map((status) => `${counts[status] ?? 0} ${STATUS_WORDS[status]}`)
      .join(" · ");
    const rows = (body.deliveries ?? []).map((delivery) => {
      const row = element("tr");
      row.dataset.status = delivery.status;
      const status = element("td");
      status.append(element("span", STATUS_WORDS[delivery.status] ?? delivery.status, `badge badge-${delivery.status}`));
      row.append(
        element("td", delivery.id),
        element("td", delivery.kind),
        element("td", delivery.entity),
        status,
        element("td", delivery.attempts),
        element("td", delivery.hubspotId ?? ""),
        element("td", delivery.lastError ?? "", "error-text"),
        element("td", when(delivery.createdAt)),
      );
      return row;
    });
    if (!rows.length) {
      const empty = element("td", "Nothing recorded yet: sign up a customer or open a ticket.", "muted");
      empty.colSpan = 8;
      const row = element("tr");
      row.append(empty);
      rows.push(row);
    }
    $("deliveries-rows").replaceChildren(...rows);
  }

  async function loadDeliveries() {
    const status = $("delivery-status").value;
    const query = new URLSearchParams({ limit: "25" });
    if (status) query.set("status", status);
    const result = await call("GET", `/deliveries?${query}`);
    if (result.ok) {
      renderDeliveries(result.body);
      say($("deliveries-message"), "", "");
    } else {
      say($("deliveries-message"), result.body.message ?? `HTTP ${result.status}`, "error");
    }
  }

  function every(seconds, task) {
    // One run at a time: the next starts only after the previous answered.
    const run = async () => {
      try {
        await task();
      } finally {
        window.setTimeout(run, seconds * 1000);
      }
    };
    run();
  }

  $("delivery-status").addEventListener("change", loadDeliveries);
  $("deliveries-replay").addEventListener("click", async () => {
    const result = await call("POST", "/deliveries/replay", {});
    const message = result.ok
      ? `${result.body.replayed} parked deliveries queued again.`
      : result.body.message ?? `HTTP ${result.status}`;
    say($("deliveries-message"), message, result.ok ? "success" : "error");
    loadDeliveries();
  });

  // -- backfill ------------------------------------------------------------------------------

  let backfillTimer = null;

  function renderBackfill(run) {
    const bar = $("backfill-progress");
    const status = $("backfill-status");
    if (!run) {
      bar.hidden = true;
      say(status, "Not run yet.", "");
      return;
    }
    const done = (run.delivered ?? 0) + (run.dead ?? 0);
    bar.hidden = false;
    bar.max = Math.max(run.queued ?? 0, 1);
    bar.value = done;
    const parked = run.dead ? `, ${run.dead} parked` : "";
    if (run.state === "done") {
      say(status, `Done: ${run.delivered} of ${run.queued} contacts delivered${parked}.`, run.dead ? "error" : "success");
    } else if (run.state === "queuing") {
      say(status, `Reading customers… ${run.queued} queued, ${run.delivered} delivered${parked}.`, "");
    } else {
      say(status, `Delivering… ${run.delivered} of ${run.queued} contacts${parked}.`, "");
    }
  }

  async function pollBackfill() {
    const result = await call("GET", "/backfill");
    if (!result.ok) {
      say($("backfill-status"), result.body.message ?? `HTTP ${result.status}`, "error");
      return;
    }
    const run = result.body.backfill;
    renderBackfill(run);
    const running = run && run.state !== "done";
    $("backfill-start").disabled = Boolean(running);
    window.clearTimeout(backfillTimer);
    if (running) backfillTimer = window.setTimeout(pollBackfill, 1000);
    else if (run) loadContacts();
  }

  $("backfill-start").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    button.disabled = true;
    const result = await call("POST", "/backfill");
    if (result.ok) {
      renderBackfill(result.body.backfill);
      pollBackfill();
    } else {
      say($("backfill-status"), result.body.message ?? `HTTP ${result.status}`, "error");
      button.disabled = false;
    }
  });

  // -- contacts ------------------------------------------------------------------------------

  let contactsAfter = null;

  async function loadContacts(after) {
    const query = new URLSearchParams({ limit: "10" });
    if (after) query.set("after", after);
    const result = await call("GET", `/contacts?${query}`);
    const message = $("contacts-message");
    if (result.status === 409) {
      // Not set up yet: nothing has gone wrong, there is just nothing to show.
      say(message, "HubSpot's contacts show here once the integration is enabled with a token.", "");
      $("contacts-rows").replaceChildren();
      $("contacts-next").hidden = true;
      return;
    }
    if (!result.ok) {
      const details = typeof result.body.details === "string" ? ` (${result.body.details})` : "";
      say(message, `${result.body.message ?? `HTTP ${result.status}`}${details}`, "error");
      $("contacts-rows").replaceChildren();
      $("contacts-next").hidden = true;
      return;
    }
    const contacts = result.body.contacts ?? [];
    say(message, contacts.length ? "" : "No contacts in HubSpot yet.", "");
    $("contacts-rows").replaceChildren(
      ...contacts.map((contact) => {
        const p = contact.properties ?? {};
        const row = element("tr");
        row.title = `HubSpot contact ${contact.id}`;
        const name = [p.firstname, p.lastname].filter(Boolean).join(" ");
        row.append(element("td", p.email ?? ""), element("td", name), element("td", p.company ?? ""));
        return row;
      }),
    );
    contactsAfter = result.body.paging?.next?.after ?? null;
    $("contacts-next").hidden = !contactsAfter;
  }

  $("contacts-refresh").addEventListener("click", () => loadContacts());
  $("contacts-next").addEventListener("click", () => loadContacts(contactsAfter));

  loadSettings();
  every(2, loadDeliveries);
  pollBackfill();
  loadContacts();
})();
