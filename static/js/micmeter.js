// The pre-join screen's microphone level: an AnalyserNode on the preview's audio track, shown
// in a <meter> ten times a second, so people see that their microphone hears them before they
// join. A muted track reads as silence. It shows the peak of the last ~170 ms (more than the
// time between two readings, so no sound falls between them), falling back slowly as level
// meters do, so a short sound stays visible.
//
// Chromium starts an AudioContext made before any click on the page suspended (its autoplay
// policy, even with the microphone allowed), so the first click or key anywhere resumes it.

const FLOOR_DB = -60; // the meter's empty end; 0 dBFS is its full end
const REFRESH_MS = 100;
const WINDOW_SAMPLES = 8192; // ~170 ms at 48 kHz
const FALL_PER_READING = 0.08;

/** 0..1 from the peak (in dBFS) of one block of samples. */
export function levelOf(samples) {
  let peak = 0;
  for (const sample of samples) peak = Math.max(peak, Math.abs(sample));
  const db = 20 * Math.log10(peak || 1e-9);
  return Math.min(1, Math.max(0, (db - FLOOR_DB) / -FLOOR_DB));
}

export class MicLevelMeter {
  #context = null;
  #source = null;
  #analyser = null;
  #samples = null;
  #timer = null;
  #track = null;

  /** @param meter - the <meter min=0 max=1> to fill */
  constructor(meter) {
    this.meter = meter;
    const resume = () => this.#context?.resume().catch(() => {});
    for (const type of ["pointerdown", "keydown"]) window.addEventListener(type, resume, { capture: true });
  }

  /** Follow this audio track (null: stand still at 0). */
  listen(track) {
    if (!this.meter || track === this.#track) return;
    this.#disconnect();
    this.#track = track;
    if (!track || typeof AudioContext === "undefined") return;
    this.#context ??= new AudioContext();
    this.#context.resume().catch(() => {});
    this.#source = this.#context.createMediaStreamSource(new MediaStream([track]));
    this.#analyser = this.#context.createAnalyser();
    this.#analyser.fftSize = WINDOW_SAMPLES;
    this.#samples = new Float32Array(this.#analyser.fftSize);
    this.#source.connect(this.#analyser); // to nothing else: the level is measured, never played
    this.#timer = setInterval(() => this.#show(), REFRESH_MS);
  }

  stop() {
    this.#disconnect();
    this.#context?.close().catch(() => {});
    this.#context = null;
  }

  #show() {
    this.#analyser.getFloatTimeDomainData(this.#samples);
    const level = Math.max(levelOf(this.#samples), this.meter.value - FALL_PER_READING);
    this.meter.value = Math.round(level * 100) / 100;
  }

  #disconnect() {
    clearInterval(this.#timer);
    this.#timer = null;
    this.#source?.disconnect();
    this.#source = null;
    this.#analyser = null;
    this.#track = null;
    if (this.meter) this.meter.value = 0;
  }
}
