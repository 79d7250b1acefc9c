/**
 * Escaping of text for SVG and HTML (XML text and attribute values). Type names and titles are
 * user strings: every one goes through `escapeXml` before it is written into a picture.
 */

/**
 * `text` safe inside XML/HTML text or a quoted attribute: `& < > " '` become entities, and the
 * characters XML 1.0 forbids even escaped (control characters other than tab, newline and
 * carriage return; U+FFFE, U+FFFF; unpaired surrogates) become U+FFFD.
 */
export function escapeXml(text: string): string {
  let out = '';
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    let rep: string | undefined;
    if (c === 0x26) rep = '&amp;';
    else if (c === 0x3c) rep = '&lt;';
    else if (c === 0x3e) rep = '&gt;';
    else if (c === 0x22) rep = '&quot;';
    else if (c === 0x27) rep = '&#39;';
    else if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0xfffe || c === 0xffff) rep = '\ufffd';
    else if (c >= 0xd800 && c <= 0xdbff) {
      const d = i + 1 < text.length ? text.charCodeAt(i + 1) : 0;
      if (d >= 0xdc00 && d <= 0xdfff) i++; // a pair: kept as it is
      else rep = '\ufffd';
    } else if (c >= 0xdc00 && c <= 0xdfff) rep = '\ufffd';
    if (rep !== undefined) {
      out += text.slice(from, i) + rep;
      from = i + 1;
    }
  }
  return out + text.slice(from);
}
