/**
 * Vietnamese and English. `en` defines the keys; `vi` must have exactly the same keys (a missing
 * translation is a compile error). Dates and numbers are formatted with Intl for vi-VN / en-GB.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { en, type MessageKey, type Messages } from './en';
import { vi } from './vi';

export type Lang = 'vi' | 'en';
export type { MessageKey };

const dictionaries: Record<Lang, Messages> = { vi, en };
const locales: Record<Lang, string> = { vi: 'vi-VN', en: 'en-GB' };
const STORAGE_KEY = 'hoichan.lang';

export function initialLang(): Lang {
  const stored = window.localStorage.getItem(STORAGE_KEY);
  if (stored === 'vi' || stored === 'en') return stored;
  return (navigator.language || '').toLowerCase().startsWith('vi') ? 'vi' : 'en';
}

export type Params = Record<string, string | number>;

export interface I18n {
  lang: Lang;
  locale: string;
  // Function-typed properties, not methods: callers destructure them (`const { t } = useI18n()`).
  setLang: (lang: Lang) => void;
  t: (key: MessageKey, params?: Params) => string;
  date: (value: string | number | Date) => string;
  dateTime: (value: string | number | Date) => string;
  time: (value: string | number | Date) => string;
  number: (value: number, opts?: Intl.NumberFormatOptions) => string;
  percent: (value: number) => string;
  bytes: (value: number) => string;
}

const I18nContext = createContext<I18n | null>(null);

function interpolate(template: string, params?: Params): string {
  if (!params) return template;
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

function toDate(v: string | number | Date): Date {
  return v instanceof Date ? v : new Date(v);
}

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(initialLang);
  const setLang = useCallback((l: Lang) => {
    window.localStorage.setItem(STORAGE_KEY, l);
    setLangState(l);
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  const value = useMemo<I18n>(() => {
    const locale = locales[lang];
    const dict = dictionaries[lang];
    const dateFmt = new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit', year: 'numeric' });
    const dateTimeFmt = new Intl.DateTimeFormat(locale, { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' });
    const timeFmt = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' });
    const pctFmt = new Intl.NumberFormat(locale, { style: 'percent', maximumFractionDigits: 0 });
    const safe = (f: Intl.DateTimeFormat, v: string | number | Date) => {
      const d = toDate(v);
      return Number.isNaN(d.getTime()) ? String(v) : f.format(d);
    };
    return {
      lang,
      locale,
      setLang,
      t: (key, params) => interpolate(dict[key], params),
      date: (v) => safe(dateFmt, v),
      dateTime: (v) => safe(dateTimeFmt, v),
      time: (v) => safe(timeFmt, v),
      number: (v, opts) => new Intl.NumberFormat(locale, opts).format(v),
      percent: (v) => pctFmt.format(v),
      bytes: (v) => {
        const units = ['B', 'KB', 'MB', 'GB'];
        let n = v;
        let u = 0;
        while (n >= 1024 && u < units.length - 1) {
          n /= 1024;
          u++;
        }
        return `${new Intl.NumberFormat(locale, { maximumFractionDigits: u ? 1 : 0 }).format(n)} ${units[u]}`;
      },
    };
  }, [lang, setLang]);

  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

export function useI18n(): I18n {
  const ctx = useContext(I18nContext);
  if (!ctx) throw new Error('useI18n outside I18nProvider');
  return ctx;
}
