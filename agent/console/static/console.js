// Shared helpers: CSRF-carrying fetch, persona hints. Pages work without JS; this only enhances.
(function () {
  "use strict";
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  async function post(url, form) {
    const body = new URLSearchParams(form);
    const res = await fetch(url, {
      method: "POST", body, credentials: "same-origin",
      headers: { "X-CSRF-Token": csrf(), "Accept": "application/json" },
    });
    if (!res.ok) throw new Error(`${res.status} ${await res.text()}`);
    return res.json();
  }
  function personaHint(select, hint) {
    if (!select || !hint) return;
    const show = () => {
      const o = select.selectedOptions[0];
      if (!o) return;
      hint.textContent = `Verify as ${o.dataset.name}, born ${o.dataset.dob}.` + (o.dataset.shows ? ` Shows: ${o.dataset.shows}` : "");
    };
    select.addEventListener("change", show);
    show();
  }
  window.BL = { csrf, post, personaHint };
})();
