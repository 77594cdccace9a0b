// node --experimental-websocket benches/search_bytes.mjs ENGINE URL QUERY1 QUERY2 ACCESS_LOG
// Measures a search page in headless Chromium with the cache off: opens URL,
// types QUERY1 key by key, waits for its results and for the network to go
// quiet, then (same page) clears the box and types QUERY2. Prints one JSON
// line: bytes transferred for the page plus the first query, bytes for the
// second query alone, result counts, and milliseconds from the last key to
// the results. ENGINE is `gen` (the default theme's /search/) or
// `pagefind` (benches' pagefind.html page on Pagefind's JS API).
//
// Bytes are read from nginx's access log (`$bytes_sent $status $uri` per
// line), not from the page: Pagefind fetches from a web worker, which the
// page's network events do not see.
import { readFileSync, statSync } from "node:fs";
import { launch, waitFor, countBytes } from "../tests/browser/cdp.mjs";

const [engine, url, q1, q2, log] = process.argv.slice(2);
const logAt = () => statSync(log).size;
const sent = (from) => {
  const lines = readFileSync(log).subarray(from).toString().split("\n").filter(Boolean);
  return { bytes: lines.reduce((n, l) => n + Number(l.split(" ")[0]), 0), requests: lines.length };
};
const ready = engine === "gen" ? "document.documentElement.dataset.searchReady === '1'" : "window.__pfReady === true";
const browser = await launch();
const out = { engine, url };
try {
  await browser.send("Page.enable");
  const net = await countBytes(browser);
  const start = logAt();
  await browser.send("Page.navigate", { url });
  if (!(await waitFor(browser, ready, 60000))) throw new Error("search did not load");
  await net.idle(500);
  out.page_bytes = sent(start).bytes;
  const type = async (q) => {
    await browser.evaluate(`(() => {
      const list = document.getElementById('search-results');
      window.__shownAt = 0;
      window.__obs && window.__obs.disconnect();
      window.__obs = new MutationObserver(() => { if (list.dataset.query === ${JSON.stringify(q)} && !window.__shownAt) window.__shownAt = performance.now(); });
      window.__obs.observe(list, { attributes: true, attributeFilter: ['data-query'] });
      const input = document.getElementById('search-input');
      input.value = '';
      input.focus();
    })()`);
    for (const ch of q) {
      await browser.evaluate("window.__typedAt = performance.now()");
      await browser.send("Input.insertText", { text: ch });
      await new Promise((r) => setTimeout(r, 120));
    }
    const done = `document.getElementById('search-results').dataset.query === ${JSON.stringify(q)}`;
    if (!(await waitFor(browser, done, 60000))) throw new Error(`no results for ${q}`);
    await net.idle(800);
    return {
      ms: await browser.evaluate("Math.round(window.__shownAt - window.__typedAt)"),
      count: await browser.evaluate(engine === "gen" ? "document.getElementById('search-status').textContent" : "document.getElementById('search-results').dataset.count"),
      shown: await browser.evaluate("document.querySelectorAll('#search-results li').length"),
    };
  };
  const first = await type(q1);
  out.first_query = q1;
  ({ bytes: out.first_bytes, requests: out.first_requests } = sent(start));
  out.first_ms = first.ms;
  out.first_count = first.count;
  out.first_shown = first.shown;
  const at = logAt();
  out.second_query = q2;
  try {
    const second = await type(q2);
    out.second_ms = second.ms;
    out.second_count = second.count;
  } catch (e) {
    // No results shown within the wait: report what was sent meanwhile.
    out.second_error = String(e);
    out.second_ms = -1;
  }
  out.second_bytes = sent(at).bytes;
} catch (e) {
  out.error = String(e);
} finally {
  browser.close();
}
console.log(JSON.stringify(out));
