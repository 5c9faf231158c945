(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("tracer-data").textContent);
  var g = data.graph;
  cytoscape.use(cytoscapeDagre);
  var byId = {}, edgeById = {}, foldById = {}, foldOf = {}, folded = {};
  g.nodes.forEach(function (n) { byId[n.id] = n; });
  g.edges.forEach(function (e) { edgeById[e.id] = e; });
  g.folds.forEach(function (f) {
    foldById[f.id] = f; folded[f.id] = true;
    f.members.forEach(function (m) { foldOf[m] = f.id; });
  });
  var HUGE = 10n ** 90n;  // "not a bottleneck": Bitcoin's side (no ETH figure on its edges)

  // Amounts travel as exact base units (text); sums are BigInt; only the chart's labels are shortened
  function groupDigits(s) { return s.replace(/\B(?=(\d{3})+(?!\d))/g, ","); }
  function shortAmount(units, decimals) {
    var u = BigInt(units), scale = 10n ** BigInt(decimals), whole = u / scale, frac = u % scale;
    var digits = decimals ? frac.toString().padStart(decimals, "0") : "";
    var keep = whole === 0n && frac > 0n ? digits.search(/[1-9]/) + 3 : 4;  // small amounts: 3 significant digits
    var shown = digits.slice(0, keep).replace(/0+$/, "");
    return (/[1-9]/.test(digits.slice(keep)) ? "≈" : "") + groupDigits(whole.toString()) + (shown ? "." + shown : "");
  }
  function dayRange(days) {
    if (!days.length) { return ""; }
    var a = days[0], b = days[days.length - 1];
    return a === b ? a : a + " → " + (a.slice(0, 4) === b.slice(0, 4) ? b.slice(5) : b);
  }
  function ethOf(units) { return Number(BigInt(units) / 10n ** 12n) / 1e6; }
  function widthOf(taint) { return Math.min(12, 1 + 1.6 * Math.log10(1 + ethOf(taint))); }
  function edgeLabel(e, sum) {
    sum = sum || {units: e.units, count: e.count, days: e.days};
    return shortAmount(sum.units, e.decimals) + " " + e.asset + (e.received ? " → " + e.received : "") +
      (sum.count > 1 ? " · " + sum.count + " tx" : "") + "\n" + dayRange(sum.days);
  }
  // What an edge moved on the days in the date filter's range (all of it when the range is the whole case)
  function inRange(e, f) {
    if ((!f.from || f.from <= e.days[0]) && (!f.to || f.to >= e.days[e.days.length - 1])) {
      return {units: e.units, count: e.count, value: e.value, days: e.days};
    }
    var units = 0n, count = 0, value = 0, days = [];
    e.days.forEach(function (d, i) {
      if ((!f.from || d >= f.from) && (!f.to || d <= f.to)) {
        units += BigInt(e.day_units[i]); count += e.day_counts[i]; value += e.day_values[i]; days.push(d);
      }
    });
    return {units: units.toString(), count: count, value: value, days: days};
  }
  function nodeLabel(name, units, unit) {
    return name + (BigInt(units) > 0n ? "\n" + shortAmount(units, unit === "BTC" ? 8 : 18) + " " + unit : "");
  }

  var elements = [];
  g.nodes.forEach(function (n) {
    elements.push({group: "nodes", data: {id: n.id, display: nodeLabel(n.name, n.taint_units, n.unit),
      colour: n.colour, shape: n.shape, size: n.size, category: n.category, hop: n.hop, lane: n.lane}});
  });
  g.folds.forEach(function (f) {
    var sum = 0n;
    f.members.forEach(function (m) { sum += BigInt(byId[m].taint_units); });
    var display = nodeLabel(f.members.length + " × " + f.category + (f.hop >= 0 ? " (hop " + f.hop + ")" : " (not traced)"),
                            sum.toString(), f.lane === "btc" ? "BTC" : "ETH");
    elements.push({group: "nodes", classes: "group", data: {id: f.id, display: display, colour: f.colour,
      shape: "round-rectangle", size: 46, category: f.category, hop: f.hop, lane: f.lane, group: true}});
  });
  g.edges.forEach(function (e) {
    elements.push({group: "edges", data: {id: e.id, source: e.source, target: e.target, colour: e.colour,
      display: edgeLabel(e), asset: e.asset, poison: e.poison, crossing: e.crossing, days: e.days,
      width: e.crossing ? 5 : widthOf(e.taint)}});
  });
  var cy = cytoscape({
    container: document.getElementById("cy"), elements: elements, layout: {name: "null"},  // dagre lays it out (apply)
    minZoom: 0.02, maxZoom: 4,
    style: [
      {selector: "node", style: {"background-color": "data(colour)", width: "data(size)", height: "data(size)",
        shape: "data(shape)", label: "data(display)", "font-size": 10, "text-valign": "bottom", "text-margin-y": 3,
        color: "#222", "text-wrap": "wrap", "text-max-width": 150, "min-zoomed-font-size": 6,
        "text-background-color": "#ffffff", "text-background-opacity": 0.7, "text-background-padding": 1}},
      {selector: "node.group", style: {"border-width": 3, "border-style": "double", "border-color": "#333",
        width: 60, height: 34, "font-weight": "bold"}},
      {selector: "node:selected", style: {"border-width": 4, "border-color": "#111"}},
      {selector: "edge", style: {width: "data(width)", "line-color": "data(colour)", "target-arrow-color": "data(colour)",
        "target-arrow-shape": "triangle", "curve-style": "bezier", opacity: 0.8, "arrow-scale": 0.8,
        label: "data(display)", "font-size": 8, "text-wrap": "wrap", "text-rotation": "autorotate",
        "min-zoomed-font-size": 7, color: "#333", "text-background-color": "#ffffff",
        "text-background-opacity": 0.8, "text-background-padding": 1}},
      {selector: "edge.meta", style: {opacity: 0.9}},
      {selector: "edge.routed", style: {"curve-style": "unbundled-bezier", "edge-distances": "intersection",
        "control-point-weights": function (e) { return e.scratch("controlPointWeights"); },
        "control-point-distances": function (e) { return e.scratch("controlPointDistances"); }}},
      {selector: "edge[?poison]", style: {"line-style": "dashed", opacity: 0.5}},
      {selector: "edge[?crossing]", style: {"line-color": "#9467bd", "target-arrow-color": "#9467bd",
        "line-style": "dotted", "font-size": 10, opacity: 1}},
      {selector: ".faded", style: {opacity: 0.15}},
      {selector: "edge.path", style: {"line-color": "#e8112d", "target-arrow-color": "#e8112d", opacity: 1,
        "z-index": 10}},
      {selector: "node.path", style: {"border-width": 4, "border-color": "#e8112d", opacity: 1}},
      {selector: ".hidden", style: {display: "none"}}
    ]
  });

  var hopSel = document.getElementById("f-hop"), assetSel = document.getElementById("f-asset");
  var minInput = document.getElementById("f-min"), poisonBox = document.getElementById("f-poison");
  var fromInput = document.getElementById("f-from"), toInput = document.getElementById("f-to");
  var foldBox = document.getElementById("f-fold"), search = document.getElementById("f-search");
  var searchCount = document.getElementById("search-count");
  var counter = document.getElementById("visible-count"), details = document.getElementById("details");
  var cyBox = document.getElementById("cy");

  // Drawn: without the class "hidden" (what is drawn is decided here; cytoscape's :visible can lag a batch)
  function drawn(eles) { return eles.filter(function (el) { return !el.hasClass("hidden"); }); }

  var laidOutKey = null, metaKey = null, searchOpened = [], lastShown = {};
  function foldState() { return g.folds.map(function (f) { return folded[f.id] ? "1" : "0"; }).join(""); }

  function visibleEnd(id) { var f = foldOf[id]; return f && folded[f] ? f : id; }

  // An edge with a folded end is drawn as part of one edge per (group, other end, asset, kind). Made again
  // only when a group opens or closes (so each keeps its route); filters change its sum and label.
  function rebuildMeta() {
    cy.remove(cy.edges(".meta"));
    var metas = {}, order = [];
    g.edges.forEach(function (e) {
      var s = visibleEnd(e.source), t = visibleEnd(e.target);
      if ((s === e.source && t === e.target) || s === t) { return; }
      var key = s + "\u0000" + t + "\u0000" + e.token + "\u0000" + e.kind + "\u0000" + e.poison;
      if (!metas[key]) {
        metas[key] = {source: s, target: t, asset: e.asset, kind: e.kind, poison: e.poison, crossing: e.crossing,
          colour: e.colour, decimals: e.decimals, parts: [], taint: 0n};
        order.push(key);
      }
      metas[key].parts.push(e.id); metas[key].taint += BigInt(e.taint);
    });
    cy.add(order.map(function (key, i) {
      var m = metas[key];
      return {group: "edges", classes: "meta", data: {id: "m" + i, source: m.source, target: m.target,
        colour: m.colour, display: "", asset: m.asset, poison: m.poison, crossing: m.crossing, decimals: m.decimals,
        width: m.crossing ? 5 : widthOf(m.taint.toString()), parts: m.parts, days: []}};
    }));
    metaKey = foldState();
  }
  // The exact sum of a group edge's parts that pass the filters: "40 × 10,000 ETH" when they are alike
  function metaLabel(d, sums, pass) {
    var units = 0n, count = 0, shown = 0, alike, days = {};
    d.parts.forEach(function (id) {
      if (!pass[id]) { return; }
      var sum = sums[id];
      units += BigInt(sum.units); count += sum.count; shown += 1;
      alike = alike === undefined ? sum.units : (alike === sum.units ? alike : null);
      sum.days.forEach(function (day) { days[day] = true; });
    });
    days = Object.keys(days).sort();
    var amount = alike && shown > 1 ? shown + " × " + shortAmount(alike, d.decimals) + " " + d.asset
      : shortAmount(units.toString(), d.decimals) + " " + d.asset + (count > 1 ? " · " + count + " tx" : "");
    return {display: amount + "\n" + dayRange(days), days: days};
  }

  function filters() {
    var minValue = parseFloat(minInput.value);
    return {maxHop: parseInt(hopSel.value, 10), asset: assetSel.value, poison: poisonBox.checked,
      minValue: minValue >= 0 ? minValue : 0, from: fromInput.value, to: toInput.value};
  }
  function noFilters(f) {  // what the layout is made for: everything of this fold state and spam setting
    return {maxHop: Infinity, asset: "", poison: f.poison, minValue: 0, from: "", to: ""};
  }

  // Which addresses and edges the filters let through (before folding)
  function visibility(f) {
    var nodeOk = {}, pass = {}, shown = {}, withEdge = {}, sums = {}, sent = {};
    g.nodes.forEach(function (n) {
      nodeOk[n.id] = !((n.category === "poison" && !f.poison) || (n.hop >= 0 && n.hop > f.maxHop));
    });
    g.edges.forEach(function (e) {
      var sum = sums[e.id] = inRange(e, f);
      pass[e.id] = (!e.poison || f.poison) && (!f.asset || e.asset === f.asset) && sum.count > 0 &&
        sum.value >= f.minValue && nodeOk[e.source] && nodeOk[e.target];
      if (pass[e.id]) { withEdge[e.source] = withEdge[e.target] = true; }
    });
    g.nodes.forEach(function (n) { shown[n.id] = nodeOk[n.id] && (n.category === "seed" || !!withEdge[n.id]); });
    g.edges.forEach(function (e) {  // a node the trace never reached (a bridge's destination): only with a shown sender
      var s = byId[e.source];
      if (pass[e.id] && shown[s.id] && s.hop <= f.maxHop) { sent[e.target] = true; }
    });
    g.nodes.forEach(function (n) { if (n.hop < 0 && !sent[n.id]) { shown[n.id] = false; } });
    return {pass: pass, shown: shown, sums: sums};
  }

  // Draw what a visibility lets through, folded groups as one node each
  function draw(vis) {
    cy.batch(function () {
      cy.nodes().forEach(function (n) {
        var d = n.data(), on;
        if (d.group) {
          on = folded[d.id] && foldById[d.id].members.some(function (m) { return vis.shown[m]; });
        } else {
          on = vis.shown[d.id] && !(foldOf[d.id] && folded[foldOf[d.id]]);
        }
        n.toggleClass("hidden", !on);
      });
      cy.edges().forEach(function (e) {
        var d = e.data(), ok = d.parts ? d.parts.some(function (p) { return vis.pass[p]; }) : vis.pass[d.id];
        e.toggleClass("hidden", !ok || e.source().hasClass("hidden") || e.target().hasClass("hidden"));
        if (!ok) { return; }
        var label = d.parts ? metaLabel(d, vis.sums, vis.pass) : {display: edgeLabel(edgeById[d.id], vis.sums[d.id]),
                                                                   days: vis.sums[d.id].days};
        if (label.display !== d.display) { e.data({display: label.display, days: label.days}); }
      });
    });
  }

  function clearPath() {
    if (!cy.elements(".path, .faded").length && !details.getAttribute("data-path")) { return; }
    cy.elements().removeClass("path faded");
    details.textContent = "";
    var hint = document.createElement("p"); hint.className = "muted"; hint.textContent = "Click a node or an edge.";
    details.appendChild(hint);
    details.setAttribute("data-path", ""); details.setAttribute("data-node", "");
  }

  function apply(keepPath) {
    if (!keepPath) { clearPath(); }  // a highlighted path is of the picture it was clicked in
    var f = filters();
    if (metaKey !== foldState()) { rebuildMeta(); }
    // Laid out again when a group opens or closes or the spam is shown or hidden, for everything of that
    // state (the same state gives the same picture: the layout is deterministic); the other filters only
    // hide what is laid out, and the view is framed again on what is left.
    var key = foldState() + (f.poison ? "+spam" : "");
    if (key !== laidOutKey) {
      draw(visibility(noFilters(f)));
      layout(key);
    }
    var vis = visibility(f);
    draw(vis);
    lastShown = vis.shown;
    var count = 0, inside = 0, groups = 0;
    g.nodes.forEach(function (n) { count += vis.shown[n.id] ? 1 : 0; });
    g.folds.forEach(function (x) {
      if (!folded[x.id] || cy.getElementById(x.id).hasClass("hidden")) { return; }
      groups += 1;
      x.members.forEach(function (m) { inside += vis.shown[m] ? 1 : 0; });
    });
    var fits = fitTo(drawn(cy.nodes()), 30);
    counter.textContent = count + " of " + g.nodes.length + " addresses shown" + (groups ? " (" + inside +
      " of them in " + groups + (groups === 1 ? " folded group" : " folded groups") + ": click one to open it)" : "") +
      (fits ? "" : "; the chart is bigger than the view: drag to move, scroll to zoom");
    counter.setAttribute("data-visible", String(count));
    var open = g.folds.filter(function (x) { return !folded[x.id]; }).length;
    foldBox.checked = open < g.folds.length;  // ticked: some folded; half-ticked: some open too
    foldBox.indeterminate = open > 0 && open < g.folds.length;
  }

  // Layered, left to right (dagre), each chain in its own lane: Bitcoin's below Ethereum's, starting
  // where the crossings leave it. Elements are given in a fixed order, so the same case draws the same.
  function layout(key) {
    var t0 = performance.now(), above = null, visible = drawn(cy.nodes()), routed = [];
    if (laidOutKey !== null) {  // nodes un-hidden since the first layout: cytoscape's size cache is stale till read
      visible.forEach(function (n) { n.width(); });
    }
    ["eth", "btc"].forEach(function (lane) {
      var nodes = visible.filter(function (n) { return n.data("lane") === lane; });
      if (!nodes.length) { return; }
      var big = nodes.length > BIG_LAYOUT, edges = big ? spine(nodes) : drawn(nodes.edgesWith(nodes));
      nodes.union(edges).layout({name: "dagre", rankDir: "LR", ranker: big ? "tight-tree" : "network-simplex",
        nodeSep: big ? 28 : 14, rankSep: 170, edgeSep: 8, nodeDimensionsIncludeLabels: !big,
        useDagreEdgeControlPoints: !big, fit: false, animate: false}).run();
      if (!big) {  // an edge across more than one hop follows dagre's route around the nodes between
        edges.forEach(function (e) { routed.push(e); });
      }
      if (above) {
        var here = box(nodes), crossers = drawn(cy.edges("[?crossing]")).sources();
        var x = crossers.length ? box(crossers).x2 + 170 : above.x1;
        nodes.shift({x: x - here.x1, y: above.y2 + 160 - here.y1});
      }
      above = box(nodes);
    });
    cy.batch(function () {
      cy.edges().removeClass("routed");
      routed.forEach(function (e) {
        var w = e.scratch("controlPointWeights");
        if (w && w.length > 1) { e.addClass("routed"); }
      });
    });
    laidOutKey = key || null;
    var ms = Math.round(performance.now() - t0);
    cyBox.setAttribute("data-layout-ms", String(ms));
    window.tracerReport && (window.tracerReport.layoutMs = ms);
  }

  // Past BIG_LAYOUT nodes dagre lays out a spine only: each node's widest incoming edge from an earlier
  // hop (or, lacking one, its widest incoming edge). The other edges are drawn where it puts their ends;
  // without them dagre needs no dummy nodes for long back edges and fewer crossing sweeps: a
  // 5,000-node chart is laid out within 3 s (benchmarks/report_layout.py).
  var BIG_LAYOUT = 1000;
  function spine(nodes) {
    var best = {};
    drawn(nodes.edgesWith(nodes)).forEach(function (e) {
      var s = e.source(), t = e.target();
      if (s.same(t)) { return; }
      var forward = s.data("hop") < t.data("hop") || t.data("hop") < 0;
      var rank = [forward ? 1 : 0, e.data("width")], id = t.id();
      if (!best[id] || rank[0] > best[id].rank[0] || (rank[0] === best[id].rank[0] && rank[1] > best[id].rank[1])) {
        best[id] = {edge: e, rank: rank};
      }
    });
    return cy.collection(Object.keys(best).map(function (id) { return best[id].edge; }));
  }

  // The nodes' own boxes, without their labels (measuring every label takes seconds at 5,000 nodes)
  function box(nodes) {
    var x1 = Infinity, y1 = Infinity, x2 = -Infinity, y2 = -Infinity;
    nodes.forEach(function (n) {
      var p = n.position(), r = n.data("size") / 2 + 10;
      x1 = Math.min(x1, p.x - r); x2 = Math.max(x2, p.x + r); y1 = Math.min(y1, p.y - r); y2 = Math.max(y2, p.y + r + 30);
    });
    return {x1: x1, y1: y1, x2: x2, y2: y2};
  }

  // The whole chart in view; or, when that would make it too small to read, its width at a readable size
  // (at most), centred on the seeds. Says whether everything fits.
  function fitTo(nodes, padding) {
    var b = box(nodes);
    if (b.x1 === Infinity) { return true; }
    var across = (cy.width() - 2 * padding) / (b.x2 - b.x1), down = (cy.height() - 2 * padding) / (b.y2 - b.y1);
    var zoom = Math.min(1.5, across, down), centre = (b.y1 + b.y2) / 2, fits = zoom >= 0.35;
    if (!fits) {
      var seeds = box(nodes.filter(function (n) { return n.data("category") === "seed"; }));
      zoom = Math.min(0.6, Math.max(across, 0.35));
      centre = seeds.x1 !== Infinity ? (seeds.y1 + seeds.y2) / 2 : b.y1 + cy.height() / 2 / zoom;
    }
    zoom = Math.max(cy.minZoom(), Math.min(cy.maxZoom(), zoom));
    var left = across >= zoom ? (cy.width() - zoom * (b.x1 + b.x2)) / 2 : padding - zoom * b.x1;
    cy.viewport({zoom: zoom, pan: {x: left, y: cy.height() / 2 - zoom * centre}});
    return fits;
  }

  function row(dl, term, value, href) {
    var dt = document.createElement("dt"); dt.textContent = term; dl.appendChild(dt);
    var dd = document.createElement("dd");
    if (href) {
      var a = document.createElement("a"); a.href = href; a.rel = "noreferrer noopener"; a.textContent = value;
      dd.appendChild(a);
    } else { dd.textContent = value; }
    dl.appendChild(dd);
  }

  // The widest path(s) from the seeds to a node: the largest traced value that can reach it through one
  // chain of transfers (the bottleneck), and of the chains that carry it, the shortest ones.
  function weight(e) {  // a crossing carries what its deposit carried; Bitcoin's side has no ETH figure
    return byId[e.source].lane === "btc" ? HUGE : BigInt(e.taint);
  }
  function usable(e) {
    return !e.poison && e.source !== e.target && ["swap", "inferred", "co-spend"].indexOf(e.kind) < 0;
  }
  function distances(starts, edges, forward) {
    var dist = Object.create(null), queue = starts.slice(), next = Object.create(null);
    starts.forEach(function (s) { dist[s] = 0; });
    edges.forEach(function (e) {
      var a = forward ? e.source : e.target;
      (next[a] = next[a] || []).push(forward ? e.target : e.source);
    });
    for (var i = 0; i < queue.length; i++) {
      (next[queue[i]] || []).forEach(function (b) {
        if (!(b in dist)) { dist[b] = dist[queue[i]] + 1; queue.push(b); }
      });
    }
    return dist;
  }
  function widestPath(target) {
    var seeds = g.nodes.filter(function (n) { return n.category === "seed"; }).map(function (n) { return n.id; });
    if (seeds.indexOf(target) >= 0) { return {edges: [], width: null}; }
    var edges = g.edges.filter(usable);
    var widths = Array.from(new Set(edges.map(weight))).sort(function (a, b) { return a > b ? -1 : a < b ? 1 : 0; });
    var reaches = function (w) {
      return target in distances(seeds, edges.filter(function (e) { return weight(e) >= w; }), true);
    };
    var lo = 0, hi = widths.length - 1;
    if (hi < 0 || !reaches(widths[hi])) { return {edges: [], width: null}; }
    while (lo < hi) {  // the widest bottleneck at which the target is still reached
      var mid = (lo + hi) >> 1;
      if (reaches(widths[mid])) { hi = mid; } else { lo = mid + 1; }
    }
    var width = widths[lo];
    if (width === 0n) { return {edges: [], width: 0n}; }
    var wide = edges.filter(function (e) { return weight(e) >= width; });
    var from = distances(seeds, wide, true), to = distances([target], wide, false);
    return {width: width, edges: wide.filter(function (e) {
      return e.source in from && e.target in to && from[e.source] + 1 + to[e.target] === from[target];
    }).map(function (e) { return e.id; })};
  }

  function highlight(target) {
    cy.elements().removeClass("path faded");
    var found = widestPath(target);
    var opened = false;
    found.edges.forEach(function (id) {
      [edgeById[id].source, edgeById[id].target].forEach(function (n) {
        if (foldOf[n] && folded[foldOf[n]]) { folded[foldOf[n]] = false; opened = true; }
      });
    });
    if (opened) { apply(true); }
    if (found.edges.length) {
      cy.elements().addClass("faded");
      found.edges.forEach(function (id) {
        var e = cy.getElementById(id);
        e.removeClass("faded").addClass("path");
        e.connectedNodes().removeClass("faded").addClass("path");
      });
    }
    return found;
  }

  function showNode(id) {
    var n = byId[id];
    details.textContent = "";
    var h = document.createElement("h3"); h.textContent = n.label || "(no label)"; details.appendChild(h);
    var dl = document.createElement("dl");
    row(dl, "address", n.id, n.link);
    row(dl, "category", n.category);
    row(dl, "hop", n.hop >= 0 ? String(n.hop) : "not reached by the trace");
    row(dl, "label source", n.label_source || "—");
    row(dl, "chain", n.lane === "btc" ? "Bitcoin" : "Ethereum");
    row(dl, "traced value reached (" + data.taint_model + ")", n.taint);
    row(dl, "followed", n.followed ? "yes" : "no");
    if (n.flags) { row(dl, "flags", n.flags); }
    n.totals.forEach(function (t) { row(dl, "totals " + t.asset, "in " + t.in + " · out " + t.out); });
    var found = highlight(id);
    if (found.edges.length) {
      var hiddenParts = found.edges.filter(function (id) { return cy.getElementById(id).hasClass("hidden"); }).length;
      row(dl, "widest path from the seeds (red)", found.edges.length + " edges; the least traced value on it: " +
        (found.width === HUGE ? "not measured (Bitcoin side)" : shortAmount(found.width.toString(), 18) + " ETH") +
        (hiddenParts ? "; " + hiddenParts + " of its edges are hidden by the filters" : ""));
    } else if (found.width === 0n) {
      row(dl, "widest path from the seeds", "none: no traced ETH (or ETH-pegged token) reaches it from the seeds");
    }
    details.appendChild(dl);
    details.setAttribute("data-node", n.id);
    details.setAttribute("data-path", found.edges.join(","));
  }

  function showEdge(e) {
    var parts = e.data("parts") || [e.id()];
    details.textContent = "";
    var h = document.createElement("h3");
    h.textContent = e.data("display").split("\n")[0] + (parts.length > 1 ? " (" + parts.length + " edges)" : "");
    details.appendChild(h);
    var dl = document.createElement("dl");
    parts.slice(0, 50).forEach(function (id) {
      var d = edgeById[id];
      row(dl, "from", d.source, (byId[d.source] || {}).link);
      row(dl, "to", d.target, (byId[d.target] || {}).link);
      row(dl, "amount", d.amount + " " + d.asset + " (" + d.kind + ", " + d.count + " tx, " + dayRange(d.days) + ")");
      if (d.received) { row(dl, "received on Bitcoin", d.received + " (the crossing is verified by its outbound)"); }
      if (d.flags) { row(dl, "flags", d.flags); }
      d.txs.forEach(function (t) {
        row(dl, "tx (block " + t.block + (t.log_index >= 0 ? ", log " + t.log_index : "") + ")", t.tx_hash, t.link);
      });
      if (d.count > d.txs.length) { row(dl, "more", (d.count - d.txs.length) + " more transactions (see tracer export)"); }
    });
    if (parts.length > 50) { row(dl, "more", (parts.length - 50) + " more edges: open the group"); }
    details.appendChild(dl);
    details.setAttribute("data-node", "");
  }

  function setFolded(id, value) { folded[id] = value; apply(); }

  // Search: the matches selected and framed; a match inside a folded group opens it (until the next search)
  function find(query) {
    var q = query.trim().toLowerCase(), matches = [];
    clearPath();
    cy.nodes(":selected").unselect();
    searchOpened.forEach(function (id) { folded[id] = true; });
    searchOpened = [];
    if (q.length >= 3) {
      matches = g.nodes.filter(function (n) {
        return n.id.toLowerCase().indexOf(q) >= 0 || n.name.toLowerCase().indexOf(q) >= 0;
      }).map(function (n) { return n.id; });
      matches.forEach(function (m) {  // (not for a match the filters hide: opening its group would show nothing)
        var f = foldOf[m];
        if (f && folded[f] && lastShown[m]) { folded[f] = false; searchOpened.push(f); }
      });
    }
    apply(true);
    var found = drawn(cy.collection(matches.map(function (m) { return cy.getElementById(m); })));
    found.select();
    if (found.length) { fitTo(found, 80); }
    var hidden = matches.length - found.length;
    searchCount.textContent = q.length >= 3 ? matches.length + " found" +
      (hidden ? " (" + hidden + " hidden by the filters)" : "") : "";
    search.setAttribute("data-matches", String(matches.length));
    return matches;
  }

  // Exports of the current view, for a report: PNG as drawn, SVG written from cytoscape's model
  function download(blob, name) {
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob); a.download = name;
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 10000);
  }
  function pngBlob() { return cy.png({output: "blob", bg: "#ffffff", scale: 2}); }
  var SVG = "http://www.w3.org/2000/svg";
  function svgElement(name, attrs, text) {
    var el = document.createElementNS(SVG, name);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) {  // text only as text: a token's name never becomes markup
      text.split("\n").forEach(function (line, i) {
        var span = document.createElementNS(SVG, "tspan");
        span.setAttribute("x", String(attrs.x)); span.setAttribute("dy", i ? "1.2em" : "0");
        span.textContent = line; el.appendChild(span);
      });
    }
    return el;
  }
  function polygon(p, w, h, sides, turn, inner) {
    var pts = [], n = inner ? sides * 2 : sides;
    for (var i = 0; i < n; i++) {
      var a = turn + 2 * Math.PI * i / n, r = inner && i % 2 ? inner : 1;
      pts.push((p.x + Math.cos(a) * r * w / 2).toFixed(1) + "," + (p.y + Math.sin(a) * r * h / 2).toFixed(1));
    }
    return pts.join(" ");
  }
  function wrap(text, width) {  // as cytoscape wraps a node's label at text-max-width (about this many letters)
    var lines = [];
    text.split("\n").forEach(function (line) {
      var words = line.split(" "), current = "";
      words.forEach(function (w) {
        if (current && (current + " " + w).length > width) { lines.push(current); current = w; }
        else { current = current ? current + " " + w : w; }
      });
      lines.push(current);
    });
    return lines.join("\n");
  }
  function svgText() {
    var ext = cy.extent(), root = svgElement("svg", {xmlns: SVG, width: cy.width(), height: cy.height(),
      viewBox: [ext.x1, ext.y1, ext.w, ext.h].map(function (v) { return v.toFixed(1); }).join(" ")});
    root.appendChild(svgElement("rect", {x: ext.x1, y: ext.y1, width: ext.w, height: ext.h, fill: "#ffffff"}));
    var defs = svgElement("defs", {}), markers = {};
    root.appendChild(defs);
    function arrow(colour) {  // one arrowhead per colour, sized in the drawing's units (not by line width)
      if (!markers[colour]) {
        markers[colour] = "arrow" + Object.keys(markers).length;
        var marker = svgElement("marker", {id: markers[colour], viewBox: "0 0 10 10", refX: 10, refY: 5,
          markerWidth: 9, markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto"});
        marker.appendChild(svgElement("path", {d: "M0,0 L10,5 L0,10 z", fill: colour}));
        defs.appendChild(marker);
      }
      return "url(#" + markers[colour] + ")";
    }
    drawn(cy.edges()).forEach(function (e) {
      var s = e.sourceEndpoint(), t = e.targetEndpoint(), cp = e.controlPoints(), m = e.midpoint();
      var d = cp && cp.length === 1 ? "M" + s.x + "," + s.y + " Q" + cp[0].x + "," + cp[0].y + " " + t.x + "," + t.y
        : "M" + [s].concat(cp || [], [t]).map(function (q) { return q.x + "," + q.y; }).join(" L");  // a routed edge
      var colour = e.style("line-color");
      root.appendChild(svgElement("path", {d: d, fill: "none", stroke: colour,
        "stroke-width": e.data("width"), "stroke-opacity": e.hasClass("faded") ? 0.15 : 0.8,
        "stroke-dasharray": e.data("poison") ? "6,4" : e.data("crossing") ? "2,3" : "none", "marker-end": arrow(colour)}));
      var angle = Math.atan2(t.y - s.y, t.x - s.x) * 180 / Math.PI;
      if (angle > 90) { angle -= 180; } else if (angle < -90) { angle += 180; }  // never upside down
      root.appendChild(svgElement("text", {x: m.x, y: m.y, "font-size": 8, "font-family": "sans-serif",
        "text-anchor": "middle", fill: "#333333", transform: "rotate(" + angle.toFixed(1) + " " + m.x + " " + m.y + ")"},
        e.data("display")));
    });
    drawn(cy.nodes()).forEach(function (n) {
      var p = n.position(), w = n.width(), h = n.height(), shape = n.data("group") ? "rectangle" : n.data("shape");
      var style = {fill: n.data("colour"), stroke: n.hasClass("path") ? "#e8112d" : "#333333",
        "stroke-width": n.hasClass("path") || n.data("group") ? 3 : 0.5, "fill-opacity": n.hasClass("faded") ? 0.15 : 1};
      var sides = {diamond: 4, hexagon: 6, octagon: 8}[shape];
      var el = shape === "ellipse" ? svgElement("ellipse", Object.assign({cx: p.x, cy: p.y, rx: w / 2, ry: h / 2}, style))
        : shape === "star" ? svgElement("polygon", Object.assign({points: polygon(p, w, h, 5, -Math.PI / 2, 0.45)}, style))
        : sides ? svgElement("polygon", Object.assign({points: polygon(p, w, h, sides, sides === 4 ? 0 : Math.PI / sides)}, style))
        : svgElement("rect", Object.assign({x: p.x - w / 2, y: p.y - h / 2, width: w, height: h,
            rx: shape === "rectangle" ? 0 : 6}, style));
      root.appendChild(el);
      root.appendChild(svgElement("text", {x: p.x, y: p.y + h / 2 + 12, "font-size": 10, "font-family": "sans-serif",
        "text-anchor": "middle", fill: "#222222"}, wrap(n.data("display"), 26)));
    });
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + new XMLSerializer().serializeToString(root);
  }

  cy.on("tap", "node", function (evt) {
    var id = evt.target.id();
    if (foldById[id]) { setFolded(id, false); return; }
    showNode(id);
  });
  cy.on("tap", "edge", function (evt) { showEdge(evt.target); });
  cy.on("tap", function (evt) {  // a click on the background clears the highlighted path
    if (evt.target === cy) { clearPath(); }
  });
  [hopSel, assetSel, poisonBox].forEach(function (el) { el.addEventListener("change", function () { apply(); }); });
  [minInput, fromInput, toInput].forEach(function (el) { el.addEventListener("input", function () { apply(); }); });
  foldBox.addEventListener("change", function () {  // (half-ticked, when some are open: a click folds them all)
    g.folds.forEach(function (f) { folded[f.id] = foldBox.checked; });
    searchOpened = [];
    apply();
  });
  search.addEventListener("input", function () { find(search.value); });
  document.getElementById("export-png").addEventListener("click", function () { download(pngBlob(), "tracer-graph.png"); });
  document.getElementById("export-svg").addEventListener("click", function () {
    download(new Blob([svgText()], {type: "image/svg+xml"}), "tracer-graph.svg");
  });
  window.tracerReport = {cy: cy, apply: apply, layout: layout, widestPath: widestPath, setFolded: setFolded,
    find: find, svgText: svgText, shortAmount: shortAmount, layoutMs: null};
  apply();
  window.tracerReport.layoutMs = parseInt(cyBox.getAttribute("data-layout-ms") || "0", 10);
  document.body.setAttribute("data-ready", "1");
})();
