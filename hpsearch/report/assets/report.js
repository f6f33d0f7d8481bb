/* hpsearch HTML report: hover a mark (or a table row) to see its trial; every mark of that trial in the
   stage lights up. Text goes in through textContent only: nothing from a results file is parsed as HTML. */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("hp-data").textContent);
  var tip = document.createElement("div");
  tip.className = "tip";
  tip.setAttribute("role", "tooltip");
  tip.hidden = true;
  document.body.appendChild(tip);
  var lit = [];

  function line(text, cls) {
    var d = document.createElement("div");
    if (cls) d.className = cls;
    d.textContent = text;
    tip.appendChild(d);
  }
  function acc(v) { return v === null || v === undefined ? "-" : Number(v).toFixed(4); }
  function place(ev) {
    var w = tip.offsetWidth, h = tip.offsetHeight, x = ev.clientX + 14, y = ev.clientY + 14;
    if (x + w > window.innerWidth - 4) x = Math.max(4, ev.clientX - w - 14);
    if (y + h > window.innerHeight - 4) y = Math.max(4, ev.clientY - h - 14);
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }
  function unlight() {
    lit.forEach(function (el) { el.classList.remove("hl"); });
    lit = [];
  }
  function target(ev) {
    var el = ev.target.closest ? ev.target.closest("[data-t]") : null;
    var host = el ? el.closest("[data-s]") : null;
    return host ? { el: el, s: host.getAttribute("data-s"), t: el.getAttribute("data-t") } : null;
  }
  function show(hit, ev) {
    var stage = data[Number(hit.s)], t = stage && stage.trials[Number(hit.t)];
    if (!t) return;
    tip.textContent = "";
    line("trial #" + t.n + " \u00b7 " + t.st, "tip-head st-" + t.st);
    line(stage.label, "tip-stage");
    t.p.forEach(function (kv) { line(kv[0] + " = " + kv[1]); });
    line("val_acc " + acc(t.v) + (t.tr !== null && t.tr !== undefined ? "  \u00b7  train_acc " + acc(t.tr) : ""));
    if (t.sc !== null && t.sc !== undefined) line("smoothed " + acc(t.sc));
    line("epochs " + t.e);
    t.d.forEach(function (d) { line(d, "tip-diag"); });
    tip.hidden = false;
    place(ev);
    unlight();
    var sel = '[data-s="' + Number(hit.s) + '"] [data-t="' + Number(hit.t) + '"]';
    document.querySelectorAll(sel).forEach(function (el) { el.classList.add("hl"); lit.push(el); });
  }
  document.addEventListener("mouseover", function (ev) {
    var hit = target(ev);
    if (hit) show(hit, ev);
  });
  document.addEventListener("mousemove", function (ev) { if (!tip.hidden) place(ev); });
  document.addEventListener("mouseout", function (ev) {
    var hit = target(ev);
    if (hit && !(ev.relatedTarget && hit.el.contains(ev.relatedTarget))) {
      tip.hidden = true;
      unlight();
    }
  });
  document.documentElement.setAttribute("data-ready", "1");
})();
