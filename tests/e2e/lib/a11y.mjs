// Accessibility checks of one page state in Chromium: axe-core's WCAG 2.1 A/AA rules at
// desktop and phone widths, no horizontal scrolling at 320 px (WCAG 1.4.10 Reflow), and tap
// targets of at least 24 by 24 px (WCAG 2.5.8). Pages of the e2e suites are checked with
// checkPage(); the HTML part of an email with checkHtml().

import { createRequire } from 'node:module';

const AXE_PATH = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// Desktop and phone (an iPhone's 390 px); the reflow check narrows to 320 px.
export const VIEWPORTS = [{ width: 1280, height: 900 }, { width: 390, height: 844 }];
export const REFLOW_WIDTH = 320;
export const MIN_TARGET = 24;

// Options for browser.newContext(): axe is injected as a script, which the pages' CSP
// (script-src 'self') would refuse.
export const CONTEXT_OPTIONS = { bypassCSP: true, viewport: VIEWPORTS[0] };

// The axe violations of the page as it is now: ["rule: help (selector, …)"].
async function axeViolations(page) {
  if (!(await page.evaluate(() => typeof window.axe === 'object')))
    await page.addScriptTag({ path: AXE_PATH });
  const result = await page.evaluate(
      (tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] }),
      AXE_TAGS);
  return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

// Controls smaller than MIN_TARGET in either direction: ["<tag> \"text\" w×h"]. Links inside a
// sentence are exempt (WCAG 2.5.8's inline exception), as are controls not shown.
async function smallTargets(page) {
  return page.evaluate((min) => {
    const out = [];
    for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]')) {
      const r = el.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) continue;
      const style = getComputedStyle(el);
      if (style.visibility === 'hidden' || el.closest('[aria-hidden=true]')) continue;
      if (el.tagName === 'A') {
        const block = el.closest('p, li, td, small, div, nav');
        if (block && block.textContent.trim() !== el.textContent.trim()) continue;
      }
      if (el.getAttribute('role') === 'region') continue;  // a scrolling table, not a target
      if (r.width < min || r.height < min)
        out.push(`${el.tagName.toLowerCase()} "${(el.textContent || el.name || '').trim().slice(0, 40)}" ${Math.round(r.width)}×${Math.round(r.height)}`);
    }
    return out;
  }, MIN_TARGET);
}

// The page's width and, when it is wider than the window, the innermost elements that stick
// out (a tag with its id or class and its text), to say where to look: the cause is one of
// them, one that no scrolling box clips (for example one positioned absolutely).
async function overflow(page) {
  return page.evaluate(() => {
    const width = document.documentElement.scrollWidth;
    const limit = document.documentElement.clientWidth;
    const culprits = [];
    if (width > limit) {
      for (const el of document.body.querySelectorAll('*')) {
        if (el.getBoundingClientRect().right <= limit + 0.5) continue;
        if ([...el.children].some((c) => c.getBoundingClientRect().right > limit + 0.5)) continue;
        const name = el.tagName.toLowerCase() + (el.id ? `#${el.id}` : '') + (el.className ? `.${el.className}` : '');
        culprits.push(`${name} "${el.textContent.trim().slice(0, 40)}"`);
      }
    }
    return { width, culprits: culprits.slice(0, 5) };
  });
}

// Every problem of the page as shown now, at each viewport: [] when it passes. Leaves the page
// at the first viewport. `targets: false` leaves out the target sizes (an email's links are
// styled by the reader's mail client).
export async function pageProblems(page, { targets = true } = {}) {
  const problems = [];
  for (const viewport of VIEWPORTS) {
    await page.setViewportSize(viewport);
    for (const v of await axeViolations(page)) problems.push(`${viewport.width} px: ${v}`);
    if (targets)
      for (const t of await smallTargets(page)) problems.push(`${viewport.width} px: target under ${MIN_TARGET} px: ${t}`);
  }
  await page.setViewportSize({ width: REFLOW_WIDTH, height: 700 });
  const { width, culprits } = await overflow(page);
  if (width > REFLOW_WIDTH)
    problems.push(`${REFLOW_WIDTH} px: the page is ${width} px wide (${culprits.join(', ')})`);
  await page.setViewportSize(VIEWPORTS[0]);
  return problems;
}

// The problems of an HTML document (an email's HTML part) shown in `page`.
export async function htmlProblems(page, html) {
  await page.setContent(html, { waitUntil: 'load' });
  return pageProblems(page, { targets: false });
}
