// stylize serve: the page. The camera's frames go to the server over a WebSocket as JPEGs and come back
// stylized; files are uploaded as jobs and followed until their result can be shown and downloaded.
'use strict';

const $ = (id) => document.getElementById(id);
// With a token, the page was opened as /?token=...: every request carries it (a WebSocket cannot send headers).
const token = new URLSearchParams(location.search).get('token');
// Frames sent and not yet answered, at most (?inflight=1..4; default 1): 1 gives the lowest latency (about one
// inference plus the trip); 2 keeps the server busy while a frame travels, for more fps from a distant server,
// at up to one more inference of latency.
const inflight = Math.min(Math.max(Number(new URLSearchParams(location.search).get('inflight')) || 1, 1), 4);
const withToken = (path) => (token ? path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token) : path);

const app = {
  ws: null,
  session: null,
  models: [],
  limits: { max_fps: 30 },
  running: false,
  stream: null,
  timer: null,
  seq: 0,
  // seq -> {t: capture time, blob: the JPEG sent}; older entries go when a newer frame comes back.
  sent: new Map(),
  lastShown: -1,
  shownTimes: [],
  latencies: [],
  lastPair: null,
  stats: null,
  capture: document.createElement('canvas'),
  job: null,
  xhr: null,
};

function say(text, error) {
  const li = document.createElement('li');
  li.textContent = new Date().toLocaleTimeString() + '  ' + text;
  if (error) li.className = 'error';
  const list = $('messages');
  list.prepend(li);
  while (list.children.length > 6) list.lastChild.remove();
}

// ---- the WebSocket ----

function connect() {
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + withToken('/ws');
  const ws = new WebSocket(url);
  ws.binaryType = 'arraybuffer';
  app.ws = ws;
  ws.onmessage = (ev) => (typeof ev.data === 'string' ? onMessage(JSON.parse(ev.data)) : onFrame(ev.data));
  ws.onclose = (ev) => {
    $('server').textContent = 'disconnected' + (ev.reason ? ': ' + ev.reason : '') + ' (reconnecting…)';
    app.session = null;
    $('start').disabled = true;
    $('upload').disabled = true;
    if (app.ws === ws) setTimeout(connect, 2000);
  };
}

function onMessage(msg) {
  switch (msg.type) {
    case 'hello':
      app.session = msg.session;
      app.models = msg.models;
      app.limits = msg.limits;
      $('server').textContent = `${msg.models.length} model${msg.models.length === 1 ? '' : 's'} on ${msg.device}`;
      fillModels();
      $('start').disabled = false;
      $('upload').disabled = false;
      sendSettings();
      break;
    case 'settings':
      $('server').textContent = `${msg.model}${msg.style_mix ? ' (' + msg.style_mix + ')' : ''} · strength ${msg.strength.toFixed(2)}${msg.preserve_color ? ' · original colours' : ''}`;
      break;
    case 'stats':
      app.stats = msg;
      $('dropped').textContent = `${msg.stylized} stylized · ${msg.replaced + msg.limited + msg.unsent} dropped · ${msg.clients} client${msg.clients === 1 ? '' : 's'}`;
      break;
    case 'notice':
      say(msg.message);
      break;
    case 'error':
      if (msg.seq != null) for (const k of app.sent.keys()) if (k <= msg.seq) app.sent.delete(k);
      say(msg.message, true);
      break;
  }
}

function onFrame(buf) {
  const view = new DataView(buf);
  const seq = view.getUint32(0, true);
  const serverUs = view.getUint32(4, true);
  const out = new Blob([buf.slice(8)], { type: 'image/jpeg' });
  const sent = app.sent.get(seq);
  for (const k of app.sent.keys()) if (k <= seq) app.sent.delete(k);
  createImageBitmap(out).then((bmp) => {
    // A frame that arrives after a newer one has been shown is stale.
    if (seq <= app.lastShown) return;
    app.lastShown = seq;
    const c = $('output');
    if (c.width !== bmp.width || c.height !== bmp.height) {
      c.width = bmp.width;
      c.height = bmp.height;
    }
    c.getContext('2d').drawImage(bmp, 0, 0);
    bmp.close();
    const now = performance.now();
    app.shownTimes.push(now);
    if (sent) {
      app.latencies.push({ ms: now - sent.t, server_ms: serverUs / 1000, at: now });
      app.lastPair = { seq, input: sent.blob, output: out };
    }
    hud(now);
  });
}

