// Live pages: server-sent events from /console/events (shared-state pub/sub behind it).
(function () {
  "use strict";
  const status = document.getElementById("live-status");
  const setStatus = (t) => { if (status) status.textContent = t; };
  const money = (v) => (v === null || v === undefined || v === "") ? "—" : "$" + Number(v).toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  // ---- calls
  const calls = document.getElementById("calls");
  function bubble(speaker, text) {
    const div = document.createElement("div");
    div.className = "bubble " + (speaker === "agent" ? "agent" : "patient");
    const meta = document.createElement("span");
    meta.className = "meta"; meta.textContent = speaker;
    div.append(meta, document.createTextNode(text));
    return div;
  }
  function callCard(ev) {
    let card = calls.querySelector(`[data-call="${CSS.escape(ev.call_id)}"]`);
    if (!card) {
      card = document.createElement("section");
      card.className = "card call"; card.dataset.call = ev.call_id;
      const h = document.createElement("h2");
      const dot = document.createElement("span"); dot.className = "live-dot";
      h.append(dot, document.createTextNode("Call " + String(ev.call_id).slice(-6)));
      const t = document.createElement("div"); t.className = "transcript";
      card.append(h, t);
      calls.prepend(card);
    }
    document.getElementById("calls-empty").hidden = true;
    return card;
  }
  function onCall(ev) {
    if (!calls) return;
    if (ev.event === "ended") {
      const card = calls.querySelector(`[data-call="${CSS.escape(ev.call_id)}"]`);
      if (card) {
        card.querySelector(".live-dot")?.remove();
        const h = card.querySelector("h2"); h.append(document.createTextNode(" · ended"));
        setTimeout(() => { card.remove(); document.getElementById("calls-empty").hidden = !!calls.children.length; }, 30000);
      }
      return;
    }
    const card = callCard(ev);
    if (ev.event === "turn" && ev.text) {
      const t = card.querySelector(".transcript");
      t.append(bubble(ev.speaker, ev.text));
      t.scrollTop = t.scrollHeight;
    }
  }

  // ---- transfers
  const transfers = document.getElementById("transfers");
  function fill(card, c) {
    card.dataset.transfer = c.transfer_id;
    const f = (n) => card.querySelector(`[data-f="${n}"]`);
    f("status").textContent = (c.status || "ringing").replace(/_/g, " ");
    const link = f("patient");
    link.textContent = c.patient_id ? "Patient #" + c.patient_id : "Unidentified caller";
    link.href = c.patient_id ? "/console/accounts/" + encodeURIComponent(c.patient_id) : "#";
    f("verified").textContent = c.verified ? "identity verified" : "not verified";
    f("verified").className = "pill " + (c.verified ? "ok" : "bad");
    f("balance").textContent = money(c.balance);
    f("ask").textContent = c.ask || "—";
    f("objection").textContent = c.objection || "—";
    f("offered").textContent = (c.offered || []).join(", ") || "—";
    f("summary").textContent = c.summary || "";
    f("form").action = "/console/transfers/" + encodeURIComponent(c.transfer_id) + "/done";
  }
  function upsertTransfer(c, ringing) {
    let card = transfers.querySelector(`[data-transfer="${CSS.escape(c.transfer_id)}"]`);
    if (!card) {
      card = document.getElementById("transfer-template").content.firstElementChild.cloneNode(true);
      transfers.prepend(card);
    }
    fill(card, c);
    if (ringing) { card.classList.add("ringing"); }
    document.getElementById("transfers-empty").hidden = true;
  }
  function onTransfer(ev) {
    if (!transfers) return;
    const card = transfers.querySelector(`[data-transfer="${CSS.escape(ev.transfer_id || "")}"]`);
    if (ev.event === "ringing" && ev.card) { upsertTransfer(Object.assign({}, ev.card, { status: "ringing" }), true); return; }
    if (!card) return;
    if (ev.event === "handled") { card.remove(); document.getElementById("transfers-empty").hidden = !!transfers.children.length; return; }
    const s = card.querySelector('[data-f="status"]');
    s.textContent = ev.event; s.className = "pill " + (ev.event === "answered" ? "ok" : ev.event === "missed" ? "bad" : "warn");
    card.classList.remove("ringing");
  }
  async function refreshTransfers() {
    if (!transfers) return;
    try {
      const res = await fetch("/api/transfers?status=waiting", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (res.ok) for (const c of await res.json()) upsertTransfer(c, false);
    } catch (e) { /* the stream still delivers new cards */ }
  }

  if (!calls && !transfers) return;
  const source = new EventSource("/console/events");
  source.addEventListener("ready", () => { setStatus("● live"); document.body.dataset.live = "ready"; refreshTransfers(); });
  source.addEventListener("calls", (m) => onCall(JSON.parse(m.data)));
  source.addEventListener("transfers", (m) => onTransfer(JSON.parse(m.data)));
  source.addEventListener("signed_out", () => { source.close(); location.assign("/console/login?next=" + encodeURIComponent(location.pathname)); });
  source.onerror = () => { setStatus("reconnecting…"); document.body.dataset.live = "reconnecting"; };
})();
