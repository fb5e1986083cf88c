// Thunderline live dashboard: reads /v1/dashboard/stream (server-sent events over fetch, so the
// API key travels in the Authorization header) and draws numbers, sparklines and bar charts as SVG.
// No third-party code, no network beyond this server.
"use strict";
(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  const HISTORY = 120;
  const seriesHist = {};
  let events = 0;

  function get(obj, path) {
    return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
  }

  function fmt(v, kind) {
    if (v === null || v === undefined) return "—";
    if (typeof v !== "number") return String(v);
    switch (kind) {
      case "int": return Math.round(v).toLocaleString("en-US");
      case "rate": return v >= 100 ? Math.round(v).toLocaleString("en-US") : v.toFixed(1);
      case "s": return v < 10 ? v.toFixed(2) + " s" : Math.round(v) + " s";
      case "ms": return Math.round(v).toLocaleString("en-US") + " ms";
      case "pct": return (100 * v).toFixed(1) + " %";
      case "f3": return v.toFixed(3);
      default: return String(v);
    }
  }

  function spark(svg, values) {
    const w = svg.clientWidth || 200, h = svg.clientHeight || 36;
    const pts = values.filter((v) => typeof v === "number");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    if (pts.length < 2) return;
    const lo = Math.min(...pts), hi = Math.max(...pts), span = hi - lo || 1;
    const step = w / (HISTORY - 1), off = HISTORY - values.length;
    const line = document.createElementNS(SVGNS, "polyline");
    line.setAttribute("points", values.map((v, i) => typeof v === "number"
      ? `${((off + i) * step).toFixed(1)},${(h - 2 - ((v - lo) / span) * (h - 4)).toFixed(1)}` : null)
      .filter(Boolean).join(" "));
    svg.appendChild(line);
  }

  function bars(svg, emptyEl, items, label, value, cls) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    emptyEl.hidden = items.length > 0;
    if (!items.length) return;
    const shown = items.slice(0, 12);
    const w = svg.clientWidth || 400, rowH = 18, labelW = 150;
    svg.setAttribute("height", String(shown.length * rowH + 4));
    const maxAbs = Math.max(...shown.map((d) => Math.abs(value(d) || 0)), 1e-12);
    const zero = labelW + (shown.some((d) => value(d) < 0) ? (w - labelW - 60) / 2 : 0);
    const scale = (w - labelW - 60) / (shown.some((d) => value(d) < 0) ? 2 : 1) / maxAbs;
    shown.forEach((d, i) => {
      const v = value(d) || 0, y = i * rowH + 2;
      const t = document.createElementNS(SVGNS, "text");
      t.setAttribute("x", "0"); t.setAttribute("y", String(y + 12)); t.textContent = label(d);
      const r = document.createElementNS(SVGNS, "rect");
      r.setAttribute("x", String(v >= 0 ? zero : zero + v * scale)); r.setAttribute("y", String(y + 2));
      r.setAttribute("width", String(Math.max(1, Math.abs(v) * scale))); r.setAttribute("height", String(rowH - 5));
      r.setAttribute("class", cls(d, v));
      const n = document.createElementNS(SVGNS, "text");
      n.setAttribute("x", String(Math.max(zero, zero + v * scale) + 4)); n.setAttribute("y", String(y + 12));
      n.textContent = v.toFixed(4);
      svg.append(t, r, n);
    });
  }

  function sources(rows) {
    const body = document.querySelector("#sources tbody");
    const num = (v, f) => (typeof v === "number" ? fmt(v, f) : "—");
    body.replaceChildren(...rows.map((r) => {
      const tr = document.createElement("tr");
      const edgar = r.source === "edgar";
      const cells = [r.source, r.key,
        edgar ? num(r.lag_s, "s") : num(r.lag_ms, "ms"),
        num(r.throughput, "rate") + (edgar ? " filings/s" : " frames/s"),
        num(r.errors, "int"),
        edgar ? num(r.throttled, "int") : num(r.gaps, "int"),
        edgar ? num(r.queue_depth, "int") : num(r.reconnects, "int"),
        num(r.age_s, "s") + " ago"];
      cells.forEach((c) => { const td = document.createElement("td"); td.textContent = c; tr.append(td); });
      return tr;
    }));
    document.getElementById("sources-empty").hidden = rows.length > 0;
  }

  function render(snap) {
    events += 1;
    document.getElementById("tenant").textContent = "tenant " + snap.tenant;
    document.querySelectorAll("[data-metric]").forEach((el) => {
      el.textContent = fmt(get(snap, el.dataset.metric), el.dataset.fmt);
    });
    document.querySelectorAll("svg[data-series]").forEach((svg) => {
      const k = svg.dataset.series;
      const h = (seriesHist[k] = seriesHist[k] || []);
      const v = get(snap, k);
      h.push(typeof v === "number" ? v : null);
      if (h.length > HISTORY) h.shift();
      spark(svg, h);
    });
    bars(document.getElementById("drift"), document.getElementById("drift-empty"), snap.drift || [],
      (d) => d.feature, (d) => d.psi, (d) => (d.status === "fail" ? "fail" : d.status === "warn" ? "warn" : "pos"));
    bars(document.getElementById("pnl"), document.getElementById("pnl-empty"), snap.pnl || [],
      (d) => d.expert, (d) => d.pnl, (d, v) => (v < 0 ? "neg" : "pos"));
    sources(snap.sources || []);
    document.getElementById("updated").textContent = new Date(snap.ts_us / 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC";
    document.getElementById("events").textContent = String(events);
    document.body.dataset.events = String(events);
  }

  function setStatus(on, text) {
    const el = document.getElementById("status");
    el.className = "status " + (on ? "on" : "off");
    el.textContent = text;
  }

  async function stream(key) {
    const interval = new URLSearchParams(location.search).get("interval") || "1";
    for (;;) {
      try {
        const res = await fetch("/v1/dashboard/stream?interval=" + encodeURIComponent(interval), {
          headers: { Authorization: "Bearer " + key }, cache: "no-store" });
        if (res.status === 401 || res.status === 403) {
          setStatus(false, "key refused");
          document.getElementById("login").hidden = false;
          return;
        }
        if (!res.ok || !res.body) throw new Error("HTTP " + res.status);
        setStatus(true, "live");
        const reader = res.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, cut); buf = buf.slice(cut + 2);
            let ev = "message", data = "";
            block.split("\n").forEach((line) => {
              if (line.startsWith("event:")) ev = line.slice(6).trim();
              else if (line.startsWith("data:")) data += line.slice(5).trim();
            });
            if (ev === "snapshot" && data) render(JSON.parse(data));
          }
        }
      } catch (e) {
        setStatus(false, "reconnecting");
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }

  function start() {
    const frag = new URLSearchParams(location.hash.slice(1));
    let key = frag.get("key") || sessionStorage.getItem("thunderline.key");
    const form = document.getElementById("login");
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const k = document.getElementById("key").value.trim();
      if (k) { sessionStorage.setItem("thunderline.key", k); form.hidden = true; stream(k); }
    });
    if (key) {
      sessionStorage.setItem("thunderline.key", key);
      window.history.replaceState(null, "", location.pathname + location.search);
      stream(key);
    } else {
      form.hidden = false;
      setStatus(false, "no key");
    }
  }
  start();
})();
