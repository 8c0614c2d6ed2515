// SMS simulator: post the text with the CSRF header, show the agent's reply in the thread.
(function () {
  "use strict";
  const form = document.getElementById("sms-form");
  const select = document.getElementById("persona");
  const thread = document.getElementById("thread");
  const input = document.getElementById("sms-body");
  BL.personaHint(select, document.getElementById("persona-hint"));
  select.addEventListener("change", () => { thread.replaceChildren(); });
  function add(who, text) {
    const div = document.createElement("div");
    div.className = "bubble " + (who === "agent" ? "agent" : "patient");
    const meta = document.createElement("span"); meta.className = "meta"; meta.textContent = who === "agent" ? "agent" : "you";
    div.append(meta, document.createTextNode(text));
    thread.append(div); thread.scrollTop = thread.scrollHeight;
  }
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = input.value.trim();
    if (!body) return;
    add("patient", body);
    input.value = ""; input.focus();
    const button = form.querySelector("button"); button.disabled = true;
    try {
      const res = await BL.post(form.action, { persona: select.value, body });
      add("agent", res.reply || (res.kind === "suppressed" ? "(no reply: this number opted out)" : "(no reply)"));
    } catch (err) {
      add("agent", "(could not send: " + err.message + ")");
    } finally { button.disabled = false; }
  });
})();