function hud(now) {
  while (app.shownTimes.length && now - app.shownTimes[0] > 1000) app.shownTimes.shift();
  const recent = app.latencies.slice(-30).map((l) => l.ms).sort((a, b) => a - b);
  $('fps').textContent = `${app.shownTimes.length.toFixed(0)} fps`;
  if (recent.length) $('latency').textContent = `${recent[Math.floor(recent.length / 2)].toFixed(0)} ms round trip`;
}

// ---- settings ----

function fillModels() {
  const select = $('model');
  const current = select.value;
  select.replaceChildren(...app.models.map((m) => new Option(m.name + (m.styles.length ? ` (${m.styles.length} styles)` : ''), m.name)));
  if (app.models.some((m) => m.name === current)) select.value = current;
  fillStyles();
}

function fillStyles() {
  const model = app.models.find((m) => m.name === $('model').value);
  const box = $('styles');
  box.replaceChildren();
  if (!model || !model.styles.length) return;
  model.styles.forEach((name, i) => {
    const row = document.createElement('label');
    row.className = 'style-weight';
    const slider = document.createElement('input');
    Object.assign(slider, { type: 'range', min: 0, max: 1, step: 0.05, value: i === 0 ? 1 : 0 });
    slider.dataset.style = name;
    slider.addEventListener('input', sendSettings);
    row.append(name, slider);
    box.append(row);
  });
}

function styleMix() {
  const parts = [...$('styles').querySelectorAll('input')].filter((s) => Number(s.value) > 0).map((s) => `${s.dataset.style}=${s.value}`);
  return parts.length ? parts.join(',') : null;
}

function options() {
  return { model: $('model').value, style_mix: styleMix(), strength: Number($('strength').value), preserve_color: $('preserve').checked };
}

function frameSize() {
  const [w, h] = $('size').value.split('x').map(Number);
  return [w, h];
}

function sendSettings() {
  $('strength-value').textContent = Number($('strength').value).toFixed(2);
  if (app.ws && app.ws.readyState === WebSocket.OPEN && app.session) {
    // The size is not announced (the protocol allows it): frames of the old size still on their way after a
    // change would be refused.
    app.ws.send(JSON.stringify({ type: 'settings', ...options() }));
  }
}

$('model').addEventListener('change', () => { fillStyles(); sendSettings(); });
$('strength').addEventListener('input', sendSettings);
$('preserve').addEventListener('change', sendSettings);

// ---- the camera ----

async function startCamera() {
  const [w, h] = frameSize();
  try {
    app.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: w }, height: { ideal: h } }, audio: false });
  } catch (e) {
    say('no camera: ' + e.message, true);
    return;
  }
  const video = $('camera');
  video.srcObject = app.stream;
  await video.play();
  app.running = true;
  app.latencies = [];
  $('start').textContent = 'Stop camera';
  tick();
}

function stopCamera() {
  app.running = false;
  clearTimeout(app.timer);
  if (app.stream) app.stream.getTracks().forEach((t) => t.stop());
  app.stream = null;
  $('start').textContent = 'Start camera';
}

$('start').addEventListener('click', () => (app.running ? stopCamera() : startCamera()));

// Sends the camera's current picture at the chosen size, at most at the server's frame rate and with at most
// `inflight` frames unanswered. The server keeps only the latest frame, so the latency stays near one inference.
function tick() {
  if (!app.running) return;
  const fps = Math.min(app.limits.max_fps || 30, 30);
  app.timer = setTimeout(tick, 1000 / fps);
  const ws = app.ws;
  const video = $('camera');
  if (!ws || ws.readyState !== WebSocket.OPEN || !video.videoWidth) return;
  const [w, h] = frameSize();
  // More frames unanswered would only wait or be replaced there, after costing this machine a JPEG encode
  // each. A frame unanswered for a second was dropped.
  const now = performance.now();
  let unanswered = 0;
  for (const v of app.sent.values()) if (now - v.t < 1000) unanswered++;
  if (unanswered >= inflight) return;
  // A slow upload: skip rather than queue frames in the socket.
  if (ws.bufferedAmount > w * h) return;
  const c = app.capture;
  c.width = w;
  c.height = h;
  c.getContext('2d').drawImage(video, 0, 0, w, h);
  const t = performance.now();
  const seq = (app.seq = (app.seq + 1) >>> 0);
  c.toBlob(async (blob) => {
    if (!blob || ws.readyState !== WebSocket.OPEN) return;
    const jpeg = new Uint8Array(await blob.arrayBuffer());
    const msg = new Uint8Array(4 + jpeg.length);
    new DataView(msg.buffer).setUint32(0, seq, true);
    msg.set(jpeg, 4);
    app.sent.set(seq, { t, blob });
    for (const [k, v] of app.sent) if (t - v.t > 5000) app.sent.delete(k);
    ws.send(msg);
  }, 'image/jpeg', 0.85);
}

