/* hmtir leaderboard: sortable, filterable table over window.HMTIR_LEADERBOARD (data.js). No dependencies. */
(function () {
  "use strict";
  var DATA = window.HMTIR_LEADERBOARD;
  var METRICS = DATA.metric_order;  // from each metric's MetricMeta (leaderboard=True), in column order
  var state = { benchmark: null, tab: "overall", sort: null, degradation: "all", tier: "all", kind: "all", text: "" };
  var $ = function (id) { return document.getElementById(id); };

  function bench() { return DATA.benchmarks.filter(function (b) { return b.key === state.benchmark; })[0]; }
  function visibleSubsets() {
    return bench().subsets.filter(function (s) {
      return state.degradation === "all" || DATA.subsets[s].degradation === state.degradation;
    });
  }
  function lowerBetter(metric) { return DATA.metrics[metric] ? DATA.metrics[metric].lower_better : false; }

  // Column: key, label, value(row), kind ("num" | "text"), better ("asc" | "desc"), render(row) -> html
  function columns() {
    var cols = [];
    var tab = state.tab;
    cols.push({ key: "rank", label: tab === "overall" ? "Rank" : "Rank", better: "asc",
      value: function (r) { return tab === "overall" ? r.overall_rank : (r.subsets[tab] ? r.subsets[tab].rank : null); },
      render: function (r, v) { return v == null ? "" : '<span class="rank' + (v === 1 ? " r1" : "") + '">' + v + "</span>"; } });
    cols.push({ key: "method", label: "Method", text: true, better: "asc", value: function (r) { return r.display.toLowerCase(); },
      render: function (r) { return '<a href="' + r.detail + '">' + esc(r.display) + "</a>"; } });
    cols.push({ key: "kind", label: "Kind", text: true, better: "asc", value: function (r) { return r.kind; },
      render: function (r) { return '<span class="kind">' + r.kind + "</span>"; } });
    cols.push({ key: "trust", label: "Tier", text: true, better: "asc", value: function (r) { return r.trust; },
      render: function (r) { return '<span class="tier tier-' + r.trust + '">' + r.trust + "</span>"; } });
    if (tab === "overall") {
      var subsets = visibleSubsets();
      cols.push(num("mean_rank", "Mean rank", "asc", function (r) { return r.mean_rank; }, 2));
      cols.push(num("avg_psnr", "Avg PSNR", "desc", function (r) { return r.avg_psnr; }, 2, true));
      cols.push(num("avg_ssim", "Avg SSIM", "desc", function (r) { return r.avg_ssim; }, 4));
      subsets.forEach(function (s) {
        var m = DATA.subsets[s].primary;
        cols.push(num("s:" + s, s.split("/")[1] + " " + m.toUpperCase(), lowerBetter(m) ? "asc" : "desc",
          function (r) { return r.subsets[s] ? r.subsets[s][m] : null; }, DATA.metrics[m].decimals));
      });
      cols.push(num("seconds", "s/img", "asc", function (r) { return r.seconds; }, 3));
    } else {
      var primary = DATA.subsets[tab].primary;
      METRICS.forEach(function (m) {
        cols.push(num(m, m.toUpperCase() + (lowerBetter(m) ? " ↓" : " ↑"), lowerBetter(m) ? "asc" : "desc",
          function (r) { return r.subsets[tab] ? r.subsets[tab][m] : null; }, DATA.metrics[m].decimals, m === primary));
      });
      if (bench().paired_vs) {  // paired Δ of the ranking metric vs the reference row, on the same frames
        var pairedCell = function (r) { return r.paired[tab] && r.paired[tab][primary] && r.paired[tab][primary].text ? r.paired[tab][primary] : null; };
        cols.push({ key: "delta", label: "Δ " + primary.toUpperCase(),
          blank: function (r) { return r.reference ? '<span class="muted">reference</span>' : null; },
          better: lowerBetter(primary) ? "asc" : "desc",
          value: function (r) { var c = pairedCell(r); return c ? c.mean_difference : null; },
          render: function (r) {
            var c = pairedCell(r);
            var tip = Math.round(100 * c.confidence) + "% CI [" + c.ci_low.toFixed(DATA.metrics[primary].decimals) + ", " +
              c.ci_high.toFixed(DATA.metrics[primary].decimals) + "], better on " + c.wins + " / worse on " + c.losses + " of " + c.frames + " frames";
            return '<span class="delta" title="' + esc(tip) + '">' + esc(c.text) + "</span>";
          } });
      }
      cols.push(num("seconds", "s/img", "asc", function (r) { return r.subsets[tab] ? r.subsets[tab].seconds : null; }, 3));
    }
    cols.push({ key: "parameters", label: "Params", better: "asc", value: function (r) { return r.parameters; },
      render: function (r, v) { return v == null ? "" : params(v); } });
    return cols;
  }
  function num(key, label, better, value, decimals, primary) {
    return { key: key, label: label, better: better, value: value, primary: !!primary,
      render: function (r, v) { return v == null ? "" : v.toFixed(decimals); } };
  }
  function params(v) { return v >= 1e6 ? (v / 1e6).toFixed(1) + "M" : v >= 1e3 ? (v / 1e3).toFixed(1) + "k" : String(v); }
  function esc(s) { return String(s).replace(/[&<>"']/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; }); }

  function rows() {
    var text = state.text.trim().toLowerCase();
    return DATA.rows.filter(function (r) {
      return r.benchmark === state.benchmark &&
        (state.tier === "all" || r.trust === state.tier) &&
        (state.kind === "all" || r.kind === state.kind) &&
        (!text || r.display.toLowerCase().indexOf(text) >= 0 || r.method.indexOf(text) >= 0);
    });
  }

  function compare(col, dir) {
    return function (a, b) {
      var va = col.value(a), vb = col.value(b);
      if (va == null && vb == null) return a.display.localeCompare(b.display);
      if (va == null) return 1;  // empty cells always sink, whatever the direction
      if (vb == null) return -1;
      var c = col.text ? String(va).localeCompare(String(vb)) : va - vb;
      if (c === 0) return a.display.localeCompare(b.display);
      return dir === "asc" ? c : -c;
    };
  }
  function defaultOrder(cols) {
    var rankCol = cols[0];
    return function (a, b) {  // groups in their order (measured, user, reported), then by rank within one
      if (a.group !== b.group) return DATA.group_order.indexOf(a.group) - DATA.group_order.indexOf(b.group);
      return compare(rankCol, "asc")(a, b);
    };
  }

  function render() {
    var b = bench();
    $("bench-description").textContent = b.description;
    var subsets = visibleSubsets();
    if (state.tab !== "overall" && subsets.indexOf(state.tab) < 0) state.tab = "overall";
    var tabs = $("tabs");
    tabs.innerHTML = "";
    ["overall"].concat(b.subsets).forEach(function (s) {
      var btn = document.createElement("button");
      btn.type = "button";
      btn.setAttribute("role", "tab");
      btn.dataset.subset = s;
      btn.textContent = s === "overall" ? "Overall" : s;
      btn.hidden = s !== "overall" && subsets.indexOf(s) < 0;
      btn.setAttribute("aria-selected", String(s === state.tab));
      btn.addEventListener("click", function () { state.tab = s; state.sort = null; render(); });
      tabs.appendChild(btn);
    });
    var cols = columns();
    var sortCol = state.sort && cols.filter(function (c) { return c.key === state.sort.key; })[0];
    var list = rows().slice().sort(sortCol ? compare(sortCol, state.sort.dir) : defaultOrder(cols));
    var head = "<tr>" + cols.map(function (c) {
      var aria = sortCol && c.key === sortCol.key ? ' aria-sort="' + (state.sort.dir === "asc" ? "ascending" : "descending") + '"' : "";
      var cls = "sortable" + (c.text || c.key === "method" ? "" : " num");
      return '<th class="' + cls + '" data-key="' + esc(c.key) + '"' + aria + ' title="sort">' + esc(c.label) + "</th>";
    }).join("") + "</tr>";
    $("board").tHead.innerHTML = head;
    var body = list.map(function (r) {
      return '<tr data-method="' + esc(r.method) + '" data-trust="' + r.trust + '" data-group="' + r.group + '">' + cols.map(function (c) {
        var v = c.value(r);
        var blank = v == null && c.blank ? c.blank(r) : null;  // an empty cell that has something to say
        var cls = (c.text || c.key === "method" ? "" : "num") + (c.primary ? " primary" : "") + (v == null && !blank ? " empty" : "");
        return '<td class="' + cls.trim() + '" data-key="' + esc(c.key) + '">' + (v == null ? blank || "" : c.render(r, v)) + "</td>";
      }).join("") + "</tr>";
    }).join("");
    $("board").tBodies[0].innerHTML = body;
    Array.prototype.forEach.call($("board").tHead.querySelectorAll("th"), function (th) {
      th.addEventListener("click", function () {
        var col = cols.filter(function (c) { return c.key === th.dataset.key; })[0];
        var dir = state.sort && state.sort.key === col.key ? (state.sort.dir === "asc" ? "desc" : "asc") : col.better;
        state.sort = { key: col.key, dir: dir };
        render();
      });
    });
    $("legend").textContent = state.tab === "overall"
      ? "Mean rank over every subset of the group; Avg PSNR/SSIM over the paired subsets. A method missing a subset gets an empty cell, not an average of what it has. Ties share a rank."
      : "Ranked by " + DATA.subsets[state.tab].primary.toUpperCase() + " (bold). Empty cell: not measured / not reported." +
        (b.paired_vs ? " Δ: paired difference vs " + b.paired_vs + " (the reference row). " + DATA.paired_legend.replace(/baseline/g, "reference") + "." : "");
    Array.prototype.forEach.call(document.querySelectorAll(".plots figure"), function (f) {
      f.hidden = f.dataset.benchmark !== state.benchmark;
    });
  }

  function init() {
    var select = $("benchmark");
    DATA.benchmarks.forEach(function (b) {
      var opt = document.createElement("option");
      opt.value = b.key;
      opt.textContent = b.title + " (" + b.key + ")";
      select.appendChild(opt);
    });
    state.benchmark = DATA.benchmarks[0].key;
    select.value = state.benchmark;
    select.addEventListener("change", function () { state.benchmark = select.value; state.tab = "overall"; state.sort = null; render(); });
    [["filter-degradation", "degradation"], ["filter-tier", "tier"], ["filter-kind", "kind"]].forEach(function (p) {
      $(p[0]).addEventListener("change", function (e) { state[p[1]] = e.target.value; render(); });
    });
    $("filter-text").addEventListener("input", function (e) { state.text = e.target.value; render(); });
    render();
    document.body.dataset.ready = "true";
  }
  init();
})();
