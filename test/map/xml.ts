/**
 * A strict, small XML reader for the tests: it parses an SVG (or the XHTML-compatible HTML page)
 * into a tree and throws on anything that is not well-formed: unclosed or mismatched tags, text
 * or attributes with a raw `<` or an `&` that starts no valid entity, unquoted or repeated
 * attributes, characters XML forbids, more than one root element.
 */

export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  /** The decoded text directly inside the element (not in its children). */
  text: string;
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;
const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** Decodes entity references, refusing a bare `&`, an unknown entity or a `<`. */
function decode(raw: string, where: number): string {
  if (raw.includes('<')) throw new Error(`raw '<' at ${where}`);
  return raw.replace(/&([^;&\s]*);?/g, (all, body: string) => {
    if (!all.endsWith(';')) throw new Error(`bare '&' at ${where}: ${JSON.stringify(all)}`);
    if (body.startsWith('#x')) return String.fromCodePoint(Number.parseInt(body.slice(2), 16));
    if (body.startsWith('#')) return String.fromCodePoint(Number.parseInt(body.slice(1), 10));
    const v = ENTITIES[body];
    if (v === undefined) throw new Error(`unknown entity &${body}; at ${where}`);
    return v;
  });
}

function checkChars(src: string): void {
  for (let i = 0; i < src.length; i++) {
    const c = src.charCodeAt(i);
    if ((c < 0x20 && c !== 9 && c !== 10 && c !== 13) || c === 0xfffe || c === 0xffff) throw new Error(`forbidden character U+${c.toString(16)} at ${i}`);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = src.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) throw new Error(`unpaired surrogate at ${i}`);
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) throw new Error(`unpaired surrogate at ${i}`);
  }
}

/** Parses `src`; returns the root element. */
export function parseXml(src: string): XmlElement {
  checkChars(src);
  let i = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const skipSpace = (): void => {
    while (i < src.length && /\s/.test(src[i])) i++;
  };
  while (i < src.length) {
    if (src.startsWith('<?', i)) {
      const end = src.indexOf('?>', i);
      if (end < 0 || stack.length > 0 || root !== undefined) throw new Error(`bad processing instruction at ${i}`);
      i = end + 2;
    } else if (src.startsWith('<!--', i)) {
      const end = src.indexOf('-->', i);
      if (end < 0) throw new Error(`unclosed comment at ${i}`);
      i = end + 3;
    } else if (src.startsWith('<!DOCTYPE', i)) {
      const end = src.indexOf('>', i);
      if (stack.length > 0 || root !== undefined) throw new Error(`misplaced DOCTYPE at ${i}`);
      i = end + 1;
    } else if (src.startsWith('</', i)) {
      const m = NAME.exec(src.slice(i + 2));
      const top = stack.pop();
      if (m === null || top === undefined || top.name !== m[0]) throw new Error(`mismatched close tag at ${i}: ${src.slice(i, i + 20)}`);
      i += 2 + m[0].length;
      skipSpace();
      if (src[i] !== '>') throw new Error(`bad close tag at ${i}`);
      i++;
    } else if (src[i] === '<') {
      const m = NAME.exec(src.slice(i + 1));
      if (m === null) throw new Error(`bad tag at ${i}`);
      i += 1 + m[0].length;
      const attrs: Record<string, string> = {};
      for (;;) {
        const before = i;
        skipSpace();
        if (src.startsWith('/>', i) || src[i] === '>') break;
        if (i === before) throw new Error(`attributes need spaces between them at ${i}`);
        const a = NAME.exec(src.slice(i));
        if (a === null) throw new Error(`bad attribute at ${i}`);
        i += a[0].length;
        if (src[i] !== '=') throw new Error(`attribute ${a[0]} without a value at ${i}`);
        const q = src[i + 1];
        if (q !== '"' && q !== "'") throw new Error(`unquoted attribute ${a[0]} at ${i}`);
        const end = src.indexOf(q, i + 2);
        if (end < 0) throw new Error(`unterminated attribute ${a[0]} at ${i}`);
        if (Object.hasOwn(attrs, a[0])) throw new Error(`repeated attribute ${a[0]} at ${i}`);
        attrs[a[0]] = decode(src.slice(i + 2, end), i);
        i = end + 1;
      }
      const el: XmlElement = { name: m[0], attrs, children: [], text: '' };
      if (stack.length > 0) stack[stack.length - 1].children.push(el);
      else if (root === undefined) root = el;
      else throw new Error(`a second root element at ${i}`);
      if (src.startsWith('/>', i)) i += 2;
      else {
        i++;
        stack.push(el);
      }
    } else {
      const end = src.indexOf('<', i);
      const raw = src.slice(i, end < 0 ? src.length : end);
      if (stack.length === 0) {
        if (raw.trim() !== '') throw new Error(`text outside the root at ${i}`);
      } else {
        stack[stack.length - 1].text += decode(raw, i);
      }
      i += raw.length;
    }
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (root === undefined) throw new Error('no root element');
  return root;
}

/** Every element under `el` (itself included), depth first. */
export function allElements(el: XmlElement): XmlElement[] {
  const out = [el];
  for (const c of el.children) out.push(...allElements(c));
  return out;
}

/** Elements whose class list has `cls`. */
export function byClass(el: XmlElement, cls: string): XmlElement[] {
  return allElements(el).filter((e) => (e.attrs.class ?? '').split(/\s+/).includes(cls));
}

/** All text under `el`, in document order. */
/** The text of every `<text>` element under `el`, one line each joined by spaces (a wrapped title reads as one). */
export function linesOf(el: XmlElement): string {
  return allElements(el)
    .filter((e) => e.name === 'text')
    .map(textOf)
    .join(' ');
}

export function textOf(el: XmlElement): string {
  return el.text + el.children.map(textOf).join('');
}
