/**
 * Clinical terms as clinicians read them: display names of the common LOINC vitals and labs
 * (vi/en catalogue keys) and UCUM units written the way they are on a Vietnamese chart
 * (°C, mmHg, ×10⁹/L, lần/phút ...). A code not in the list shows the record's own text.
 */
import type { MessageKey } from '../i18n';

export const LOINC_KEYS: Record<string, MessageKey> = {
  '8480-6': 'loinc.8480-6',
  '8462-4': 'loinc.8462-4',
  '85354-9': 'loinc.85354-9',
  '55284-4': 'loinc.85354-9',
  '8867-4': 'loinc.8867-4',
  '8310-5': 'loinc.8310-5',
  '8331-1': 'loinc.8310-5',
  '9279-1': 'loinc.9279-1',
  '59408-5': 'loinc.59408-5',
  '2708-6': 'loinc.59408-5',
  '29463-7': 'loinc.29463-7',
  '8302-2': 'loinc.8302-2',
  '39156-5': 'loinc.39156-5',
  '2345-7': 'loinc.2345-7',
  '2339-0': 'loinc.2345-7',
  '4548-4': 'loinc.4548-4',
  '6690-2': 'loinc.6690-2',
  '26464-8': 'loinc.6690-2',
  '789-8': 'loinc.789-8',
  '718-7': 'loinc.718-7',
  '4544-3': 'loinc.4544-3',
  '777-3': 'loinc.777-3',
  '2160-0': 'loinc.2160-0',
  '33914-3': 'loinc.33914-3',
  '1742-6': 'loinc.1742-6',
  '1920-8': 'loinc.1920-8',
  '2093-3': 'loinc.2093-3',
  '2951-2': 'loinc.2951-2',
  '2823-3': 'loinc.2823-3',
  '1988-5': 'loinc.1988-5',
  '3094-0': 'loinc.3094-0',
};

/** The catalogue key of the first LOINC code that has one. */
export function loincKey(codes: readonly string[]): MessageKey | undefined {
  for (const c of codes) {
    const k = LOINC_KEYS[c];
    if (k) return k;
  }
  return undefined;
}

/** UCUM code (or the unit text a record carries) → the unit as written on a chart; `words` for units in words. */
const UNIT_SYMBOLS: Record<string, string> = {
  Cel: '°C',
  '[degF]': '°F',
  'mm[Hg]': 'mmHg',
  '10*3/uL': '×10⁹/L',
  '10*3/mm3': '×10⁹/L',
  '10*9/L': '×10⁹/L',
  '10*6/uL': '×10¹²/L',
  '10*12/L': '×10¹²/L',
  'kg/m2': 'kg/m²',
  umol: 'µmol',
  'umol/L': 'µmol/L',
  uL: 'µL',
  'mL/min/{1.73_m2}': 'mL/phút/1,73 m²',
  '%': '%',
  kg: 'kg',
  g: 'g',
  cm: 'cm',
  m: 'm',
  'g/dL': 'g/dL',
  'g/L': 'g/L',
  'mg/dL': 'mg/dL',
  'mg/L': 'mg/L',
  'mmol/L': 'mmol/L',
  'U/L': 'U/L',
  fL: 'fL',
  pg: 'pg',
};

/** Units that are words in the clinician's language: their catalogue key. */
const UNIT_WORDS: Record<string, MessageKey> = {
  '/min': 'unit.perMinute',
  '{beats}/min': 'unit.beatsPerMinute',
  'beats/minute': 'unit.beatsPerMinute',
  '{breaths}/min': 'unit.breathsPerMinute',
  'breaths/minute': 'unit.breathsPerMinute',
};

export type UnitText = { symbol: string } | { key: MessageKey } | null;

/** How to write a unit: a symbol (same in both languages), a word (catalogue key), or nothing. */
export function clinicianUnit(ucum: string | undefined, text?: string): UnitText {
  for (const u of [ucum, text]) {
    if (!u) continue;
    const word = UNIT_WORDS[u];
    if (word) return { key: word };
    const symbol = UNIT_SYMBOLS[u];
    if (symbol) return { symbol };
  }
  const raw = text ?? ucum;
  if (!raw || raw === '1') return null;
  // Unknown UCUM: at least write 10*n as ×10ⁿ and u as µ.
  // eslint-disable-next-line @typescript-eslint/no-misused-spread -- n is ASCII digits only (the regex matched \d+)
  return { symbol: raw.replace(/10\*(\d+)/g, (_m, n: string) => `×10${[...n].map((d) => '⁰¹²³⁴⁵⁶⁷⁸⁹'[Number(d)]).join('')}`).replace(/\bu(?=[gLlm])/g, 'µ') };
}

/** LOINC "Heart rate" with UCUM "/min" reads as beats per minute; a respiratory rate as breaths. */
export function unitForCode(codes: readonly string[], ucum: string | undefined, text?: string): UnitText {
  if (ucum === '/min' || text === '/min') {
    if (codes.includes('8867-4')) return { key: 'unit.beatsPerMinute' };
    if (codes.includes('9279-1')) return { key: 'unit.breathsPerMinute' };
  }
  return clinicianUnit(ucum, text);
}
