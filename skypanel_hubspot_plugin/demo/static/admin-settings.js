// The admin settings page: fills and saves the form the server drew from the plugin's
// schema (the property maps edited as tables), and shows the connection test, delivery's
// health, the audit trail, the deliveries, the backfill and the contacts, all through the plugin's admin API. Data from the API is only ever put in the page as
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
      if (message) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", slot.id);
      } else {
        input.removeAttribute("aria-invalid");
        input.removeAttribute("aria-describedby");
      }
      mapEditors.get(input.name)?.showMessage(message);
    }
  }

  // -- the summary of a refused save, at the top of the form ---------------------------------

  const summary = $("settings-errors");

  function fieldLabel(key) {
    const row = $(`${key}-row`);
    return row && row.classList.contains("setting") ? row.dataset.label : null;
  }

  // Each refused field by its label, as a link to it; a key the form has no field for
  // (the body as a whole, say) is listed as the server named it.
  function showErrorSummary(message, details) {
    const items = Object.entries(details).map(([key, text]) => {
      const field = key.split(".")[0];
      const label = fieldLabel(field);
      const item = element("li");
      if (label) {
        const link = element("a", label);
        link.href = `#${field}`;
        link.dataset.field = field;
        item.append(link, document.createTextNode(`: ${text}`));
      } else {
        item.textContent = `${key}: ${text}`;
      }
      return item;
    });
    $("settings-errors-message").textContent = `${message}. Fix each of these, then save again:`;
    $("settings-errors-list").replaceChildren(...items);
    summary.hidden = false;
    summary.focus();
  }

  function hideErrorSummary() {
    summary.hidden = true;
    $("settings-errors-list").replaceChildren();
  }

  // Where the admin fixes a field that the form keeps hidden because a card edits it.
  function cardTarget(key) {
    if (key !== "hubspot_ticket_status_stages") return null;
    return $("pipeline-picker").hidden ? $("pipelines-load") : $("status-stage-open");
  }

  function focusField(key) {
    const editor = mapEditors.get(key);
    const target = editor ? editor.focusTarget() : cardTarget(key) ?? $(key);
    if (!target) return;
    target.scrollIntoView({ block: "center" });
    target.focus();
  }

  $("settings-errors-list").addEventListener("click", (event) => {
    const link = event.target.closest("a[data-field]");
    if (!link) return;
    event.preventDefault();
    focusField(link.dataset.field);
  });

  function showTokenStatus(input, token) {
    const status = $(`${input.name}-status`);
    input.value = "";
    input.placeholder = token.set ? `set (…${token.last4 ?? ""})` : "not set";
    status.dataset.kind = token.set ? "success" : "";
    if (!token.set) {
      status.textContent = "Nothing saved yet.";
    } else if (token.problem) {
      status.textContent = token.problem; // saved, but this panel cannot use it: says why
      status.dataset.kind = "error";
    } else if (token.source === "environment") {
      status.textContent = `Set by the SKYPANEL_HUBSPOT_ACCESS_TOKEN environment variable, ending in …${token.last4}; it overrides a saved one.`;
    } else {
      status.textContent = `Saved encrypted, ending in …${token.last4}. Leave empty to keep it.`;
    }
  }

  // What the saved settings allow asking for: HubSpot's lists need a token, its contacts
  // an enabled integration too. Asking before would only be refused (409).
  const configured = { token: false, enabled: false };

  function fillSettings(state) {
    const values = state.values ?? {};
    configured.token = state.token?.set === true;
    configured.enabled = values.hubspot_enabled === true;
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
    for (const editor of mapEditors.values()) editor.readJson();
    showFieldMessages(state.problems ?? {});
    describeStage();
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
    loadMapProperties();
    loadContacts();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setFormEnabled(false);
    say(settingsMessage, "Saving…", "");
    hideErrorSummary();
    const result = await call("POST", "/settings", collectSettings());
    setFormEnabled(true);
    if (result.ok) {
      fillSettings(result.body);
      const warnings = Array.isArray(result.body.warnings) ? result.body.warnings : [];
      if (warnings.length) say(settingsMessage, `Settings saved. Before relying on them: ${warnings.join(" ")}`, "warning");
      else say(settingsMessage, "Settings saved.", "success");
      loadContacts();
      loadMapProperties(); // a token saved just now makes HubSpot's lists readable
      loadAudit();
    } else if (result.status === 422) {
      const details = result.body.details && typeof result.body.details === "object" ? result.body.details : {};
      const message = result.body.message ?? "Invalid settings";
      showFieldMessages(details);
      showErrorSummary(message, details);
      say(settingsMessage, `${message}: see the list at the top of the form.`, "error");
    } else {
      say(settingsMessage, result.body.message ?? `Saving failed (HTTP ${result.status})`, "error");
    }
  });

  // -- property maps as tables ---------------------------------------------------------------

  // Each property map setting is a JSON object, panel field → HubSpot property name, or
  // → {"property": name, "mode": mode} for a row HubSpot's users own in part. It is edited
  // as a table of rows; the JSON stays the form's own field (what Save sends), under
  // "Edit as JSON", and the two follow each other both ways.
  const PROPERTY_MAPS = [
    { key: "hubspot_contact_property_map", object: "contact", panelFields: "user", example: "plan", identifier: "email" },
    { key: "hubspot_ticket_property_map", object: "ticket", panelFields: "ticket", example: "server", identifier: null },
  ];
  // Who owns the property: when a delivery writes it (see "Who owns a field" in the admin guide).
  const MODES = [
    ["overwrite", "always", "The panel owns it: every change is written (overwrite)"],
    ["fill_if_empty", "while empty", "Written only while HubSpot's value is empty (fill_if_empty)"],
    ["on_create", "at creation", "Written only when the plugin creates the record (on_create)"],
  ];
  const OVERWRITE = "overwrite";
  const TYPE_WORDS = {
    string: "text",
    phone_number: "phone number",
    number: "number",
    date: "date",
    datetime: "date-time",
    bool: "yes/no",
  };
  const FIELD_IN_MESSAGE = /^([a-z][a-z0-9_]*): /;
  const mapEditors = new Map();

  function typeWord(property) {
    if (property.type === "enumeration") {
      const count = Array.isArray(property.options) ? property.options.length : 0;
      return `dropdown, ${count} option${count === 1 ? "" : "s"}`;
    }
    return TYPE_WORDS[property.type] ?? property.type;
  }

  // The JSON text of the rows, in their order; a row with a field and no property (or the
  // reverse) is sent as it is, for the server to name. An overwrite row is written short.
  function mapText(rows) {
    const entries = rows.map(([field, property, mode]) => {
      const row =
        mode === OVERWRITE
          ? JSON.stringify(property)
          : `{"property": ${JSON.stringify(property)}, "mode": ${JSON.stringify(mode)}}`;
      return `${JSON.stringify(field)}: ${row}`;
    });
    return `{${entries.join(", ")}}`;
  }

  // [property, mode] of one JSON row, or null when the table cannot show it.
  function readRow(row) {
    if (typeof row === "string") return [row, OVERWRITE];
    if (!row || typeof row !== "object" || Array.isArray(row)) return null;
    if (Object.keys(row).some((key) => key !== "property" && key !== "mode")) return null;
    const mode = row.mode ?? OVERWRITE;
    return typeof row.property === "string" && typeof mode === "string" ? [row.property, mode] : null;
  }

  function readMapText(text) {
    if (!text.trim()) return [];
    let value;
    try {
      value = JSON.parse(text);
    } catch (error) {
      return null;
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) return null;
    const rows = Object.entries(value).map(([field, row]) => [field, readRow(row)]);
    if (rows.some(([, row]) => row === null)) return null;
    return rows.map(([field, [property, mode]]) => [field, property, mode]);
  }

  class MapEditor {
    constructor(spec) {
      this.spec = spec;
      this.key = spec.key;
      this.textarea = $(spec.key);
      this.properties = null; // HubSpot's list, once read
      this.paused = false; // the JSON cannot be shown as rows
      this.invalidFields = new Set();

      const row = $(`${spec.key}-row`);
      row.classList.add("has-map-editor");
      this.group = element("div", null, "map-editor");
      this.group.id = `${spec.key}-editor`;
      this.group.setAttribute("role", "group");
      this.group.setAttribute("aria-labelledby", `${spec.key}-label`);
      this.group.tabIndex = -1;

      const table = element("table", null, "compact map-table");
      const head = element("tr");
      head.append(
        element("th", "Panel field"),
        element("th", `HubSpot ${spec.object} property, and when the panel writes it`),
        element("th", ""),
      );
      const thead = element("thead");
      thead.append(head);
      this.rows = element("tbody");
      this.rows.id = `${spec.key}-rows`;
      table.append(thead, this.rows);

      this.fieldNames = element("datalist");
      this.fieldNames.id = `${spec.key}-fields`;
      this.add = element("button", "Add a field", "small");
      this.add.type = "button";
      this.add.id = `${spec.key}-add`;
      this.note = element("p", "", "status-line map-note");
      this.note.id = `${spec.key}-note`;
      this.note.setAttribute("aria-live", "polite");
      this.group.append(table, this.fieldNames, this.add, this.note);

      this.details = element("details", null, "json-edit");
      this.details.append(element("summary", "Edit as JSON"));
      this.textarea.replaceWith(this.group);
      this.details.append(this.textarea);
      this.group.after(this.details);

      this.add.addEventListener("click", () => {
        this.addRow("", "", OVERWRITE).field.focus();
        this.writeJson();
      });
      this.textarea.addEventListener("input", () => this.readJson());
      this.readJson();
    }

    suggestFields(names) {
      this.fieldNames.replaceChildren(
        ...names.map((name) => {
          const option = element("option");
          option.value = name;
          return option;
        }),
      );
    }

    propertyControl(chosen) {
      if (!this.properties) {
        const input = element("input", null, "map-property mono");
        input.type = "text";
        input.value = chosen;
        input.spellcheck = false;
        input.autocomplete = "off";
        input.placeholder = "internal name, e.g. plan_tier";
        input.addEventListener("input", () => this.writeJson());
        return input;
      }
      const select = element("select", null, "map-property");
      const none = element("option", "Choose a property…");
      none.value = "";
      select.append(none);
      const known = this.properties.some((property) => property.name === chosen);
      if (chosen && !known) {
        // Typed in the JSON, or gone from the portal: kept, so the save says what is wrong.
        const missing = element("option", `${chosen} (not in HubSpot's list)`);
        missing.value = chosen;
        select.append(missing);
      }
      const closed = element("optgroup");
      closed.label = "Not writable from the panel";
      for (const property of this.properties) {
        const option = element("option", `${property.label} · ${property.name} (${typeWord(property)})`);
        option.value = property.name;
        if (property.mappable === false) {
          option.disabled = true;
          option.textContent = `${property.label} · ${property.name} (${property.readOnly ? "read-only" : "set elsewhere"})`;
          if (property.reason) option.title = property.reason;
          closed.append(option);
        } else {
          select.append(option);
        }
      }
      if (closed.children.length) select.append(closed);
      select.value = chosen;
      select.addEventListener("change", () => this.writeJson());
      return select;
    }

    modeControl(chosen) {
      const select = element("select", null, "map-mode");
      for (const [mode, label, meaning] of MODES) {
        const option = element("option", label);
        option.value = mode;
        option.title = meaning;
        select.append(option);
      }
      if (!MODES.some(([mode]) => mode === chosen)) {
        // Typed in the JSON: kept, so the save says what is wrong with it.
        const unknown = element("option", `${chosen} (not a mode)`);
        unknown.value = chosen;
        select.append(unknown);
      }
      select.value = chosen;
      select.addEventListener("change", () => this.writeJson());
      return select;
    }

    // The identifier row (a contact's email) is always written: its overwrite mode is
    // locked. Another mode (typed in the JSON) stays changeable, and the save names it.
    lockIdentifier(fieldInput, modeSelect) {
      const locked = this.spec.identifier !== null && fieldInput.value.trim() === this.spec.identifier;
      modeSelect.disabled = this.paused || (locked && modeSelect.value === OVERWRITE);
      modeSelect.title = locked ? "Contacts are matched by email: it is always written." : "";
    }

    addRow(field, property, mode) {
      const row = element("tr");
      const fieldInput = element("input", null, "map-field mono");
      fieldInput.type = "text";
      fieldInput.value = field;
      fieldInput.spellcheck = false;
      fieldInput.autocomplete = "off";
      fieldInput.placeholder = `e.g. ${this.spec.example}`;
      fieldInput.setAttribute("list", this.fieldNames.id);
      const control = this.propertyControl(property);
      const modeSelect = this.modeControl(mode ?? OVERWRITE);
      const remove = element("button", "Remove", "small");
      remove.type = "button";
      const name = () => {
        const shown = fieldInput.value.trim() || "new field";
        fieldInput.setAttribute("aria-label", `Panel field (${shown})`);
        control.setAttribute("aria-label", `HubSpot property for ${shown}`);
        modeSelect.setAttribute("aria-label", `Who owns the property of ${shown}`);
        remove.setAttribute("aria-label", `Remove ${shown}`);
      };
      name();
      this.lockIdentifier(fieldInput, modeSelect);
      fieldInput.addEventListener("input", () => {
        name();
        this.lockIdentifier(fieldInput, modeSelect);
        this.writeJson();
      });
      remove.addEventListener("click", () => {
        const next = row.nextElementSibling?.querySelector("input") ?? this.add;
        row.remove();
        this.writeJson();
        next.focus();
      });
      // Under the property, so the property's long names keep the row's width.
      const modeLine = element("label", "Panel writes it: ", "map-mode-line");
      modeLine.append(modeSelect);
      const cells = [element("td"), element("td"), element("td")];
      cells[0].append(fieldInput);
      cells[1].append(control, modeLine);
      cells[2].append(remove);
      row.append(...cells);
      this.rows.append(row);
      return { field: fieldInput, property: control };
    }

    // [field, property, mode] of each row that names something.
    mapRows() {
      const rows = [];
      for (const row of this.rows.rows) {
        const field = row.querySelector(".map-field").value.trim();
        const property = row.querySelector(".map-property").value.trim();
        const mode = row.querySelector(".map-mode").value;
        if (field || property) rows.push([field, property, mode]);
      }
      return rows;
    }

    writeJson() {
      this.textarea.value = mapText(this.mapRows());
      this.setPaused(false);
    }

    // The rows from the JSON field; while it is not an object of names, the table waits.
    readJson() {
      const rows = readMapText(this.textarea.value);
      this.setPaused(rows === null);
      if (rows === null) return;
      this.rows.replaceChildren();
      for (const [field, property, mode] of rows) this.addRow(field, property, mode);
      this.markRows();
    }

    setPaused(paused) {
      this.paused = paused;
      this.group.classList.toggle("paused", paused);
      for (const control of this.rows.querySelectorAll("input, select, button")) control.disabled = paused;
      for (const row of this.rows.rows) this.lockIdentifier(row.querySelector(".map-field"), row.querySelector(".map-mode"));
      this.add.disabled = paused;
      if (paused) {
        this.details.open = true;
        this.showNote("The JSON below is not an object of panel field → property name (or → {\"property\", \"mode\"}); the table follows it again once it is.", "error");
      } else if (this.note.dataset.kind === "error") {
        this.showNote(this.propertiesNote ?? "", "");
      }
    }

    showNote(text, kind) {
      say(this.note, text, kind);
    }

    setProperties(properties, why) {
      this.properties = properties;
      this.propertiesNote = why;
      if (!this.paused) {
        const rows = this.mapRows();
        this.rows.replaceChildren();
        for (const [field, property, mode] of rows) this.addRow(field, property, mode);
        this.markRows();
      }
      if (!this.paused) this.showNote(why ?? "", "");
    }

    // The server joins its findings under the setting ("plan: …; region: …"): the rows they
    // name are marked too.
    showMessage(message) {
      this.invalidFields = new Set();
      for (const part of (message ?? "").split("; ")) {
        const named = FIELD_IN_MESSAGE.exec(part);
        if (named) this.invalidFields.add(named[1]);
      }
      if (message) this.group.setAttribute("aria-describedby", `${this.key}-error`);
      else this.group.removeAttribute("aria-describedby");
      this.markRows();
    }

    markRows() {
      for (const row of this.rows.rows) {
        const field = row.querySelector(".map-field").value.trim();
        const control = row.querySelector(".map-property");
        if (this.invalidFields.has(field)) {
          control.setAttribute("aria-invalid", "true");
          control.setAttribute("aria-describedby", `${this.key}-error`);
        } else {
          control.removeAttribute("aria-invalid");
          control.removeAttribute("aria-describedby");
        }
      }
    }

    focusTarget() {
      if (this.paused) {
        this.details.open = true;
        return this.textarea;
      }
      return this.rows.querySelector('[aria-invalid="true"]') ?? this.rows.querySelector("input") ?? this.add;
    }
  }

  for (const spec of PROPERTY_MAPS) {
    if ($(spec.key)) mapEditors.set(spec.key, new MapEditor(spec));
  }

  // The panel's own fields (its custom ones, e.g. a hosting plan), from the page.
  function ownPanelFields() {
    const node = $("panel-fields");
    try {
      return node ? JSON.parse(node.textContent) : {};
    } catch (error) {
      return {};
    }
  }

  async function loadMapProperties() {
    const fields = await call("GET", "/property-map");
    const own = ownPanelFields();
    for (const editor of mapEditors.values()) {
      const { object, panelFields } = editor.spec;
      // Built-in user fields are suggestions; the ticket's built-in ones are the plugin's own.
      const builtIn = panelFields === "user" && fields.ok ? fields.body.panelFields?.user ?? [] : [];
      editor.suggestFields([...new Set([...builtIn, ...(own[panelFields] ?? [])])]);
      const result = configured.token
        ? await call("GET", `/properties?${new URLSearchParams({ object })}`)
        : { ok: false, status: 409, body: {} };
      if (result.ok) {
        editor.setProperties(result.body.properties ?? [], null);
      } else if (result.status === 409) {
        editor.setProperties(
          null,
          `HubSpot's ${object} properties are listed here once an access token is saved; until then, type each property's internal name.`,
        );
      } else {
        editor.setProperties(
          null,
          `HubSpot's ${object} properties could not be read (${result.body.message ?? `HTTP ${result.status}`}); type each property's internal name.`,
        );
      }
    }
  }

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
    describeStage();
  }

  // The stage field's help names the default pipeline's stages ("1 is New"); for another
  // pipeline it names that pipeline's, once HubSpot's list is read.
  const stageHelp = $("hubspot_ticket_stage-row")?.querySelector(".help");
  const defaultStageHelp = stageHelp?.textContent ?? "";

  function describeStage() {
    if (!stageHelp || !$("hubspot_ticket_pipeline")) return;
    const pipelineId = $("hubspot_ticket_pipeline").value.trim();
    const stageId = $("hubspot_ticket_stage").value.trim();
    const pipeline = pipelines.find((p) => p.id === pipelineId);
    const stage = pipeline?.stages.find((s) => s.id === stageId);
    if (stage) {
      stageHelp.textContent = `The pipeline stage of new tickets: ${stage.id} is “${stage.label}” in the “${pipeline.label}” pipeline.`;
    } else if (pipeline) {
      const names = pipeline.stages.map((s) => `${s.id} (${s.label})`).join(", ");
      stageHelp.textContent = `The pipeline stage of new tickets; the “${pipeline.label}” pipeline has ${names}.`;
    } else if (pipelineId === "0" || pipelineId === "") {
      stageHelp.textContent = defaultStageHelp;
    } else {
      stageHelp.textContent = `The pipeline stage of new tickets, one of pipeline ${pipelineId}'s stages: load the pipelines from HubSpot (Ticket pipeline card) to pick it by name.`;
    }
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
  for (const key of ["hubspot_ticket_pipeline", "hubspot_ticket_stage"]) $(key)?.addEventListener("input", describeStage);
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
      const what = element("td", delivery.kindLabel ?? delivery.kind);
      what.title = delivery.kind; // the outbox's own code, for a bug report or a script
      const whom = element("td", delivery.entityLabel ?? delivery.entity);
      whom.title = delivery.entity;
      row.append(
        element("td", delivery.id),
        what,
        whom,
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

  // -- problems ------------------------------------------------------------------------------

  function renderProblems(body) {
    const groups = body.groups ?? [];
    $("problems-summary").textContent = groups.length
      ? `${body.rows} rows in ${groups.length} group${groups.length === 1 ? "" : "s"}`
      : "none";
    const rows = groups.map((group) => {
      const row = element("tr");
      row.dataset.key = group.key;
      const state = element("td");
      state.append(element("span", group.state, `badge badge-${group.state === "parked" ? "dead" : "queued"}`));
      const example = group.example
        ? element("td", `#${group.example.id} ${group.example.entity}`)
        : element("td", "");
      if (group.example) example.title = group.example.lastError ?? "";
      const action = element("td");
      if (group.replayable) {
        const button = element("button", "Replay this group", "small");
        button.type = "button";
        button.addEventListener("click", async () => {
          const result = await call("POST", "/problems/replay", { key: group.key });
          const message = result.ok ? replayedWords(result.body.replayed) : result.body.message ?? `HTTP ${result.status}`;
          say($("problems-message"), message, result.ok ? "success" : "error");
          refreshDeliveries();
        });
        action.append(button);
      }
      const reason = [group.status, group.category].filter(Boolean).join(" ");
      row.append(
        element("td", group.count),
        state,
        element("td", reason ? `${reason}: ${group.reason}` : group.reason, "error-text"),
        element("td", (group.properties ?? []).join(", ")),
        element("td", group.fix),
        example,
        action,
      );
      return row;
    });
    if (!rows.length) {
      const empty = element("td", "No problems: nothing is parked or waiting long.", "muted");
      empty.colSpan = 7;
      const row = element("tr");
      row.append(empty);
      rows.push(row);
    }
    $("problems-rows").replaceChildren(...rows);
  }

  async function loadProblems() {
    const result = await call("GET", "/problems");
    if (result.ok) renderProblems(result.body);
    else say($("problems-message"), result.body.message ?? `HTTP ${result.status}`, "error");
  }

  // -- health ----------------------------------------------------------------------------------

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "none waiting";
    if (seconds < 90) return `${Math.round(seconds)} s`;
    if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
    if (seconds < 48 * 3600) return `${Math.round(seconds / 3600)} h`;
    return `${Math.round(seconds / 86400)} days`;
  }

  function renderHealth(state) {
    const counts = state.counts ?? {};
    $("health-queued").textContent = String(counts.queued ?? 0);
    $("health-oldest").textContent = duration(state.oldestWaitingSeconds);
    $("health-delivered").textContent = String(counts.delivered ?? 0);
    $("health-parked").textContent = String(state.parked ?? counts.dead ?? 0);
    $("health-last").textContent = state.lastDeliveredAt ? when(state.lastDeliveredAt) : "never";
    const budget = state.rateLimit ?? {};
    $("health-budget").textContent = `${budget.left ?? "?"} of ${budget.per10s ?? "?"} per 10 s`;
    $("health-version").textContent = state.apiVersion ?? "";
    const paused = $("health-paused");
    paused.hidden = !state.pausedUntil;
    paused.textContent = state.pausedUntil
      ? `Paused: HubSpot's daily API limit is spent. Delivery resumes when it resets, at ${when(state.pausedUntil)}.`
      : "";
  }

  async function loadHealth() {
    const result = await call("GET", "/status");
    if (result.ok) {
      renderHealth(result.body);
      say($("health-message"), "", "");
    } else {
      say($("health-message"), result.body.message ?? `HTTP ${result.status}`, "error");
    }
  }

  async function refreshDeliveries() {
    await Promise.all([loadDeliveries(), loadHealth(), loadProblems()]);
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

  // What the admin's last action on the deliveries did: it stays (the table refreshes every
  // 2 s underneath) until dismissed or replaced by the next action.
  function notify(text, kind) {
    say($("deliveries-notice-text"), text, kind);
    $("deliveries-notice").hidden = !text;
  }

  function replayedWords(count) {
    if (!count) return "No parked deliveries to replay.";
    return `${count} parked deliver${count === 1 ? "y" : "ies"} queued again.`;
  }

  $("deliveries-notice-dismiss").addEventListener("click", () => {
    notify("", "");
    $("deliveries-replay").focus();
  });
  $("delivery-status").addEventListener("change", () => {
    notify("", "");
    loadDeliveries();
  });
  $("deliveries-replay").addEventListener("click", async () => {
    notify("", "");
    const result = await call("POST", "/deliveries/replay", {});
    const message = result.ok ? replayedWords(result.body.replayed) : result.body.message ?? `HTTP ${result.status}`;
    notify(message, result.ok ? "success" : "error");
    refreshDeliveries();
    loadAudit();
  });

  // -- audit trail ---------------------------------------------------------------------------

  const AUDIT_WORDS = {
    settings_changed: "Settings saved",
    key_rotated: "Key rotated",
    deliveries_replayed: "Replayed",
    deliveries_purged: "Purged",
    backfill_started: "Contact sync started",
    backfill_finished: "Contact sync ended",
  };
  let auditBefore = null;

  function auditDetails(entry) {
    const details = entry.details ?? {};
    if (Array.isArray(details.changed)) return details.changed.map((key) => `${fieldLabel(key) ?? key} changed`).join("; ");
    return Object.entries(details)
      .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(", ") : value}`)
      .join(" · ");
  }

  async function loadAudit(before) {
    const query = new URLSearchParams({ limit: "10" });
    if (before) query.set("before", String(before));
    const result = await call("GET", `/audit?${query}`);
    if (!result.ok) {
      say($("audit-message"), result.body.message ?? `HTTP ${result.status}`, "error");
      return;
    }
    const entries = result.body.entries ?? [];
    say($("audit-message"), entries.length || before ? "" : "Nothing changed yet.", "");
    $("audit-rows").replaceChildren(
      ...entries.map((entry) => {
        const row = element("tr");
        const who = [entry.actor ?? "unknown", entry.via === "admin" ? "" : `(${entry.via})`, entry.address ? `from ${entry.address}` : ""];
        row.append(
          element("td", when(entry.at)),
          element("td", AUDIT_WORDS[entry.action] ?? entry.action),
          element("td", who.filter(Boolean).join(" ")),
          element("td", auditDetails(entry)),
        );
        return row;
      }),
    );
    auditBefore = result.body.next?.before ?? null;
    $("audit-next").hidden = !auditBefore;
  }

  $("audit-refresh").addEventListener("click", () => loadAudit());
  $("audit-next").addEventListener("click", () => loadAudit(auditBefore));

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
      loadAudit();
    } else {
      say($("backfill-status"), result.body.message ?? `HTTP ${result.status}`, "error");
      button.disabled = false;
    }
  });

  // "Check first": which customers HubSpot would refuse, read from the portal's property
  // definitions; nothing is sent to HubSpot.
  $("backfill-check").addEventListener("click", async (event) => {
    const button = event.currentTarget;
    const status = $("backfill-check-status");
    const list = $("backfill-check-problems");
    button.disabled = true;
    say(status, "Checking customers against HubSpot's properties…", "");
    list.replaceChildren();
    list.hidden = true;
    const result = await call("POST", "/backfill/check", {});
    button.disabled = false;
    if (!result.ok) {
      say(status, result.body.message ?? `HTTP ${result.status}`, "error");
      return;
    }
    const check = result.body.check;
    if (!check.refusedUsers) {
      say(status, `All ${check.users} customers can be sent as they are.`, "success");
      return;
    }
    const more = check.problemCount - check.problems.length;
    say(
      status,
      `${check.refusedUsers} of ${check.users} customers would be refused (${check.problemCount} problems${more ? `, first ${check.problems.length} shown` : ""}).`,
      "error",
    );
    for (const problem of check.problems) {
      list.append(element("li", `User ${problem.userId}: ${problem.property}: ${problem.kind} — ${problem.detail}`));
    }
    list.hidden = false;
  });

  // -- contacts ------------------------------------------------------------------------------

  let contactsAfter = null;

  async function loadContacts(after) {
    const query = new URLSearchParams({ limit: "10" });
    if (after) query.set("after", after);
    const ready = configured.enabled && configured.token;
    const result = ready ? await call("GET", `/contacts?${query}`) : { ok: false, status: 409, body: {} };
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

  loadSettings(); // then the property lists and the contacts, as far as the settings allow
  loadAudit();
  every(2, refreshDeliveries);
  pollBackfill();
})();
