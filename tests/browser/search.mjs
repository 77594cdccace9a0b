// node --experimental-websocket search.mjs URL QUERY EXPECTED_TITLE [ABSENT_TITLE]
// Opens a search page, types QUERY into the search box as a reader would
// (key by key through the input method path), and waits until a result
// titled EXPECTED_TITLE links to its article. With ABSENT_TITLE, that
// title must not be among the results. Prints the result titles. Exit 0 on success.
import { launch, waitFor } from "./cdp.mjs";

const [url, query, expected, absent] = process.argv.slice(2);
const browser = await launch();
let ok = false;
try {
  await browser.send("Page.enable");
  await browser.send("Page.navigate", { url });
  if (!(await waitFor(browser, "document.documentElement.dataset.searchReady === '1'"))) {
    throw new Error(`the search index did not load: ${await browser.evaluate("document.body.innerText")}`);
  }
  await browser.evaluate("document.getElementById('search-input').focus()");
  // One character at a time, like typing; each fires an input event.
  for (const ch of query) {
    await browser.send("Input.insertText", { text: ch });
    await new Promise((r) => setTimeout(r, 30));
  }
  const titles = "[...document.querySelectorAll('#search-results .search-hit')].map(a => a.textContent)";
  // Results for the whole query, not for the part typed so far.
  const done = `document.getElementById('search-results').dataset.query === ${JSON.stringify(query)}`;
  ok = await waitFor(browser, `${done} && ${titles}.includes(${JSON.stringify(expected)})`, 5000);
  const found = await browser.evaluate(titles);
  console.log(JSON.stringify(found));
  if (ok) {
    // The hit links to the article and marks the query.
    ok = await browser.evaluate(`(() => {
      const a = [...document.querySelectorAll('#search-results .search-hit')].find(a => a.textContent === ${JSON.stringify(expected)});
      return !!a && a.getAttribute('href').endsWith('/') && document.querySelectorAll('#search-results mark').length > 0;
    })()`);
    if (!ok) console.error("the hit has no article link or nothing is highlighted");
  }
  if (ok && absent) {
    ok = !found.includes(absent);
    if (!ok) console.error(`${absent} should not match ${query}`);
  }
  if (!ok) console.error("page text:", await browser.evaluate("document.body.innerText"));
} finally {
  browser.close();
}
process.exit(ok ? 0 : 1);
