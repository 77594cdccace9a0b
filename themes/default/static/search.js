// The default theme's site search: reads gen's sharded index (_search/) in
// the browser and searches as the reader types. No service, no library.
//
// The manifest names every shard by its first term; a query loads only the
// shards of its terms, then, with HTTP Range requests, the header of each
// shown result's block, its details and (once the reader pauses) its text
// for the matching passage. Everything is gzip-compressed by gen and
// inflated here (DecompressionStream).
//
// Analysis mirrors src/search/analyze.rs: NFC, lower case, runs of letters
// and digits; Hangul/Han/Kana runs as syllable bigrams, other runs as a light
// English stem. A Korean query word loses a trailing particle first
// (수출을 → 수출), so 금리 finds 기준금리를 and 수출을 finds 수출. The word
// being typed matches as a prefix. "Quoted phrases" are checked against the
// text of each result shown. Ranking: words in the title, summary, tags or
// authors above words in the body, then newer articles first.
(function () {
  "use strict";

  // ---- Analysis (keep in step with src/search/analyze.rs) ----
  var MAX_RUN = 40;
  var WORD = /[\p{Alphabetic}\p{N}]+/gu;
  var CJK = /^[\uac00-\ud7a3\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]$/;
  var HANGUL = /^[\uac00-\ud7a3]+$/;
  // Particles and endings stripped from the end of a Korean query word,
  // longest first, when at least two syllables remain.
  var PARTICLES = ["에서는", "에게서", "으로는", "으로서", "으로써", "에서", "에게", "한테", "께서", "까지", "부터",
    "처럼", "보다", "으로", "이나", "이며", "이다", "에는", "과의", "와의", "의", "을", "를", "이", "가", "은", "는",
    "에", "로", "와", "과", "도", "만", "들"];

  function norm(s) {
    return (s || "").normalize("NFC").toLowerCase();
  }

  function isCjk(c) {
    return CJK.test(c);
  }

  function hasVowel(s) {
    return /[aeiouy]/.test(s);
  }

  function stem(w) {
    if (w.length <= 3 || !/^[a-z]+$/.test(w)) return w;
    if (/ies$/.test(w) && w.length > 4) w = w.slice(0, -3) + "y";
    else if (/sses$/.test(w)) w = w.slice(0, -2);
    else if (/s$/.test(w) && !/(ss|us|is)$/.test(w)) w = w.slice(0, -1);
    var suffixes = ["ing", "ed"];
    for (var k = 0; k < suffixes.length; k++) {
      var sfx = suffixes[k];
      var base = w.slice(0, -sfx.length);
      if (w.length > sfx.length && w.slice(-sfx.length) === sfx && base.length >= 3 && hasVowel(base)) {
        w = base;
        var n = w.length;
        if (w[n - 1] === w[n - 2] && "aeioulsz".indexOf(w[n - 1]) === -1) w = w.slice(0, -1);
        break;
      }
    }
    if (w.length > 3 && w[w.length - 1] === "e") w = w.slice(0, -1);
    return w;
  }

  // A word's runs: [text, isCjk].
  function runs(word) {
    var out = [];
    var chars = Array.from(word);
    var i = 0;
    while (i < chars.length) {
      var cjk = isCjk(chars[i]);
      var j = i;
      while (j < chars.length && isCjk(chars[j]) === cjk) j++;
      out.push([chars.slice(i, j).join(""), cjk]);
      i = j;
    }
    return out;
  }

  function bigrams(run) {
    var c = Array.from(run);
    if (c.length === 1) return [run];
    var out = [];
    for (var i = 0; i + 1 < c.length; i++) out.push(c[i] + c[i + 1]);
    return out;
  }

  // Every term of a text, as the index stores them (for tests).
  function terms(text) {
    var out = [];
    (norm(text).match(WORD) || []).forEach(function (word) {
      runs(word).forEach(function (r) {
        if (Array.from(r[0]).length > MAX_RUN) return;
        if (r[1]) out.push.apply(out, bigrams(r[0]));
        else out.push(stem(r[0]));
      });
    });
    return out;
  }

  function stripParticle(run) {
    if (!HANGUL.test(run)) return run;
    var n = Array.from(run).length;
    for (var i = 0; i < PARTICLES.length; i++) {
      var p = PARTICLES[i];
      if (run.slice(-p.length) === p && n - p.length >= 2) return run.slice(0, -p.length);
    }
    return run;
  }

  // A query: words (each a list of needs, all of which must match), the
  // quoted phrases, and the strings to highlight. A need is a list of
  // terms that must all occur (bigrams of one run), or a prefix.
  function parse(query) {
    var q = norm(query);
    var phrases = [];
    q.replace(/"([^"]+)"/g, function (_, p) {
      var t = (p.match(WORD) || []).join(" ");
      if (t) phrases.push(t);
    });
    var words = q.match(WORD) || [];
    var open = /[\p{Alphabetic}\p{N}]$/u.test(q) && !/"[^"]*"$/.test(q);
    var out = { words: [], phrases: phrases, needles: [] };
    words.forEach(function (word, wi) {
      var needs = [];
      var rs = runs(word);
      rs.forEach(function (r, ri) {
        var last = open && wi === words.length - 1 && ri === rs.length - 1;
        if (Array.from(r[0]).length > MAX_RUN) return;
        if (r[1]) {
          var s = stripParticle(r[0]);
          out.needles.push(s);
          if (Array.from(s).length === 1) needs.push({ prefix: [s] });
          else needs.push({ all: bigrams(s) });
        } else {
          var st = stem(r[0]);
          out.needles.push(st.length < r[0].length ? st : r[0]);
          if (last && r[0].length >= 3) {
            // While a word is typed, a prefix: of its stem, then of the
            // word with up to three letters less (publishi → publish).
            var prefixes = [st];
            for (var k = 1; k <= 3 && r[0].length - k >= 3; k++) prefixes.push(r[0].slice(0, -k));
            needs.push({ prefix: prefixes, first: true });
          } else {
            needs.push({ all: [st] });
          }
        }
      });
      if (needs.length) out.words.push(needs);
    });
    return out;
  }

  var api = { norm: norm, stem: stem, terms: terms, parse: parse, stripParticle: stripParticle };
  if (typeof module === "object" && module.exports) {
    module.exports = api;
    return;
  }

  // ---- Reading the index ----
  var list = document.getElementById("search-results");
  var input = document.getElementById("search-input");
  var status = document.getElementById("search-status");
  if (!list || !input) return;
  var PAGE = 10;
  var PREFIX_LISTS = 8;
  // Filters: query-string name, term letter. Sites are id ranges, not terms.
  var FACETS = [["site", ""], ["section", "s"], ["category", "c"], ["author", "a"], ["year", "y"], ["tag", "t"]];
  var manifestUrl = list.dataset.index;
  var base = "";
  var lang = document.documentElement.lang || undefined;
  var manifest = null;
  var files = new Map();
  var timer = 0;
  var generation = 0;

  function inflate(buf) {
    var b = new Uint8Array(buf);
    // Hosts that add Content-Encoding to .bin files: the browser inflated it.
    if (b[0] !== 0x1f || b[1] !== 0x8b) return Promise.resolve(buf);
    return new Response(new Blob([buf]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
  }

  // `files` caches what was fetched by key; a failure is not kept, so the
  // next query asks again.
  function cached(key, make) {
    if (!files.has(key)) {
      files.set(key, make().catch(function (e) {
        files.delete(key);
        throw e;
      }));
    }
    return files.get(key);
  }

  function load(url) {
    return cached(url, function () {
      return fetch(url).then(function (r) {
        if (!r.ok) throw new Error(url + ": " + r.status);
        return r.arrayBuffer();
      }).then(inflate);
    });
  }

  function file(name) {
    return base + "f/" + name + ".bin";
  }

  // A shard: term → [start, end) of its postings in the bytes.
  function Reader(bytes) {
    this.b = bytes;
    this.at = 0;
  }
  Reader.prototype.varint = function () {
    var v = 0, shift = 0, x;
    do {
      x = this.b[this.at++];
      v += (x & 0x7f) * Math.pow(2, shift);
      shift += 7;
    } while (x >= 0x80);
    return v;
  };
  Reader.prototype.list = function (into, flag) {
    var n = this.varint();
    if (!n) return;
    var kind = this.b[this.at++];
    if (kind === 1) {
      var first = this.varint(), span = this.varint();
      for (var i = 0; i < span; i++) {
        var byte = this.b[this.at + i];
        for (var bit = 0; byte && bit < 8; bit++) if (byte & (1 << bit)) into && (into[first + i * 8 + bit] |= flag);
      }
      this.at += span;
    } else {
      var id = 0;
      for (var k = 0; k < n; k++) {
        id = k === 0 ? this.varint() : id + this.varint();
        if (into) into[id] |= flag;
      }
    }
  };

  var decoder = new TextDecoder();
  // A shard's directory: term → its postings, inline (an offset in the
  // directory) or a gzip member after it (offset and length).
  function shardOf(url, head, buf) {
    var b = new Uint8Array(buf);
    var r = new Reader(b);
    var n = r.varint();
    var terms = new Map();
    var prev = new Uint8Array(0);
    for (var i = 0; i < n; i++) {
      var shared = r.varint(), len = r.varint();
      var t = new Uint8Array(shared + len);
      t.set(prev.subarray(0, shared));
      t.set(b.subarray(r.at, r.at + len), shared);
      r.at += len;
      if (b[r.at++] === 0) {
        var start = r.at;
        r.list(null, 0);
        r.list(null, 0);
        terms.set(decoder.decode(t), { at: start });
      } else {
        var off = r.varint();
        terms.set(decoder.decode(t), { off: off, len: r.varint() });
      }
      prev = t;
    }
    return { url: url, head: head, dir: b, terms: terms };
  }

  // Shard `k`'s directory: the first bytes of its file (a Range request).
  function loadShard(k) {
    var entry = manifest.shards[k], url = file(entry[1]);
    return cached(url + "#dir", function () {
      return range(url, 5, entry[2]).then(inflate).then(function (buf) { return shardOf(url, entry[2], buf); });
    });
  }

  // The postings of `term` in a shard: [bytes, offset], or null.
  function postings(shard, term) {
    var e = shard.terms.get(term);
    if (!e) return Promise.resolve(null);
    if (e.at !== undefined) return Promise.resolve([shard.dir, e.at]);
    return cached(shard.url + "#" + e.off, function () {
      return range(shard.url, shard.head + e.off, shard.head + e.off + e.len).then(inflate).then(function (b) {
        return [new Uint8Array(b), 0];
      });
    });
  }

  // `a <= b` in code point (UTF-8 byte) order, as gen sorts terms: `<=` on
  // strings compares UTF-16 units, which differs past U+D7FF.
  function atMost(a, b) {
    var i = 0, j = 0;
    while (i < a.length && j < b.length) {
      var x = a.codePointAt(i), y = b.codePointAt(j);
      if (x !== y) return x < y;
      i += x > 0xffff ? 2 : 1;
      j += y > 0xffff ? 2 : 1;
    }
    return i >= a.length;
  }

  // Index of the shard whose range holds `term`.
  function shardFor(term) {
    var s = manifest.shards, lo = 0, hi = s.length - 1;
    while (lo < hi) {
      var mid = (lo + hi + 1) >> 1;
      if (atMost(s[mid][0], term)) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  // Marks the documents of postings `p` in `into`: 1 for a match, 2 for a
  // top match.
  function mark(p, into) {
    if (!p) return false;
    var r = new Reader(p[0]);
    r.at = p[1];
    r.list(into, 1);
    r.list(into, 2);
    return true;
  }

  function termPostings(t) {
    return loadShard(shardFor(t)).then(function (s) { return postings(s, t); });
  }

  // The documents of one need, as flags per id.
  function need(n) {
    var size = manifest.docs;
    if (n.all) {
      return Promise.all(n.all.map(termPostings)).then(function (lists) {
        var acc = null;
        for (var i = 0; i < n.all.length; i++) {
          var one = new Uint8Array(size);
          mark(lists[i], one);
          if (!acc) acc = one;
          else for (var d = 0; d < size; d++) acc[d] = acc[d] && one[d] ? (acc[d] & one[d] & 2 ? 3 : 1) : 0;
        }
        return acc;
      });
    }
    // A prefix: the union of the terms that start with it, in at most two
    // shards and at most PREFIX_LISTS long lists (while a word is typed);
    // with several prefixes, the first that matches.
    var tryPrefix = function (k) {
      if (k >= n.prefix.length) return Promise.resolve(new Uint8Array(size));
      var p = n.prefix[k];
      var first = shardFor(p), ks = [first];
      for (var j = first + 1; j < manifest.shards.length && ks.length < 2 && manifest.shards[j][0].indexOf(p) === 0; j++) ks.push(j);
      return Promise.all(ks.map(loadShard)).then(function (shards) {
        var wanted = [], long = 0;
        shards.forEach(function (s) {
          s.terms.forEach(function (e, t) {
            if (t.indexOf(p) !== 0 || t.charCodeAt(0) <= 1) return;
            if (e.at === undefined && ++long > PREFIX_LISTS) return;
            wanted.push(postings(s, t));
          });
        });
        return Promise.all(wanted).then(function (lists) {
          var acc = new Uint8Array(size), any = false;
          lists.forEach(function (l) { any = mark(l, acc) || any; });
          return any || !n.first ? acc : tryPrefix(k + 1);
        });
      });
    };
    return tryPrefix(0);
  }

  // The filters in force: kind → values (normalised), from the page's controls.
  function filters() {
    var out = [];
    var url = new URL(location.href);
    FACETS.forEach(function (f) {
      var vals = url.searchParams.getAll(f[0]).filter(Boolean);
      if (f[0] === "site" && manifest.parts.length < 2) return;
      if (vals.length) out.push([f[1], vals.map(norm)]);
    });
    return out;
  }

  function facetSet(letter, values) {
    if (!letter) {
      // Sites: the id ranges of their parts.
      var acc = new Uint8Array(manifest.docs);
      manifest.parts.forEach(function (p) {
        if (values.indexOf(norm(p.site)) !== -1) acc.fill(1, p.offset, p.offset + p.docs);
      });
      return Promise.resolve(acc);
    }
    return Promise.all(values.map(function (v) {
      return termPostings("\u0001" + letter + ":" + v).then(function (l) {
        var one = new Uint8Array(manifest.docs);
        mark(l, one);
        return one;
      });
    })).then(function (sets) {
      var acc = new Uint8Array(manifest.docs);
      sets.forEach(function (one) { for (var d = 0; d < acc.length; d++) acc[d] |= one[d] ? 1 : 0; });
      return acc;
    });
  }

  function partOf(id) {
    var parts = manifest.parts, part = parts[0];
    for (var i = 1; i < parts.length && id >= parts[i].offset; i++) part = parts[i];
    return part;
  }

  function recency(id) {
    var p = partOf(id);
    return (id - p.offset) / Math.max(1, p.docs);
  }

  // Ranked ids of every match.
  function evaluate(q, fs) {
    var size = manifest.docs;
    var words = q.words.map(function (needs) {
      return Promise.all(needs.map(need)).then(function (sets) {
        var acc = sets[0];
        for (var i = 1; i < sets.length; i++) {
          for (var d = 0; d < size; d++) acc[d] = acc[d] && sets[i][d] ? (acc[d] & sets[i][d] & 2 ? 3 : 1) : 0;
        }
        return acc;
      });
    });
    var facets = fs.map(function (f) { return facetSet(f[0], f[1]); });
    return Promise.all([Promise.all(words), Promise.all(facets)]).then(function (r) {
      var ws = r[0], fsets = r[1];
      var hits = [];
      for (var d = 0; d < size; d++) {
        var score = 0, ok = true;
        for (var w = 0; w < ws.length && ok; w++) {
          var m = ws[w][d];
          if (!m) ok = false; else score += m & 2 ? 3 : 1;
        }
        for (var f = 0; f < fsets.length && ok; f++) if (!fsets[f][d]) ok = false;
        // Ids follow dates within a site: newer is higher, measured in
        // each site's own range so that no site ranks above the others.
        if (ok) hits.push([score + recency(d), d]);
      }
      hits.sort(function (a, b) { return b[0] - a[0]; });
      return hits.map(function (h) { return h[1]; });
    });
  }

  // ---- Showing results ----
  // A byte range of a file: a Range request, or, from a host that ignores
  // ranges, the whole file (fetched once, then sliced).
  // The first request finds out whether the host answers ranges; the
  // others wait for it, so a host that does not sends each file once.
  var ranges = null;
  function range(url, start, end) {
    if (end <= start) return Promise.resolve(new ArrayBuffer(0));
    var ask = function () {
      return fetch(url, { headers: { Range: "bytes=" + start + "-" + (end - 1) } }).then(function (r) {
        if (!r.ok) throw new Error(url + ": " + r.status);
        return r.status === 206 ? r.arrayBuffer().then(function (b) { return [true, b]; }) : r.arrayBuffer().then(function (b) { return [false, b.slice(start, end)]; });
      });
    };
    if (!ranges) {
      var first = ask();
      ranges = first.then(function (r) { return r[0]; }, function () { ranges = null; return true; });
      return first.then(function (r) { return r[1]; });
    }
    return ranges.then(function (ok) {
      if (ok) return ask().then(function (r) { return r[1]; });
      return load(url).then(function (b) { return b.slice(start, end); });
    });
  }

  // A block's header: where each of its members starts.
  function header(part, k) {
    var url = file(part.blocks[k]);
    var members = 2 * Math.min(manifest.block, part.docs - k * manifest.block);
    return cached(url + "#header", function () {
      return range(url, 0, 4 + 4 * (members + 1)).then(function (b) {
        return { url: url, at: new DataView(b), half: members / 2 };
      });
    });
  }

  // Member `i` of a block, as text (null when empty); fetched once.
  function member(h, i) {
    return cached(h.url + "#" + i, function () {
      return range(h.url, h.at.getUint32(4 + 4 * i, true), h.at.getUint32(8 + 4 * i, true)).then(function (b) {
        return b.byteLength ? inflate(b).then(function (x) { return decoder.decode(new Uint8Array(x)); }) : null;
      });
    });
  }

  // A result's details, with what is needed to fetch its text.
  function details(id) {
    var part = partOf(id);
    var local = id - part.offset;
    return header(part, Math.floor(local / manifest.block)).then(function (h) {
      var j = local % manifest.block;
      return member(h, j).then(function (json) {
        return json && { d: JSON.parse(json), part: part, header: h, j: j };
      });
    });
  }

  // A result's whole text.
  function text(hit) {
    return member(hit.header, hit.header.half + hit.j).catch(function () { return null; });
  }

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

  // The passage around the first match in `body`, or null.
  function passage(body, needles) {
    body = body.normalize("NFC");
    var lower = norm(body);
    if (lower.length !== body.length) return null;
    var first = -1;
    needles.forEach(function (n) {
      var i = n ? lower.indexOf(n) : -1;
      if (i !== -1 && (first === -1 || i < first)) first = i;
    });
    if (first === -1) return null;
    var start = Math.max(0, first - 60), end = Math.min(body.length, first + 140);
    return (start > 0 ? "…" : "") + body.slice(start, end) + (end < body.length ? "…" : "");
  }

  // Resolves true when query `g` is still the current one after a pause.
  var PAUSE = 250;
  function settled(g) {
    return new Promise(function (ok) { setTimeout(function () { ok(g === generation); }, PAUSE); });
  }

  function queryLink(name, value) {
    var url = new URL(location.href);
    url.searchParams.set(name, value);
    return url.pathname + url.search;
  }

  function item(hit, needles) {
    var d = hit.d;
    var li = document.createElement("li");
    var a = document.createElement("a");
    // In the network index, a result links to its own site.
    a.href = hit.part.url ? new URL(d.u, hit.part.url).href : d.u;
    a.className = "search-hit";
    highlight(a, d.t, needles);
    li.appendChild(a);
    var meta = document.createElement("div");
    meta.className = "meta";
    var bits = [d.d.slice(0, 10)];
    if (manifest.parts.length > 1) bits.push(hit.part.title || hit.part.site);
    if (d.s) bits.push(d.s);
    if (d.a) bits.push(d.a.join(", "));
    meta.textContent = bits.filter(Boolean).join(" · ");
    (d.g || []).forEach(function (tag) {
      var t = document.createElement("a");
      t.className = "search-tag";
      t.href = queryLink("tag", tag);
      t.textContent = "#" + tag;
      meta.appendChild(document.createTextNode(" "));
      meta.appendChild(t);
    });
    li.appendChild(meta);
    var p = document.createElement("p");
    highlight(p, d.m || "", needles);
    li.appendChild(p);
    return { li: li, p: p };
  }

  function count(n) {
    var s = n === 1 && list.dataset.countOne ? list.dataset.countOne : list.dataset.count;
    return s.replace("{n}", n.toLocaleString(lang));
  }

  // Shows results from `from` on; resolves once their details are shown.
  function showPage(state, from) {
    var g = state.generation;
    var shown = 0;
    var step = function () {
      if (g !== generation || shown >= PAGE || state.next >= state.ids.length) return Promise.resolve();
      var ids = state.ids.slice(state.next, state.next + PAGE - shown);
      state.next += ids.length;
      return Promise.all(ids.map(details)).then(function (hits) {
        if (g !== generation) return;
        var checks = hits.map(function (hit) {
          if (!hit) return Promise.resolve(null);
          var key = hit.d.t + "\u0000" + hit.d.d.slice(0, 10);
          // An archived copy of an article already shown is not shown again.
          if (state.seen.has(key)) return Promise.resolve(null);
          state.seen.add(key);
          if (!state.q.phrases.length) return Promise.resolve({ hit: hit, body: null });
          return text(hit).then(function (body) {
            var hay = norm([hit.d.t, hit.d.m, body || ""].join(" ")).match(WORD);
            hay = " " + (hay || []).join(" ") + " ";
            var ok = state.q.phrases.every(function (p) { return hay.indexOf(" " + p + " ") !== -1; });
            return ok ? { hit: hit, body: body } : null;
          });
        });
        return Promise.all(checks).then(function (rows) {
          if (g !== generation) return;
          rows.forEach(function (row) {
            if (!row) return;
            shown++;
            state.shown++;
            var el = item(row.hit, state.q.needles);
            list.appendChild(el.li);
            // Passages only for a query the reader paused on: not for every
            // prefix typed on the way.
            var body = row.body ? Promise.resolve(row.body) : settled(g).then(function (ok) { return ok ? text(row.hit) : null; });
            body.then(function (b) {
              var s = b && passage(b, state.q.needles);
              if (s && g === generation) {
                el.p.textContent = "";
                highlight(el.p, s, state.q.needles);
              }
            });
          });
          return step();
        });
      });
    };
    return step().then(function () {
      if (g !== generation) return;
      var more = document.getElementById("search-more");
      if (more) more.hidden = state.next >= state.ids.length;
      if (state.q.phrases.length) status.textContent = state.shown ? count(state.shown) + (state.next < state.ids.length ? "+" : "") : list.dataset.none;
      list.dataset.query = state.query;
    });
  }

  var current = null;

  function show(query) {
    var g = ++generation;
    var q = parse(query);
    var fs = filters();
    // Pending: no query is shown until its results are.
    delete list.dataset.query;
    if (!q.words.length && !fs.length) {
      list.textContent = "";
      status.textContent = "";
      list.dataset.query = query;
      current = null;
      return Promise.resolve();
    }
    return evaluate(q, fs).then(function (ids) {
      if (g !== generation) return;
      list.textContent = "";
      status.textContent = ids.length ? count(ids.length) : list.dataset.none;
      current = { generation: g, q: q, query: query, ids: ids, next: 0, shown: 0, seen: new Set() };
      return showPage(current, 0);
    });
  }

  function update() {
    if (!manifest) return;
    var q = input.value;
    var url = new URL(location.href);
    if (q) url.searchParams.set("q", q); else url.searchParams.delete("q");
    history.replaceState(null, "", url);
    var g = generation + 1;
    show(q).catch(function () { if (g === generation) status.textContent = list.dataset.error; });
  }

  // Filter controls from the manifest's values (tags: from links and ?tag=).
  function controls() {
    var form = input.form;
    var old = form.querySelector(".search-filters");
    if (old) old.remove();
    var box = document.createElement("div");
    box.className = "search-filters";
    var url = new URL(location.href);
    if (list.dataset.network) box.appendChild(scopeControl());
    FACETS.forEach(function (f) {
      var values = (manifest.facets[f[0]] || []);
      var label = list.dataset["filter" + f[0][0].toUpperCase() + f[0].slice(1)];
      var chosen = url.searchParams.get(f[0]);
      if (f[0] === "tag") {
        if (!chosen) return;
        values = values.filter(function (v) { return v[0] === norm(chosen); });
        if (!values.length) values = [[norm(chosen), chosen, 0]];
      }
      if (values.length < 2 && !chosen) return;
      var wrap = document.createElement("label");
      wrap.appendChild(document.createTextNode(label || f[0]));
      var sel = document.createElement("select");
      sel.name = f[0];
      var all = document.createElement("option");
      all.value = "";
      all.textContent = list.dataset.filterAll || "—";
      sel.appendChild(all);
      values.forEach(function (v) {
        var o = document.createElement("option");
        o.value = v[0];
        o.textContent = v[1] + (v[2] ? " (" + v[2].toLocaleString(lang) + ")" : "");
        if (chosen && norm(chosen) === v[0]) o.selected = true;
        sel.appendChild(o);
      });
      sel.addEventListener("change", function () {
        var u = new URL(location.href);
        if (sel.value) u.searchParams.set(f[0], sel.value); else u.searchParams.delete(f[0]);
        history.replaceState(null, "", u);
        update();
      });
      wrap.appendChild(sel);
      box.appendChild(wrap);
    });
    if (box.childNodes.length) form.appendChild(box);
    if (document.getElementById("search-more")) return;
    var more = document.createElement("button");
    more.type = "button";
    more.id = "search-more";
    more.hidden = true;
    more.textContent = list.dataset.more || "More";
    more.addEventListener("click", function () {
      if (!current || more.disabled) return;
      more.disabled = true;
      showPage(current, current.next).then(function () { more.disabled = false; }, function () { more.disabled = false; });
    });
    list.parentNode.insertBefore(more, list.nextSibling);
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(update, 20);
  });
  input.form.addEventListener("submit", function (e) {
    e.preventDefault();
    update();
  });

  // This site or, where the page offers it, every site of the network
  // (`?scope=all`).
  function scopeControl() {
    var wrap = document.createElement("label");
    wrap.appendChild(document.createTextNode(list.dataset.scope || "Scope"));
    var sel = document.createElement("select");
    sel.name = "scope";
    [["", list.dataset.scopeSite], ["all", list.dataset.scopeNetwork]].forEach(function (o) {
      var opt = document.createElement("option");
      opt.value = o[0];
      opt.textContent = o[1];
      sel.appendChild(opt);
    });
    sel.value = new URL(location.href).searchParams.get("scope") === "all" ? "all" : "";
    sel.addEventListener("change", function () {
      var u = new URL(location.href);
      if (sel.value) u.searchParams.set("scope", sel.value); else u.searchParams.delete("scope");
      u.searchParams.delete("site");
      history.replaceState(null, "", u);
      open();
    });
    wrap.appendChild(sel);
    return wrap;
  }

  // Loads the manifest of the scope in the address, then searches.
  function open() {
    var all = list.dataset.network && new URL(location.href).searchParams.get("scope") === "all";
    var url = all ? list.dataset.network : manifestUrl;
    delete document.documentElement.dataset.searchReady;
    return load(url).then(function (buf) {
      if (!buf.manifest) buf.manifest = JSON.parse(decoder.decode(new Uint8Array(buf)));
      manifest = buf.manifest;
      base = url.slice(0, url.lastIndexOf("/") + 1);
      controls();
      document.documentElement.dataset.searchReady = "1";
      var q = new URL(location.href).searchParams.get("q");
      if (q && !input.value) input.value = q;
      update();
    }).catch(function () {
      status.textContent = list.dataset.error;
    });
  }

  open();
})();
