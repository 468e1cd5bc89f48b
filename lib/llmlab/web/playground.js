// The course's mini GPT in the browser: the forward pass of llmlab/gpt.py and the sampler of
// llmlab/generation.py (sampling_probs), in plain JavaScript, then the page that draws them.
// No dependencies; the weights come from model-weights.js (window.LLMLAB_MODEL, written by
// llmlab.web_export).  Activations are float64 (JavaScript numbers); weights are PyTorch's float32.
"use strict";

const Playground = (() => {
  // ------------------------------------------------------------------ the weights

  /** window.LLMLAB_MODEL -> {config, chars, get(name) -> Float32Array or null}; throws on a damaged file. */
  function loadModel(raw) {
    if (!raw || raw.format !== "llmlab-web" || !raw.config || !raw.tensors || typeof raw.data !== "string") {
      throw new Error("model-weights.js is not a playground weights file (written by python -m llmlab export-web)");
    }
    const bytes = Uint8Array.from(atob(raw.data), (c) => c.charCodeAt(0));
    if (bytes.length !== 4 * raw.floats) {
      throw new Error(`model-weights.js is damaged: ${bytes.length} bytes of weights, ${4 * raw.floats} expected`);
    }
    const all = new Float32Array(bytes.buffer);  // little-endian, as every browser's platform is
    const tensors = {};
    for (const [name, shape, offset] of raw.tensors) {
      const size = shape.reduce((a, b) => a * b, 1);
      tensors[name] = all.subarray(offset, offset + size);
    }
    const get = (name) => tensors[name] || null;
    const c = raw.config;
    if (!get("transformer.wte.weight") || !get("transformer.wpe.weight") || raw.chars.length !== c.vocab_size) {
      throw new Error("model-weights.js is damaged: the embeddings or the vocabulary are missing");
    }
    return { config: c, chars: Array.from(raw.chars), name: raw.name, get };
  }

  // ------------------------------------------------------------------ the forward pass (llmlab/gpt.py)

  /** y (T, out) = x (T, in) W^T + b, with W (out, in) row-major as in nn.Linear. */
  function linear(x, T, nIn, W, b, nOut) {
    const y = new Float64Array(T * nOut);
    for (let t = 0; t < T; t++) {
      const xo = t * nIn;
      for (let o = 0; o < nOut; o++) {
        let s = b ? b[o] : 0;
        const wo = o * nIn;
        for (let i = 0; i < nIn; i++) s += x[xo + i] * W[wo + i];
        y[t * nOut + o] = s;
      }
    }
    return y;
  }

  /** LayerNorm over C with eps 1e-5 (biased variance, as torch's layer_norm). */
  function layerNorm(x, T, C, w, b) {
    const y = new Float64Array(T * C);
    for (let t = 0; t < T; t++) {
      let mean = 0, v = 0;
      for (let i = 0; i < C; i++) mean += x[t * C + i];
      mean /= C;
      for (let i = 0; i < C; i++) { const d = x[t * C + i] - mean; v += d * d; }
      const inv = 1 / Math.sqrt(v / C + 1e-5);
      for (let i = 0; i < C; i++) y[t * C + i] = (x[t * C + i] - mean) * inv * w[i] + (b ? b[i] : 0);
    }
    return y;
  }

  /** erf, Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7), for the exact GELU. */
  function erf(x) {
    const s = Math.sign(x), a = Math.abs(x), t = 1 / (1 + 0.3275911 * a);
    const p = ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t;
    return s * (1 - p * Math.exp(-a * a));
  }

  /** GELU: GPT-2's tanh approximation ("tanh"), or the exact one ("none"). */
  function gelu(x, approximate) {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      x[i] = approximate === "tanh"
        ? 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))
        : 0.5 * v * (1 + erf(v / Math.SQRT2));
    }
    return x;
  }

  /** Causal multi-head self-attention of block `l`: x (T, C) -> (y (T, C), weights [head] (T*T)). */
  function attention(model, l, x, T) {
    const { n_embd: C, n_head: nh } = model.config;
    const hs = C / nh, p = `transformer.h.${l}.attn.`;
    const q = linear(x, T, C, model.get(p + "q_proj.weight"), model.get(p + "q_proj.bias"), C);
    const k = linear(x, T, C, model.get(p + "k_proj.weight"), model.get(p + "k_proj.bias"), C);
    const v = linear(x, T, C, model.get(p + "v_proj.weight"), model.get(p + "v_proj.bias"), C);
    const y = new Float64Array(T * C), weights = [];
    const scale = 1 / Math.sqrt(hs);
    for (let h = 0; h < nh; h++) {
      const w = new Float64Array(T * T);  // (T queries, T keys), zero above the diagonal
      for (let i = 0; i < T; i++) {
        let max = -Infinity;
        for (let j = 0; j <= i; j++) {  // query i sees keys 0..i
          let s = 0;
          for (let d = 0; d < hs; d++) s += q[i * C + h * hs + d] * k[j * C + h * hs + d];
          w[i * T + j] = s * scale;
          if (w[i * T + j] > max) max = w[i * T + j];
        }
        let sum = 0;
        for (let j = 0; j <= i; j++) { w[i * T + j] = Math.exp(w[i * T + j] - max); sum += w[i * T + j]; }
        for (let j = 0; j <= i; j++) w[i * T + j] /= sum;
        for (let d = 0; d < hs; d++) {  // weights . V, into this head's slice of y
          let s = 0;
          for (let j = 0; j <= i; j++) s += w[i * T + j] * v[j * C + h * hs + d];
          y[i * C + h * hs + d] = s;
        }
      }
      weights.push(w);
    }
    return { y: linear(y, T, C, model.get(p + "out_proj.weight"), model.get(p + "out_proj.bias"), C), weights };
  }

  /** ids (T) -> {logits (V) of the last position, attention [layer][head] (T*T)}. */
  function forward(model, ids) {
    const { n_embd: C, n_layer: L, vocab_size: V, gelu_approximate: approx } = model.config;
    const T = ids.length, wte = model.get("transformer.wte.weight"), wpe = model.get("transformer.wpe.weight");
    let x = new Float64Array(T * C);
    for (let t = 0; t < T; t++) {
      for (let i = 0; i < C; i++) x[t * C + i] = wte[ids[t] * C + i] + wpe[t * C + i];  // token + position
    }
    const attn = [];
    for (let l = 0; l < L; l++) {  // pre-LayerNorm blocks: x + attn(ln_1(x)), then x + mlp(ln_2(x))
      const p = `transformer.h.${l}.`;
      const a = attention(model, l, layerNorm(x, T, C, model.get(p + "ln_1.weight"), model.get(p + "ln_1.bias")), T);
      for (let i = 0; i < x.length; i++) x[i] += a.y[i];
      attn.push(a.weights);
      const n = layerNorm(x, T, C, model.get(p + "ln_2.weight"), model.get(p + "ln_2.bias"));
      const hidden = gelu(linear(n, T, C, model.get(p + "mlp.fc_in.weight"), model.get(p + "mlp.fc_in.bias"), 4 * C), approx);
      const m = linear(hidden, T, 4 * C, model.get(p + "mlp.fc_out.weight"), model.get(p + "mlp.fc_out.bias"), C);
      for (let i = 0; i < x.length; i++) x[i] += m[i];
    }
    const last = layerNorm(x.subarray((T - 1) * C), 1, C, model.get("transformer.ln_f.weight"), model.get("transformer.ln_f.bias"));
    const logits = linear(last, 1, C, wte, null, V);  // the output layer is tied to the token embedding
    return { logits, attn };
  }

  // ------------------------------------------------------------------ the sampler (llmlab/generation.py)

  function softmax(z) {
    const max = Math.max(...z), e = z.map((v) => (v === -Infinity ? 0 : Math.exp(v - max)));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  }

  /** sampling_probs: temperature, then top-k, then top-p (the nucleus), renormalised. */
  function samplingProbs(logits, temperature, topK, topP) {
    let z = Array.from(logits);
    if (temperature === 0) {  // greedy: all mass on the most likely token
      const best = z.indexOf(Math.max(...z));
      return z.map((_, i) => (i === best ? 1 : 0));
    }
    z = z.map((v) => v / temperature);
    if (topK !== null && topK < z.length) {
      const kth = [...z].sort((a, b) => b - a)[topK - 1];  // the k-th largest logit
      z = z.map((v) => (v < kth ? -Infinity : v));
    }
    let probs = softmax(z);
    if (topP !== null && topP < 1) {
      const order = probs.map((_, i) => i).sort((a, b) => probs[b] - probs[a]);
      let before = 0;  // mass of the more likely tokens
      const keep = new Array(probs.length).fill(false);
      for (const i of order) { keep[i] = before < topP; before += probs[i]; }
      probs = probs.map((v, i) => (keep[i] ? v : 0));
      const sum = probs.reduce((a, b) => a + b, 0);
      probs = probs.map((v) => v / sum);
    }
    return probs;
  }

  // ------------------------------------------------------------------ the page

  const VISIBLE = { " ": "␣", "\n": "↵", "\t": "⇥" };
  const show = (c) => VISIBLE[c] || c;
  const BLUES = [[247, 251, 255], [222, 235, 247], [198, 219, 239], [158, 202, 225], [107, 174, 214],
    [66, 146, 198], [33, 113, 181], [8, 81, 156], [8, 48, 107]];  // plotly's "Blues", as the notebook's
  const CHOSEN = "#e4572e", OTHER = "76,120,168";

  function blues(v) {
    const x = Math.min(Math.max(v, 0), 1) * (BLUES.length - 1), i = Math.min(Math.floor(x), BLUES.length - 2), f = x - i;
    const c = BLUES[i].map((a, k) => Math.round(a + f * (BLUES[i + 1][k] - a)));
    return `rgb(${c[0]},${c[1]},${c[2]})`;
  }

  const $ = (id) => document.getElementById(id);
  const state = { model: null, ids: [], result: null, query: null };

  function message(id, text) {
    const el = $(id);
    el.textContent = text || "";
    el.hidden = !text;
  }

  function readSettings() {
    const t = parseFloat($("temperature").value), k = $("top-k").value.trim(), p = $("top-p").value.trim();
    const topK = k === "" ? null : Number(k), topP = p === "" ? null : Number(p);
    if (!(t >= 0) || !Number.isFinite(t)) return { error: "temperature must be a number >= 0 (0: always the most likely character)." };
    if (topK !== null && !(Number.isInteger(topK) && topK >= 1)) return { error: "top-k must be a whole number >= 1, or empty for all characters." };
    if (topP !== null && !(topP > 0 && topP <= 1)) return { error: "top-p must be in (0, 1], or empty (1) for all characters." };
    return { temperature: t, topK, topP };
  }

  /** The prompt -> ids, or a message saying what is wrong (and what the model will read instead). */
  function encode(text, model) {
    if (text.length === 0) return { error: "The prompt is empty: type at least one character." };
    const chars = Array.from(text), unknown = [...new Set(chars.filter((c) => !model.index.has(c)))];
    if (unknown.length) {
      return { error: `Not in the model's vocabulary: ${unknown.map((c) => JSON.stringify(c)).join(", ")}. ` +
        `It knows ${model.chars.length} characters (letters, digits, punctuation, space, newline); remove or replace these.` };
    }
    const bs = model.config.block_size;
    const ids = chars.map((c) => model.index.get(c));
    if (ids.length > bs) {
      return { ids: ids.slice(-bs), note: `The prompt has ${ids.length} characters, longer than the model's context ` +
        `(${bs}): the model reads only the last ${bs}, as generate() does.` };
    }
    return { ids };
  }

  function update() {
    const model = state.model;
    if (!model) return;
    const settings = readSettings();
    message("settings-message", settings.error);
    const enc = encode($("prompt").value, model);
    message("prompt-message", enc.error || enc.note);
    if (enc.error || settings.error) {
      $("sample").disabled = true;
      document.body.dataset.state = "error";
      return;
    }
    state.ids = enc.ids;
    const out = forward(model, enc.ids);
    const modelProbs = samplingProbs(out.logits, 1, null, null);
    const probs = samplingProbs(out.logits, settings.temperature, settings.topK, settings.topP);
    const afterK = samplingProbs(out.logits, settings.temperature, settings.topK, null);
    const count = (ps) => ps.filter((v) => v > 0).length;  // kept tokens: a prefix of the bars' order
    const cuts = settings.temperature === 0 ? [] : [
      settings.topK !== null && count(afterK) < afterK.length ? [count(afterK), `top-k cut (k = ${settings.topK})`, "#6a51a3"] : null,
      settings.topP !== null && settings.topP < 1 ? [count(probs), `top-p cut (p = ${settings.topP})`, CHOSEN] : null,
    ].filter(Boolean);
    state.result = { logits: Array.from(out.logits), modelProbs, probs, attn: out.attn, cuts };
    window.playgroundState = { ids: enc.ids.slice(), logits: state.result.logits, probs, settings };
    if (state.query === null || state.query >= enc.ids.length) state.query = enc.ids.length - 1;
    $("sample").disabled = false;
    drawTokens();
    fillQuery();
    drawAttention();
    drawBars();
    document.body.dataset.state = "ready";
  }

  function drawTokens() {
    const box = $("tokens");
    box.replaceChildren(...state.ids.map((id, t) => {
      const chip = document.createElement("span");
      chip.className = "pg-token" + (t === state.query ? " pg-chosen" : "");
      chip.title = `position ${t}, id ${id}`;
      chip.innerHTML = `<span></span><small>${id}</small>`;
      chip.firstChild.textContent = show(state.model.chars[id]);
      chip.onclick = () => { state.query = t; drawTokens(); fillQuery(); drawAttention(); };
      return chip;
    }));
  }

  function fillQuery() {
    const sel = $("query");
    sel.replaceChildren(...state.ids.map((id, t) => new Option(`${t}: ${show(state.model.chars[id])}`, t)));
    sel.value = state.query;
  }

  function drawAttention() {
    const T = state.ids.length, l = Number($("layer").value), h = Number($("head").value);
    const w = state.result.attn[l][h], labels = state.ids.map((id) => show(state.model.chars[id]));
    // heatmap: queries on rows, keys on columns, labels on both axes
    const canvas = $("heatmap"), margin = 22, size = 360, cell = (size - margin) / T;
    const ratio = window.devicePixelRatio || 1;
    canvas.width = size * ratio; canvas.height = size * ratio;
    const g = canvas.getContext("2d");
    g.setTransform(ratio, 0, 0, ratio, 0, 0);
    g.fillStyle = "white"; g.fillRect(0, 0, size, size);
    for (let i = 0; i < T; i++) {
      for (let j = 0; j < T; j++) {
        g.fillStyle = blues(w[i * T + j]);
        g.fillRect(margin + j * cell, margin + i * cell, Math.ceil(cell), Math.ceil(cell));
      }
    }
    g.strokeStyle = CHOSEN; g.lineWidth = 2;
    g.strokeRect(margin, margin + state.query * cell, T * cell, cell);
    const every = Math.max(1, Math.ceil(T / 30));
    g.fillStyle = "#333"; g.font = `${Math.min(12, Math.max(8, cell))}px monospace`; g.textAlign = "center";
    for (let t = 0; t < T; t += every) {
      g.fillText(labels[t], margin + (t + 0.5) * cell, margin - 6);
      g.fillText(labels[t], margin / 2, margin + (t + 0.7) * cell);
    }
    canvas.onclick = (e) => {
      const r = canvas.getBoundingClientRect(), y = (e.clientY - r.top) * (size / r.height) - margin;
      if (y >= 0) { state.query = Math.min(T - 1, Math.floor(y / cell)); drawTokens(); fillQuery(); drawAttention(); }
    };
    // line view: the query on the left, every key on the right, thickness and opacity = weight
    const svg = $("lines"), rows = Math.min(T, 40), first = Math.max(0, state.query - rows + 1);
    const height = 360, step = (height - 20) / rows, y = (t) => 14 + (t - first) * step;
    let html = "";
    for (let j = first; j <= state.query; j++) {
      const v = w[state.query * T + j];
      if (v > 0.005) {
        html += `<line x1="40" y1="${y(state.query)}" x2="220" y2="${y(j)}" stroke="rgb(${OTHER})" ` +
          `stroke-opacity="${(0.15 + 0.85 * v).toFixed(3)}" stroke-width="${(0.5 + 8 * v).toFixed(2)}"><title>${v.toFixed(3)}</title></line>`;
      }
    }
    const esc = (s) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
    for (let t = first; t < first + rows && t < T; t++) {
      const color = t === state.query ? CHOSEN : "#333";
      html += `<text x="34" y="${y(t) + 4}" text-anchor="end" fill="${color}" font-family="monospace" font-size="12">${esc(labels[t])}</text>`;
      if (t <= state.query) html += `<text x="226" y="${y(t) + 4}" font-family="monospace" font-size="12" fill="#333">${esc(labels[t])}</text>`;
    }
    svg.innerHTML = html;
  }

  function drawBars() {
    const { modelProbs, probs, cuts } = state.result, chars = state.model.chars;
    const top = modelProbs.map((_, i) => i).sort((a, b) => modelProbs[b] - modelProbs[a]).slice(0, 20);
    const max = Math.max(...top.map((i) => Math.max(modelProbs[i], probs[i])));
    const box = $("bars");
    box.replaceChildren();
    for (const i of top) {
      const c = document.createElement("span"); c.className = "pg-char"; c.textContent = show(chars[i]);
      const bar = document.createElement("span"); bar.className = "pg-bar";
      bar.innerHTML = `<div class="pg-model" style="width:${(100 * modelProbs[i] / max).toFixed(2)}%"></div>` +
        `<div class="pg-sampled" style="width:${(100 * probs[i] / max).toFixed(2)}%"></div>`;
      const p = document.createElement("span"); p.className = "pg-p"; p.textContent = probs[i].toFixed(3);
      p.title = `model ${modelProbs[i].toFixed(4)}, sampled from ${probs[i].toFixed(4)}`;
      box.append(c, bar, p);
      for (const [kept, text, color] of cuts) {  // the sampler's cut-offs, drawn as in the notebook's explorer
        if (kept === box.querySelectorAll(".pg-p").length) {
          const line = document.createElement("span");
          line.className = "pg-cut"; line.textContent = text; line.style.color = color; line.style.borderColor = color;
          box.append(line);
        }
      }
    }
  }

  function sampleNext() {
    if (!state.result) return;
    const probs = state.result.probs;
    let r = Math.random(), pick = probs.length - 1;
    for (let i = 0; i < probs.length; i++) { r -= probs[i]; if (r < 0 && probs[i] > 0) { pick = i; break; } }
    while (probs[pick] === 0 && pick > 0) pick--;  // rounding at the end of the cumulative sum
    const prompt = $("prompt");
    prompt.value += state.model.chars[pick];
    state.query = null;
    update();
  }

  function fail(text) {
    const el = $("load-status");
    el.textContent = text;
    el.className = "pg-status pg-error";
    el.setAttribute("role", "alert");
    $("sample").disabled = true;
    document.body.dataset.state = "failed";
  }

  function start() {
    const began = performance.now();
    if (window.LLMLAB_WEIGHTS_MISSING || !window.LLMLAB_MODEL) {
      fail("The model's weights could not be loaded: playground/model-weights.js is missing or damaged. " +
        "Rebuild the site (make site), or write them again with python -m llmlab export-web --out <folder> --force.");
      return;
    }
    try {
      state.model = loadModel(window.LLMLAB_MODEL);
    } catch (e) {
      fail(`The model's weights could not be read: ${e.message}. Write them again with python -m llmlab export-web --force.`);
      return;
    }
    state.model.index = new Map(state.model.chars.map((c, i) => [c, i]));
    // another model's vocabulary may lack some of the default prompt's characters: keep the ones it knows
    const known = Array.from($("prompt").value).filter((ch) => state.model.index.has(ch)).join("");
    $("prompt").value = known.trim() ? known : state.model.chars[state.model.chars.length - 1];
    const c = state.model.config;
    $("layer").replaceChildren(...Array.from({ length: c.n_layer }, (_, i) => new Option(`${i}`, i)));
    $("head").replaceChildren(...Array.from({ length: c.n_head }, (_, i) => new Option(`${i}`, i)));
    $("prompt").addEventListener("input", () => { state.query = null; update(); });  // a new prompt: query = its last token
    for (const id of ["temperature", "top-k", "top-p"]) $(id).addEventListener("input", update);
    $("layer").onchange = drawAttention; $("head").onchange = drawAttention;
    $("query").onchange = () => { state.query = Number($("query").value); drawTokens(); drawAttention(); };
    $("sample").onclick = sampleNext;
    update();
    const ms = performance.now() - began;
    window.playgroundLoadMs = ms;
    $("load-status").textContent = `${state.model.name}: ${c.n_layer} layers × ${c.n_head} heads, width ${c.n_embd}, ` +
      `context ${c.block_size}, ${c.vocab_size} characters; ready in ${Math.round(ms)} ms.`;
  }

  return { start, forward, samplingProbs, loadModel };
})();
