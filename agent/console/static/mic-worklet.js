// AudioWorklet: microphone samples → 8 kHz frames of 160 samples (20 ms), posted to the page.
class MicFrames extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = sampleRate / 8000; // input samples per output sample
    this.pos = 0;                   // fractional read position into the pending input
    this.pending = new Float32Array(0);
    this.out = new Float32Array(160);
    this.fill = 0;
  }
  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    const buf = new Float32Array(this.pending.length + input.length);
    buf.set(this.pending); buf.set(input, this.pending.length);
    let pos = this.pos;
    while (pos + 1 < buf.length) {
      // average over the decimation window (a cheap low-pass) when downsampling
      const start = Math.floor(pos), end = Math.min(buf.length - 1, Math.floor(pos + this.ratio));
      let sum = 0, n = 0;
      for (let i = start; i <= end; i++) { sum += buf[i]; n++; }
      this.out[this.fill++] = n ? sum / n : 0;
      if (this.fill === 160) { this.port.postMessage(this.out.slice(0)); this.fill = 0; }
      pos += this.ratio;
    }
    const keep = Math.floor(pos);
    this.pending = buf.slice(keep);
    this.pos = pos - keep;
    return true;
  }
}
registerProcessor("mic-frames", MicFrames);
