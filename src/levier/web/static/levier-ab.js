/*! levier-ab.js — Levier A/B snippet for landing pages. Vanilla JS, no dependency, no CDN.
 *
 * Usage (one tag per experiment, in the page <head>):
 *
 *   <script src="https://levier.example.com/api/v1/experiments/snippet.js"
 *           data-experiment="hero-2026-10" data-hide-ms="800" async></script>
 *
 * Attributes:
 *   data-experiment   experiment key (required; the protocol must say web.enabled: true)
 *   data-api          Levier base URL (default: the origin this script was loaded from)
 *   data-unit-id      unit id to use (e.g. a lead id printed by your CMS); default: a random
 *                     visitor id kept in localStorage ("levier_uid")
 *   data-unit-param   read the unit id from this query-string parameter (e.g. "lid")
 *   data-form         CSS selector of the forms whose submission is a conversion (default: form)
 *   data-hide-ms      hide the page until the variant is applied, at most this many ms (0: off)
 *
 * What it does: GET /api/v1/experiments/{key}/variant?unit_id=…, applies the arm's changes
 * ({selector, action: text|attr|css|hide, name?, value?}), posts an "exposure" event, and a
 * "conversion" event when a matching form is submitted (POST /api/v1/events, text/plain JSON
 * so that no CORS preflight is needed; sendBeacon survives the page change).
 * window.levierAB[key] = {variant, unitId, track(type)}; the document receives a
 * "levier:variant" event with the same detail.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) { return; }
  var key = script.getAttribute("data-experiment");
  if (!key) { return; }
  var api = (script.getAttribute("data-api") || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var hideMs = parseInt(script.getAttribute("data-hide-ms") || "0", 10) || 0;
  var formSelector = script.getAttribute("data-form") || "form";
  var registry = (window.levierAB = window.levierAB || {});

  function randomId() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var s = "";
    for (var i = 0; i < 32; i++) { s += Math.floor(Math.random() * 16).toString(16); }
    return s;
  }

  function unitId() {
    var given = script.getAttribute("data-unit-id");
    if (given) { return given; }
    var param = script.getAttribute("data-unit-param");
    if (param) {
      var fromUrl = new URLSearchParams(location.search).get(param);
      if (fromUrl) { return fromUrl; }
    }
    var id = null;
    try { id = localStorage.getItem("levier_uid"); } catch (e) { /* storage blocked */ }
    if (!id) {
      id = randomId();
      try { localStorage.setItem("levier_uid", id); } catch (e) { /* keep it for this page only */ }
    }
    return id;
  }

  var hideStyle = null;
  function reveal() {
    if (hideStyle && hideStyle.parentNode) { hideStyle.parentNode.removeChild(hideStyle); }
    hideStyle = null;
  }
  if (hideMs > 0) {
    hideStyle = document.createElement("style");
    hideStyle.textContent = "html{visibility:hidden!important}";
    (document.head || document.documentElement).appendChild(hideStyle);
    setTimeout(reveal, hideMs);
  }

  function disableFields(el) {
    var fields = el.matches && el.matches("input,select,textarea,button") ? [el] : [];
    var inner = el.querySelectorAll ? el.querySelectorAll("input,select,textarea") : [];
    for (var i = 0; i < inner.length; i++) { fields.push(inner[i]); }
    for (var j = 0; j < fields.length; j++) { fields[j].disabled = true; }
  }

  function applyOne(change) {
    var nodes;
    try { nodes = document.querySelectorAll(change.selector); } catch (e) { return 0; }
    for (var i = 0; i < nodes.length; i++) {
      var el = nodes[i];
      if (change.action === "text") {
        el.textContent = change.value;
      } else if (change.action === "attr") {
        if (/^on/i.test(change.name) || /^style$/i.test(change.name)) { continue; }
        el.setAttribute(change.name, change.value);
      } else if (change.action === "css") {
        el.style.setProperty(change.name, change.value);
      } else if (change.action === "hide") {
        el.style.setProperty("display", "none", "important");
        el.setAttribute("hidden", "");
        disableFields(el);  // a hidden field is neither required nor submitted
      }
    }
    return nodes.length;
  }

  function applyAll(changes) {
    for (var i = 0; i < changes.length; i++) { applyOne(changes[i]); }
  }

  function send(payload) {
    var body = JSON.stringify(payload);
    var url = api + "/api/v1/events";
    if (navigator.sendBeacon) {
      try {
        if (navigator.sendBeacon(url, new Blob([body], { type: "text/plain" }))) { return; }
      } catch (e) { /* fall back to fetch */ }
    }
    try {
      fetch(url, { method: "POST", body: body, headers: { "Content-Type": "text/plain" },
                   keepalive: true, mode: "cors", credentials: "omit" });
    } catch (e) { /* never break the page */ }
  }

  function utm() {
    var q = new URLSearchParams(location.search), out = {};
    ["utm_source", "utm_medium", "utm_campaign"].forEach(function (k) { if (q.get(k)) { out[k] = q.get(k); } });
    return out;
  }

  function onReady(fn) {
    if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", fn); } else { fn(); }
  }

  var unit = unitId();
  var url = api + "/api/v1/experiments/" + encodeURIComponent(key) + "/variant?unit_id=" + encodeURIComponent(unit);
  fetch(url, { mode: "cors", credentials: "omit", cache: "no-store" })
    .then(function (r) { return r.ok ? r.json() : null; })
    .then(function (answer) {
      if (!answer || !answer.variant) { reveal(); return; }
      var base = { experiment: key, unit_id: unit, page: location.pathname, referrer: document.referrer || null };
      var extra = utm();
      for (var k in extra) { base[k] = extra[k]; }
      var track = function (type) {
        var ev = { type: type };
        for (var k2 in base) { ev[k2] = base[k2]; }
        send(ev);
      };
      var detail = { experiment: key, variant: answer.variant, unitId: unit, track: track };
      registry[key] = detail;
      onReady(function () {
        applyAll(answer.changes || []);
        reveal();
        track("exposure");
        document.addEventListener("submit", function (e) {
          var form = e.target;
          if (form && form.matches && form.matches(formSelector)) { track("conversion"); }
        }, true);
        document.dispatchEvent(new CustomEvent("levier:variant", { detail: detail }));
      });
    })
    .catch(function () { reveal(); });
})();
