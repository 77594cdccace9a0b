// node --experimental-websocket search.mjs CASES.json
// Each case: { url, query, expect: [titles], absent: [titles], none: bool,
//   marks: bool, snippet: "text", hrefs: { title: href or prefix* }, maxBytes: n }.
// Opens the search page (cache off), types the query key by key as a reader
// would, waits for the results of the whole query and for the network to
// go quiet, then checks them. Prints one JSON line per case: the titles
// shown, the bytes transferred from navigation on, the requests, and the
// milliseconds from the last key to the results. Exit 0 when all pass.
import { readFileSync } from "node:fs";
import { launch, waitFor, countBytes } from "./cdp.mjs";

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const browser = await launch();
let failed = 0;
try {
  await browser.send("Page.enable");
  const net = await countBytes(browser);
  for (const c of cases) {
    const problems = [];
    net.reset();
    await browser.send("Page.navigate", { url: c.url });
    if (!(await waitFor(browser, "document.documentElement.dataset.searchReady === '1'"))) {
      problems.push(`the search index did not load: ${await browser.evaluate("document.body.innerText")}`);
    } else {
      await browser.evaluate(`(() => {
        const list = document.getElementById('search-results');
        window.__shownAt = 0;
        new MutationObserver(() => { if (list.dataset.query === ${JSON.stringify(c.query)} && !window.__shownAt) window.__shownAt = performance.now(); })
          .observe(list, { attributes: true, attributeFilter: ['data-query'] });
        document.getElementById('search-input').focus();
      })()`);
      for (const ch of c.query) {
        await browser.evaluate("window.__typedAt = performance.now()");
        await browser.send("Input.insertText", { text: ch });
        await new Promise((r) => setTimeout(r, 30));
      }
      const done = `document.getElementById('search-results').dataset.query === ${JSON.stringify(c.query)}`;
      if (!(await waitFor(browser, done, 10000))) problems.push("no results for the whole query");
      await net.idle();
    }
    const titles = await browser.evaluate("[...document.querySelectorAll('#search-results .search-hit')].map(a => a.textContent)") || [];
    const status = await browser.evaluate("document.getElementById('search-status').textContent");
    const ms = await browser.evaluate("window.__shownAt && window.__typedAt ? Math.round(window.__shownAt - window.__typedAt) : null");
    for (const t of c.expect || []) if (!titles.includes(t)) problems.push(`${t} not found`);
    for (const t of c.absent || []) if (titles.includes(t)) problems.push(`${t} should not match`);
    if (c.none && (titles.length || !status)) problems.push(`expected no results and a message, got ${JSON.stringify(titles)} / ${status}`);
    if (c.marks && !(await browser.evaluate("document.querySelectorAll('#search-results .search-hit mark').length > 0"))) problems.push("nothing highlighted in the titles");
    if (c.snippet && !(await browser.evaluate(`[...document.querySelectorAll('#search-results li p')].some(p => p.textContent.includes(${JSON.stringify(c.snippet)}) && p.querySelector('mark'))`))) {
      problems.push(`no snippet shows ${c.snippet} highlighted: ${await browser.evaluate("[...document.querySelectorAll('#search-results li p')].map(p => p.textContent).join(' | ')")}`);
    }
    for (const [title, href] of Object.entries(c.hrefs || {})) {
      const got = await browser.evaluate(`[...document.querySelectorAll('#search-results .search-hit')].find(a => a.textContent === ${JSON.stringify(title)})?.getAttribute('href')`);
      // A value ending in `*` is a prefix.
      const ok = href.endsWith("*") ? (got || "").startsWith(href.slice(0, -1)) : got === href;
      if (!ok) problems.push(`${title} links to ${got}, not ${href}`);
    }
    if (c.maxBytes && net.bytes > c.maxBytes) problems.push(`transferred ${net.bytes} bytes, over ${c.maxBytes}`);
    console.log(JSON.stringify({ url: c.url, query: c.query, titles, status, bytes: net.bytes, requests: net.requests, ms }));
    if (problems.length) {
      failed++;
      console.error(`${c.url} ${JSON.stringify(c.query)}: ${problems.join("; ")}`);
      if (process.env.SEARCH_DEBUG) console.error(net.urls.join("\n"));
    }
  }
} finally {
  browser.close();
}
process.exit(failed ? 1 : 0);