// ---- files ----

function progress(fraction, text) {
  const bar = $('progress');
  if (fraction == null) bar.removeAttribute('value');
  else bar.value = fraction;
  $('job').textContent = text;
}

function upload() {
  const file = $('file').files[0];
  if (!file) return say('choose an image or a video first', true);
  const form = new FormData();
  form.append('options', JSON.stringify({ ...options(), scale: Number($('scale').value) }));
  form.append('file', file, file.name);
  const xhr = new XMLHttpRequest();
  app.xhr = xhr;
  xhr.open('POST', withToken('/api/jobs' + (app.session ? '?session=' + app.session : '')));
  xhr.upload.onprogress = (e) => e.lengthComputable && progress(e.loaded / e.total, `uploading ${file.name}: ${(e.loaded / 1e6).toFixed(1)} of ${(e.total / 1e6).toFixed(1)} MB`);
  xhr.onload = () => {
    app.xhr = null;
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (_) { /* not JSON: a proxy's page */ }
    if (xhr.status !== 202) {
      progress(0, 'failed');
      $('cancel').disabled = true;
      return say(body.error || `upload failed (HTTP ${xhr.status})`, true);
    }
    app.job = body;
    follow(body.id);
  };
  xhr.onerror = () => { app.xhr = null; progress(0, 'upload failed'); $('cancel').disabled = true; };
  xhr.onabort = () => { app.xhr = null; progress(0, 'cancelled'); $('cancel').disabled = true; };
  $('result').replaceChildren();
  $('cancel').disabled = false;
  progress(0, `uploading ${file.name}`);
  xhr.send(form);
}

async function follow(id) {
  while (app.job && app.job.id === id) {
    const r = await fetch(withToken('/api/jobs/' + id));
    const job = await r.json().catch(() => ({}));
    if (!r.ok) { say(job.error || `HTTP ${r.status}`, true); break; }
    if (job.state === 'queued') progress(null, `${job.name}: waiting in the queue`);
    if (job.state === 'running') progress(job.progress, job.kind === 'video' ? `${job.name}: ${job.frames}${job.total ? ' of ' + job.total : ''} frames` : `${job.name}: stylizing`);
    if (job.state === 'done') { progress(1, `${job.name}: done, ${job.summary}`); show(job); break; }
    if (job.state === 'failed') { progress(0, 'failed'); say(job.error, true); break; }
    if (job.state === 'cancelled') { progress(0, 'cancelled'); break; }
    await new Promise((res) => setTimeout(res, 500));
  }
  $('cancel').disabled = true;
}

function show(job) {
  const src = withToken(job.result);
  const view = document.createElement(job.kind === 'video' ? 'video' : 'img');
  view.src = src;
  if (job.kind === 'video') view.controls = true;
  const link = document.createElement('a');
  link.href = withToken(job.result + '?download=1');
  link.textContent = 'download ' + job.download;
  $('result').replaceChildren(view, link);
}

function cancel() {
  if (app.xhr) app.xhr.abort();
  else if (app.job) {
    fetch(withToken('/api/jobs/' + app.job.id), { method: 'DELETE' });
    app.job = null;
    progress(0, 'cancelled');
  }
  $('cancel').disabled = true;
}

$('upload').addEventListener('click', upload);
$('cancel').addEventListener('click', cancel);

// For tests and measurements (headless browsers drive the page through these).
window.stylizeDebug = {
  stats: () => ({ shown: app.lastShown, latencies: app.latencies.map((l) => l.ms), server_ms: app.latencies.map((l) => l.server_ms), server: app.stats, running: app.running, session: app.session }),
  lastPair: async () => {
    const p = app.lastPair;
    if (!p) return null;
    const url = (b) => new Promise((res) => { const r = new FileReader(); r.onload = () => res(r.result); r.readAsDataURL(b); });
    return { seq: p.seq, input: await url(p.input), output: await url(p.output) };
  },
  // Forgets what was shown, so the next pair is one made after a settings change.
  reset: () => { app.lastPair = null; app.latencies = []; },
};

connect();
