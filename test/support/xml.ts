/**
 * A small structural XML reader for tests (no XML parser is a direct dependency): checks the document is
 * well-formed (one root, every start tag closed in order, attributes quoted, only the five predefined
 * entities) and returns the element tree with text content unescaped.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const unescape = (s: string): string => {
  const bad = /&(?!(amp|lt|gt|quot|apos);)/.exec(s);
  if (bad) throw new Error(`unknown entity at "${s.slice(bad.index, bad.index + 10)}"`);
  return s.replaceAll('&lt;', '<').replaceAll('&gt;', '>').replaceAll('&quot;', '"').replaceAll('&apos;', "'").replaceAll('&amp;', '&');
};

export function parseXml(source: string): XmlElement {
  let s = source;
  const decl = /^<\?xml\s+version="1\.0"(\s+encoding="UTF-8")?\s*\?>\s*/.exec(s);
  if (!decl) throw new Error('no XML declaration');
  s = s.slice(decl[0].length);
  const token = /<(\/?)([A-Za-z_][\w.-]*(?::[\w.-]+)?)((?:\s+[\w:.-]+\s*=\s*"[^"<]*")*)\s*(\/?)>|([^<]+)/y;
  const root: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [root];
  let pos = 0;
  while (pos < s.length) {
    token.lastIndex = pos;
    const m = token.exec(s);
    if (!m) throw new Error(`not well-formed at "${s.slice(pos, pos + 30)}"`);
    pos = token.lastIndex;
    const top = stack[stack.length - 1] as XmlElement;
    if (m[5] !== undefined) {
      if (stack.length === 1 && m[5].trim() !== '') throw new Error('text outside the root element');
      top.text += unescape(m[5]);
      continue;
    }
    const [, close, name, attrText, selfClose] = m as unknown as [string, string, string, string, string];
    if (close) {
      if (top.name !== name) throw new Error(`</${name}> closes <${top.name}>`);
      stack.pop();
      continue;
    }
    const attrs: Record<string, string> = {};
    for (const a of attrText.matchAll(/([\w:.-]+)\s*=\s*"([^"]*)"/g)) attrs[a[1] as string] = unescape(a[2] as string);
    const el: XmlElement = { name, attrs, children: [], text: '' };
    if (stack.length === 1 && root.children.length > 0) throw new Error('more than one root element');
    top.children.push(el);
    if (!selfClose) stack.push(el);
  }
  if (stack.length !== 1) throw new Error(`<${(stack[stack.length - 1] as XmlElement).name}> is never closed`);
  if (root.children.length !== 1) throw new Error('no root element');
  return root.children[0] as XmlElement;
}

/** The first element at a path of names below `el` ("Fa/P_2"), or undefined. */
export function xmlAt(el: XmlElement, path: string): XmlElement | undefined {
  let cur: XmlElement | undefined = el;
  for (const part of path.split('/')) cur = cur?.children.find((c) => c.name === part);
  return cur;
}
