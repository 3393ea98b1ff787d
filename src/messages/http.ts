/**
 * The language of an HTTP answer's messages: a page session's language when the request came from a
 * page, else the caller's `Accept-Language` (English when it names neither pl nor en).
 */
import { langOf, type Lang } from './catalogue.ts';

const LANG = Symbol('messageLang');
type WithLang = { [LANG]?: Lang; headers: Record<string, string | string[] | undefined> };

/** Pins the language of this request's messages (the page routes, from the page session). */
export function setRequestLang(request: object, lang: Lang): void {
  (request as WithLang)[LANG] = lang;
}

export function requestLang(request: object): Lang {
  const r = request as WithLang;
  if (r[LANG]) return r[LANG];
  const h = r.headers['accept-language'];
  return langOf(Array.isArray(h) ? h[0] : h);
}
