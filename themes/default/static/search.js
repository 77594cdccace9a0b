// The default theme's site search: loads search-index.json once and searches
// it in the browser as the reader types. No service, no library.
//
// Matching is by substring on NFC-normalised, lower-cased text, so it needs no
// word boundaries: "금리" finds "금리를" and "기준금리". Every term of the query
// must match somewhere. A Hangul term of three or more syllables that does not
// match also tries itself without its last syllable, which is often a
// particle ("금리를" → "금리"). Results are ranked by where terms match
// (title, tags, summary, body), then by date.
(function () {
  "use strict";
  var list = document.getElementById("search-results");
  var input = document.getElementById("search-input");
  var status = document.getElementById("search-status");
  if (!list || !input) return;

  var MAX_RESULTS = 50;
  var WEIGHTS = { title: 10, terms: 6, summary: 4, people: 3, body: 1 };
  var HANGUL = /^[\uac00-\ud7a3]+$/;
  var docs = null;
  var timer = 0;

  function norm(s) {
    return (s || "").normalize("NFC").toLowerCase();
  }

  function prepare(page) {
    var d = {
      page: page,
      title: norm(page.title),
      terms: norm((page.tags || []).concat(page.categories || []).join(" ")),
      summary: norm(page.summary),
      people: norm((page.authors || []).concat([page.section || ""]).join(" ")),
      body: norm(page.body)
    };
    return d;
  }

  // The variants tried for one query term, with their weight.
  function variants(term) {
    var v = [[term, 1]];
    if (HANGUL.test(term) && term.length >= 3) v.push([term.slice(0, -1), 0.5]);
    return v;
  }

  function count(hay, needle) {
    var n = 0;
    for (var i = hay.indexOf(needle); i !== -1 && n < 5; i = hay.indexOf(needle, i + needle.length)) n++;
    return n;
  }

  // Score of one document, or 0 when a term matches nowhere.
  function score(d, terms) {
    var total = 0;
    for (var t = 0; t < terms.length; t++) {
      var best = 0;
      var vs = variants(terms[t]);
      for (var v = 0; v < vs.length && best === 0; v++) {
        var needle = vs[v][0];
        for (var field in WEIGHTS) {
          if (d[field].indexOf(needle) !== -1) {
            var s = WEIGHTS[field] * vs[v][1];
            if (field === "body") s += 0.2 * count(d.body, needle);
            if (s > best) best = s;
          }
        }
      }
      if (best === 0) return 0;
      total += best;
    }
    return total;
  }

  // Appends `text` to `el`, wrapping every occurrence of a needle in <mark>.
  function highlight(el, text, needles) {
    var lower = norm(text);
    var ranges = [];
    if (lower.length === text.length) {
      needles.forEach(function (n) {
        if (!n) return;
        for (var i = lower.indexOf(n); i !== -1; i = lower.indexOf(n, i + n.length)) ranges.push([i, i + n.length]);
      });
    }
    ranges.sort(function (a, b) { return a[0] - b[0]; });
    var at = 0;
    ranges.forEach(function (r) {
      if (r[0] < at) return;
      el.appendChild(document.createTextNode(text.slice(at, r[0])));
      var m = document.createElement("mark");
      m.textContent = text.slice(r[0], r[1]);
      el.appendChild(m);
      at = r[1];
    });
    el.appendChild(document.createTextNode(text.slice(at)));
  }

  // A window of the body around the first match, or the summary.
  function snippet(d, needles) {
    var body = (d.page.body || "").normalize("NFC");
    var first = -1;
    needles.forEach(function (n) {
      var i = d.body.indexOf(n);
      if (i !== -1 && (first === -1 || i < first)) first = i;
    });
    if (first === -1 || body.length !== d.body.length) return d.page.summary || body.slice(0, 160);
    var start = Math.max(0, first - 60);
    var end = Math.min(body.length, first + 140);
    return (start > 0 ? "…" : "") + body.slice(start, end) + (end < body.length ? "…" : "");
  }

  function show(query) {
    var terms = norm(query).split(/\s+/).filter(Boolean);
    list.textContent = "";
    // What the list now shows results for (tests wait for it).
    list.dataset.query = query;
    if (!terms.length) {
      status.textContent = "";
      return;
    }
    var hits = [];
    docs.forEach(function (d) {
      var s = score(d, terms);
      if (s > 0) hits.push([s, d]);
    });
    hits.sort(function (a, b) {
      return b[0] - a[0] || (a[1].page.date < b[1].page.date ? 1 : a[1].page.date > b[1].page.date ? -1 : 0);
    });
    const many = hits.length === 1 && list.dataset.countOne ? list.dataset.countOne : list.dataset.count;
    status.textContent = hits.length ? many.replace("{n}", hits.length) : list.dataset.none;
    var needles = [];
    terms.forEach(function (t) { variants(t).forEach(function (v) { needles.push(v[0]); }); });
    hits.slice(0, MAX_RESULTS).forEach(function (h) {
      var d = h[1];
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = d.page.url;
      a.className = "search-hit";
      highlight(a, d.page.title, needles);
      li.appendChild(a);
      var meta = document.createElement("div");
      meta.className = "meta";
      meta.textContent = [d.page.date.slice(0, 10), d.page.section, (d.page.authors || []).join(", ")].filter(Boolean).join(" · ");
      li.appendChild(meta);
      var p = document.createElement("p");
      highlight(p, snippet(d, needles), needles);
      li.appendChild(p);
      list.appendChild(li);
    });
  }

  function update() {
    if (!docs) return;
    var q = input.value;
    show(q);
    var url = new URL(location.href);
    if (q) url.searchParams.set("q", q); else url.searchParams.delete("q");
    history.replaceState(null, "", url);
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(update, 60);
  });
  input.form.addEventListener("submit", function (e) {
    e.preventDefault();
    update();
  });

  fetch(list.dataset.index)
    .then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    })
    .then(function (index) {
      docs = index.pages.map(prepare);
      document.documentElement.dataset.searchReady = "1";
      var q = new URL(location.href).searchParams.get("q");
      if (q && !input.value) input.value = q;
      update();
    })
    .catch(function () {
      status.textContent = list.dataset.error;
    });
})();
