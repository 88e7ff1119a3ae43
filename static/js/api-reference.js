// The API reference page (templates/api/reference.html): Swagger UI over the OpenAPI
// document, from the vendored bundle. Its own layout puts the operations in a <section>
// (the page already has its <main>) under a heading of the page's outline.
(() => {
  function layoutPlugin(system) {
    const h = system.React.createElement;

    function TradeSimLayout() {
      const component = system.getComponent;
      const spec = system.specSelectors;
      const Errors = component("errors", true);
      const Info = component("InfoContainer", true);
      const Authorize = component("AuthorizeBtnContainer", true);
      const Operations = component("operations", true);
      const Models = component("Models", true);
      const SvgAssets = component("SvgAssets");
      const status = spec.loadingStatus();
      if (status === "loading") {
        return h("div", { className: "swagger-ui" }, h("p", { role: "status" }, "Loading the reference…"));
      }
      if (status === "failed" || status === "failedConfig" || !spec.specStr()) {
        return h(
          "div",
          { className: "swagger-ui" },
          h("p", { role: "alert" }, "The reference could not be loaded; the OpenAPI document is linked above."),
          h(Errors, null),
        );
      }
      return h(
        "div",
        { className: "swagger-ui" },
        h(SvgAssets, null),
        h(Errors, null),
        h("div", { className: "information-container" }, h(Info, null)),
        spec.securityDefinitions()
          ? h("div", { className: "scheme-container" }, h("div", { className: "schemes wrapper" }, h(Authorize, null)))
          : null,
        h(
          "section",
          { "aria-labelledby": "operations-heading", id: "operations" },
          h("h2", { className: "api-operations-heading", id: "operations-heading" }, "Operations"),
          h(Operations, null),
          h(Models, null),
        ),
      );
    }

    return { components: { TradeSimLayout } };
  }

  // Names Swagger UI leaves out: the request body's text box and a parameter's choice of
  // examples have no label, and each operation's table of responses is a live region
  // (role=region) that needs a name of its own to be told apart from the others.
  function nameUnnamed(root) {
    for (const box of root.querySelectorAll("textarea.body-param__text:not([aria-label])")) {
      box.setAttribute("aria-label", "Request body (JSON)");
    }
    for (const choice of root.querySelectorAll("select.examples-select-element:not([aria-label])")) {
      const parameter = choice.closest("tr[data-param-name]")?.dataset.paramName;
      choice.setAttribute("aria-label", parameter ? `Examples of ${parameter}` : "Examples");
    }
    for (const table of root.querySelectorAll("table.responses-table[role=region]:not([aria-label])")) {
      const operation = table.closest(".opblock");
      const method = operation?.querySelector(".opblock-summary-method")?.textContent || "";
      const path = operation?.querySelector(".opblock-summary-path")?.dataset.path || "";
      table.setAttribute("aria-label", `Responses of ${method} ${path}`.replace(/\s+/g, " ").trim());
    }
  }

  // The Authorize dialog, as a dialog: named, its headings in the page's outline (under
  // the page's h1), its buttons named by what they say, the token field focused when it
  // opens, Tab kept inside it, and focus back on the Authorize button when it closes.
  let dialogWasOpen = false;

  function dialogOf(root) {
    return root.querySelector(".modal-ux");
  }

  function fixDialog(root) {
    const dialog = dialogOf(root);
    if (!dialog) {
      if (dialogWasOpen) root.querySelector(".scheme-container button.authorize")?.focus();
      dialogWasOpen = false;
      return;
    }
    dialog.setAttribute("role", "dialog");
    dialog.setAttribute("aria-modal", "true");
    dialog.setAttribute("aria-label", "Authorize");
    for (const heading of dialog.querySelectorAll("h3, h4, h5, h6")) {
      heading.setAttribute("aria-level", String(Math.min(Number(heading.tagName[1]) - 1, 4)));
    }
    dialog.querySelector("button.close-modal")?.setAttribute("aria-label", "Close");
    for (const button of dialog.querySelectorAll("button[aria-label]:not(.close-modal)")) {
      const text = button.textContent.trim();
      if (text && button.getAttribute("aria-label") !== text) button.setAttribute("aria-label", text);
    }
    const field = dialog.querySelector("input");
    field?.setAttribute("aria-label", "Token");
    // On opening, and when the dialog redraws itself (after Authorize, say), focus
    // stays in it.
    if (!dialog.contains(document.activeElement)) {
      (field || dialog.querySelector("button.btn-done") || dialog.querySelector("button"))?.focus();
    }
    dialogWasOpen = true;
  }

  function keepTabInDialog(root, event) {
    const dialog = dialogOf(root);
    if (event.key !== "Tab" || !dialog) return;
    const stops = [...dialog.querySelectorAll("button, input, select, textarea, a[href]")].filter(
      (el) => !el.disabled && el.getClientRects().length,
    );
    if (!stops.length) return;
    const first = stops[0];
    const last = stops[stops.length - 1];
    const inside = dialog.contains(document.activeElement);
    if (event.shiftKey && (document.activeElement === first || !inside)) {
      last.focus();
      event.preventDefault();
    } else if (!event.shiftKey && (document.activeElement === last || !inside)) {
      first.focus();
      event.preventDefault();
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const root = document.getElementById("swagger-ui");
    if (!root || !window.SwaggerUIBundle) return;
    window.SwaggerUIBundle({
      url: root.dataset.openapiUrl,
      domNode: root,
      presets: [window.SwaggerUIBundle.presets.apis],
      plugins: [layoutPlugin],
      layout: "TradeSimLayout",
      // Deep links put a link inside each operation's button (nested controls).
      deepLinking: false,
      validatorUrl: null,
      defaultModelsExpandDepth: 0,
      syntaxHighlight: false,
    });
    const fix = () => {
      nameUnnamed(root);
      fixDialog(root);
    };
    fix();
    new MutationObserver(fix).observe(root, { childList: true, subtree: true });
    document.addEventListener("keydown", (event) => keepTabInDialog(root, event));
  });
})();
