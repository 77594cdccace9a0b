// Bytes a phone downloads for a page: headless Chromium as a 400 CSS px wide
// screen at device pixel ratio 2, every response of the page counted
// (document, styles, scripts, images the browser chose from srcset).
//
//   node benches/phone_bytes.mjs URL...
// prints one line per URL: total bytes, image bytes, and the images loaded.
import { launch, waitFor } from "../tests/browser/cdp.mjs";

const browser = await launch();
try {
  await browser.send("Page.enable");
  await browser.send("Network.enable");
  await browser.send("Network.setCacheDisabled", { cacheDisabled: true });
  await browser.send("Emulation.setDeviceMetricsOverride", { width: 400, height: 850, deviceScaleFactor: 2, mobile: true });
  for (const url of process.argv.slice(2)) {
    await browser.send("Page.navigate", { url });
    const loaded = await waitFor(browser,
      "document.readyState === 'complete' && [...document.images].filter(i => i.loading !== 'lazy').every(i => i.complete)");
    if (!loaded) throw new Error(`page did not load: ${url}`);
    const r = await browser.evaluate(`(() => {
      const all = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')];
      const bytes = (e) => e.transferSize || e.encodedBodySize || 0;
      const images = all.filter((e) => e.initiatorType === 'img' || /\\.(webp|avif|jpe?g|png|gif|svg)$/.test(e.name));
      return { total: all.reduce((s, e) => s + bytes(e), 0), images: images.reduce((s, e) => s + bytes(e), 0),
               loaded: images.map((e) => e.name.split('/').pop().slice(-28) + ' ' + bytes(e)) };
    })()`);
    console.log(`${url}\t${r.total}\t${r.images}\t${r.loaded.join(', ')}`);
  }
} finally {
  browser.close();
}
