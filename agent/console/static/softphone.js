// Browser softphone: Twilio Media Streams framing (connected/start/media/mark/stop, 8 kHz mu-law,
// 20 ms frames) over /console/try/phone/ws; plays the agent's mu-law back and echoes marks after
// the audio before them has played (what Twilio does), so barge-in bookkeeping works the same.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const statusEl = $("phone-status"), log = $("phone-log"), level = $("level");
  const callBtn = $("call"), hangBtn = $("hangup"), select = $("persona");
  BL.personaHint(select, $("persona-hint"));

  // ---- G.711 mu-law
  function linearToMulaw(sample) {
    const BIAS = 0x84, CLIP = 32635;
    let s = Math.max(-1, Math.min(1, sample)) * 32767 | 0;
    const sign = s < 0 ? 0x80 : 0;
    if (sign) s = -s;
    if (s > CLIP) s = CLIP;
    s += BIAS;
    let exponent = 7;
    for (let mask = 0x4000; (s & mask) === 0 && exponent > 0; mask >>= 1) exponent--;
    const mantissa = (s >> (exponent + 3)) & 0x0f;
    return ~(sign | (exponent << 4) | mantissa) & 0xff;
  }
  function mulawToLinear(u) {
    u = ~u & 0xff;
    const sign = u & 0x80, exponent = (u >> 4) & 0x07, mantissa = u & 0x0f;
    let s = ((mantissa << 3) + 0x84) << exponent;
    s -= 0x84;
    return (sign ? -s : s) / 32768;
  }
  const b64 = (bytes) => { let s = ""; for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]); return btoa(s); };
  const unb64 = (str) => { const s = atob(str); const out = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i); return out; };

  let ws = null, ctx = null, stream = null, node = null, source = null;
  let seq = 0, chunk = 0, streamSid = "", callSid = "", startedAt = 0;
  let playHead = 0, scheduled = [], marks = [], markTimer = null;

  const setStatus = (t) => { statusEl.textContent = t; document.body.dataset.phone = t; };
  function say(speaker, text) {
    const div = document.createElement("div");
    div.className = "bubble " + (speaker === "agent" ? "agent" : "patient");
    const meta = document.createElement("span"); meta.className = "meta"; meta.textContent = speaker === "agent" ? "agent" : "you";
    div.append(meta, document.createTextNode(text));
    log.append(div); log.scrollTop = log.scrollHeight;
  }
  const send = (obj) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj)); };
  const next = () => String(++seq);

  function sendFrame(samples) {
    let peak = 0;
    const bytes = new Uint8Array(samples.length);
    for (let i = 0; i < samples.length; i++) { bytes[i] = linearToMulaw(samples[i]); peak = Math.max(peak, Math.abs(samples[i])); }
    level.style.width = Math.min(100, peak * 140) + "%";
    send({ event: "media", sequenceNumber: next(), streamSid,
      media: { track: "inbound", chunk: String(++chunk), timestamp: String(Math.round(performance.now() - startedAt)), payload: b64(bytes) } });
  }

  // ---- playback and marks
  function play(payload) {
    const bytes = unb64(payload);
    const buffer = ctx.createBuffer(1, bytes.length, 8000);
    const data = buffer.getChannelData(0);
    for (let i = 0; i < bytes.length; i++) data[i] = mulawToLinear(bytes[i]);
    const src = ctx.createBufferSource();
    src.buffer = buffer; src.connect(ctx.destination);
    playHead = Math.max(playHead, ctx.currentTime + 0.05);
    src.start(playHead);
    playHead += buffer.duration;
    scheduled.push(src);
    src.onended = () => { scheduled = scheduled.filter((s) => s !== src); };
  }
  function echoDueMarks(all) {
    const now = ctx ? ctx.currentTime : 0;
    while (marks.length && (all || marks[0].at <= now)) {
      send({ event: "mark", sequenceNumber: next(), streamSid, mark: { name: marks.shift().name } });
    }
  }
  function clearPlayback() {
    for (const s of scheduled) { try { s.stop(); } catch (e) { /* already ended */ } }
    scheduled = []; playHead = ctx ? ctx.currentTime : 0;
    echoDueMarks(true);
  }

  async function call() {
    callBtn.disabled = true; log.replaceChildren();
    setStatus("Starting microphone…");
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
    } catch (e) { setStatus("No microphone: " + e.message); callBtn.disabled = false; return; }
    ctx = new AudioContext();
    await ctx.audioWorklet.addModule("/console/static/mic-worklet.js");
    source = ctx.createMediaStreamSource(stream);
    node = new AudioWorkletNode(ctx, "mic-frames");
    const sink = ctx.createGain(); sink.gain.value = 0;
    source.connect(node); node.connect(sink); sink.connect(ctx.destination);
    const rand = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
    streamSid = "MZ" + rand(); callSid = "CA" + rand(); seq = 0; chunk = 0; marks = []; playHead = 0;
    ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/console/try/phone/ws");
    setStatus("Connecting…");
    ws.onopen = () => {
      startedAt = performance.now();
      send({ event: "connected", protocol: "Call", version: "1.0.0" });
      send({ event: "start", sequenceNumber: next(), streamSid, start: {
        accountSid: "ACconsole", streamSid, callSid, tracks: ["inbound"],
        mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
        customParameters: { persona: select.value } } });
      node.port.onmessage = (m) => sendFrame(m.data);
      markTimer = setInterval(() => echoDueMarks(false), 20);
      setStatus("In call");
      hangBtn.disabled = false;
    };
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.event === "media") play(msg.media.payload);
      else if (msg.event === "mark") marks.push({ name: msg.mark.name, at: Math.max(playHead, ctx.currentTime) });
      else if (msg.event === "clear") clearPlayback();
      else if (msg.event === "transcript") say(msg.speaker, msg.text);
    };
    ws.onclose = (e) => { finish(e.reason ? "Call ended: " + e.reason : "Call ended."); };
  }

  function finish(text) {
    if (markTimer) { clearInterval(markTimer); markTimer = null; }
    if (node) { node.port.onmessage = null; node.disconnect(); node = null; }
    if (stream) { stream.getTracks().forEach((t) => t.stop()); stream = null; }
    if (ctx) { const c = ctx; ctx = null; setTimeout(() => c.close(), 1500); }
    ws = null; level.style.width = "0";
    setStatus(text); callBtn.disabled = false; hangBtn.disabled = true;
  }

  function hangup() {
    send({ event: "stop", sequenceNumber: next(), streamSid, stop: { accountSid: "ACconsole", callSid } });
    if (ws) ws.close(1000, "caller hung up");
  }

  callBtn.addEventListener("click", call);
  hangBtn.addEventListener("click", hangup);
})();
