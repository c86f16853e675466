/**
 * "Every string the UI shows is translated": collects the visible text of a page (text nodes,
 * placeholders, aria-labels) outside elements marked `translate="no"` (names, what clinicians
 * typed, codes: data, not interface) and returns each piece that is neither a value of the
 * language's catalogue (client/src/i18n, with {placeholders} standing for any data) nor free of
 * letters (numbers, dates, symbols). The screen tour and the story test assert it is empty.
 */
import type { Page } from 'playwright-core';
import { en } from '../../../client/src/i18n/en';
import { vi } from '../../../client/src/i18n/vi';

const CATALOGUES = { vi, en } as const;

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One regex per catalogue value (trimmed like the page's text); `{x}` matches any text. */
function templates(lang: 'vi' | 'en'): RegExp[] {
  return Object.values(CATALOGUES[lang])
    .map((v) => core(v))
    .filter((v) => /\p{L}/u.test(v.replace(/\{\w+\}/g, ''))) // a template of placeholders only would match anything
    .map(
      (v) =>
        new RegExp(
          `^${v
            .split(/\{\w+\}/)
            .map(escape)
            .join('.*?')}$`,
          'su',
        ),
    );
}

/** Trims what surrounds interface words: whitespace, bullets, arrows, marks, brackets, separators. */
function core(text: string): string {
  return text
    .replace(/\s+/g, ' ')
    .replace(/^[\s·•✓✕⚑↻←→⏸!?:;,.()[\]/–—\-+#*|⧉]+/u, '')
    .replace(/[\s·•✓✕⚑↻←→⏸!?:;,.()[\]/–—\-+#*|⧉]+$/u, '')
    .trim();
}

export async function visibleTexts(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const out: string[] = [];
    const hiddenByStyle = (el: Element): boolean => {
      for (let e: Element | null = el; e; e = e.parentElement) {
        if (e.getAttribute('translate') === 'no') return true;
        const tag = e.tagName.toLowerCase();
        if (tag === 'script' || tag === 'style' || tag === 'noscript' || tag === 'template') return true;
        if ((e as HTMLElement).hidden) return true;
        // Decorative (an avatar's initial, an icon) and what the user is typing are not interface text.
        if (e.getAttribute('aria-hidden') === 'true' || tag === 'textarea') return true;
        const cs = getComputedStyle(e);
        if (cs.display === 'none' || cs.visibility === 'hidden') return true;
      }
      return false;
    };
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const text = n.textContent ?? '';
      if (!text.trim() || !n.parentElement) continue;
      // <option> of a closed <select> is part of the control the clinician opens.
      if (hiddenByStyle(n.parentElement)) continue;
      out.push(text);
    }
    for (const el of Array.from(document.querySelectorAll('[placeholder], [aria-label], input[type="submit"], input[type="button"]'))) {
      if (hiddenByStyle(el)) continue;
      for (const a of ['placeholder', 'aria-label', 'value']) {
        if (a === 'value' && el.tagName !== 'INPUT') continue;
        const v = el.getAttribute(a);
        if (v && v.trim()) out.push(v);
      }
    }
    return out;
  });
}

/** Texts on the page that the language's catalogue does not have (empty = all translated). */
/**
 * Notation that is the same in both languages and not a word to translate: unit symbols
 * (lib/clinical-terms.ts), file sizes, and the radiologist's W / L (window width / level).
 */
const SYMBOLS = [
  '°C',
  '°F',
  'mmHg',
  '×10⁹/L',
  '×10¹²/L',
  'kg/m²',
  'kg',
  'cm',
  'm',
  'g',
  'mg/dL',
  'mg/L',
  'mmol/L',
  'µmol/L',
  'g/dL',
  'g/L',
  'U/L',
  'mL',
  'fL',
  'pg',
  '%',
  'B',
  'KB',
  'MB',
  'GB',
  'W',
  'L',
];

export async function untranslatedTexts(page: Page, lang: 'vi' | 'en'): Promise<string[]> {
  const patterns = templates(lang);
  const unitWords = Object.entries(CATALOGUES[lang])
    .filter(([k]) => k.startsWith('unit.'))
    .map(([, v]) => v);
  const units = [...SYMBOLS, ...unitWords].map(escape).join('|');
  const quantity = new RegExp(`^[\\d\\s.,/×⁰¹²³⁴⁵⁶⁷⁸⁹%-]*(${units})?$`, 'u');
  const known = (piece: string) => !piece || !/\p{L}/u.test(piece) || quantity.test(piece) || patterns.some((p) => p.test(piece));
  const bad = new Set<string>();
  for (const raw of await visibleTexts(page)) {
    const text = core(raw);
    if (known(text)) continue;
    // Catalogue words joined with " · " or ", " (e.g. the shared sections of a consult, the flagged findings).
    if (/ · |, /.test(text) && text.split(/ · |, /).every((p) => known(core(p)))) continue;
    bad.add(text);
  }
  return [...bad];
}
