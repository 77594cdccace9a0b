// node --experimental-websocket front.mjs URL
// Opens a front page at a desktop width and as a 414 px phone and prints,
// per width, JSON: {width, scrollWidth, lead, leadFont, blocks, times}.
import { launch, waitFor } from "./cdp.mjs";

const url = process.argv[2];
const browser = await launch();
try {
  await browser.send("Page.enable");
  for (const [width, mobile] of [[1280, false], [414, true]]) {
    await browser.send("Emulation.setDeviceMetricsOverride", { width, height: 896, deviceScaleFactor: mobile ? 2 : 1, mobile });
    await browser.send("Page.navigate", { url });
    if (!(await waitFor(browser, "document.readyState === 'complete' && !!document.querySelector('main')"))) throw new Error(`page did not load: ${url}`);
    const r = await browser.evaluate(`JSON.stringify({
      width: window.innerWidth,
      scrollWidth: document.scrollingElement.scrollWidth,
      lead: (document.querySelector('article.lead h2 a') || {}).textContent || null,
      leadFont: parseFloat(getComputedStyle(document.querySelector('article.lead h2 a')).fontSize),
      listFont: parseFloat(getComputedStyle(document.querySelector('.article-list a.article-link')).fontSize),
      blocks: [...document.querySelectorAll('.section-block > h2')].map((h) => h.textContent.trim()),
      times: [...document.querySelectorAll('article.lead time')].map((t) => t.textContent.trim()),
    })`);
    console.log(r);
  }
} finally {
  browser.close();
}
