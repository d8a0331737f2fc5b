/**
 * A small XML parser for TwiML documents: elements, attributes (single or double quoted), text,
 * CDATA, comments, processing instructions and a DOCTYPE (both skipped), and the five predefined
 * entities plus numeric character references. It is strict where Twilio's parser is (tags must
 * nest and close, attributes must be quoted, one root element) and lenient about whitespace.
 * Twilio reports a document it cannot parse as error 12100 "Document parse failure".
 */

export interface TwimlElement {
  name: string;
  attributes: Record<string, string>;
  children: TwimlElement[];
  /** The element's own text content (child elements' text excluded), entities decoded. */
  text: string;
  /** Text and child elements in document order. */
  nodes: Array<string | TwimlElement>;
}

export class TwimlParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TwimlParseError";
  }
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const SPACE = /\s*/y;

const ENTITIES: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9A-Fa-f]+|#[0-9]+|[A-Za-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith("#x")) return String.fromCodePoint(Number.parseInt(ref.slice(2), 16));
    if (ref.startsWith("#")) return String.fromCodePoint(Number.parseInt(ref.slice(1), 10));
    const named = ENTITIES[ref];
    if (named === undefined) throw new TwimlParseError(`unknown entity ${whole}`);
    return named;
  });
}

/** Parses a whole document and returns its root element. */
export function parseTwiml(xml: string): TwimlElement {
  let at = 0;
  const source = xml.replace(/^\uFEFF/, "");

  const fail = (message: string): never => {
    throw new TwimlParseError(`${message} at offset ${at}`);
  };
  const skipSpace = (): void => {
    SPACE.lastIndex = at;
    SPACE.exec(source);
    at = SPACE.lastIndex;
  };
  const readName = (): string => {
    NAME.lastIndex = at;
    const match = NAME.exec(source);
    if (!match) return fail("expected a name");
    at = NAME.lastIndex;
    return match[0];
  };
  const skipUntil = (end: string): void => {
    const index = source.indexOf(end, at);
    if (index < 0) fail(`unterminated construct, expected ${end}`);
    at = index + end.length;
  };
  /** Skips comments, processing instructions and DOCTYPE; true if something was skipped. */
  const skipMisc = (): boolean => {
    if (source.startsWith("<!--", at)) {
      skipUntil("-->");
      return true;
    }
    if (source.startsWith("<?", at)) {
      skipUntil("?>");
      return true;
    }
    if (source.startsWith("<!DOCTYPE", at)) {
      skipUntil(">");
      return true;
    }
    return false;
  };

  const parseElement = (): TwimlElement => {
    if (source[at] !== "<") fail("expected an element");
    at += 1;
    const name = readName();
    const attributes: Record<string, string> = {};
    for (;;) {
      const before = at;
      skipSpace();
      if (source.startsWith("/>", at)) {
        at += 2;
        return { name, attributes, children: [], text: "", nodes: [] };
      }
      if (source[at] === ">") {
        at += 1;
        break;
      }
      if (at === before) fail(`expected whitespace in <${name}>`);
      const attribute = readName();
      skipSpace();
      if (source[at] !== "=") fail(`attribute ${attribute} has no value`);
      at += 1;
      skipSpace();
      const quote = source[at];
      if (quote !== '"' && quote !== "'") return fail(`attribute ${attribute} is not quoted`);
      const end = source.indexOf(quote, at + 1);
      if (end < 0) fail(`attribute ${attribute} is not closed`);
      const raw = source.slice(at + 1, end);
      if (raw.includes("<")) fail(`'<' in the value of attribute ${attribute}`);
      if (Object.hasOwn(attributes, attribute)) fail(`attribute ${attribute} appears twice`);
      attributes[attribute] = decodeEntities(raw);
      at = end + 1;
    }
    const children: TwimlElement[] = [];
    const nodes: Array<string | TwimlElement> = [];
    let text = "";
    for (;;) {
      if (at >= source.length) fail(`<${name}> is not closed`);
      if (source.startsWith("</", at)) {
        at += 2;
        const closing = readName();
        if (closing !== name) fail(`</${closing}> closes <${name}>`);
        skipSpace();
        if (source[at] !== ">") fail(`malformed </${closing}>`);
        at += 1;
        return { name, attributes, children, text, nodes };
      }
      if (source.startsWith("<![CDATA[", at)) {
        const end = source.indexOf("]]>", at);
        if (end < 0) fail("unterminated CDATA");
        text += source.slice(at + 9, end);
        nodes.push(source.slice(at + 9, end));
        at = end + 3;
        continue;
      }
      if (skipMisc()) continue;
      if (source[at] === "<") {
        const child = parseElement();
        children.push(child);
        nodes.push(child);
        continue;
      }
      const next = source.indexOf("<", at);
      const end = next < 0 ? source.length : next;
      const chunk = decodeEntities(source.slice(at, end));
      text += chunk;
      nodes.push(chunk);
      at = end;
    }
  };

  for (;;) {
    skipSpace();
    if (!skipMisc()) break;
  }
  if (at >= source.length) fail("empty document");
  const root = parseElement();
  for (;;) {
    skipSpace();
    if (at >= source.length) break;
    if (!skipMisc()) fail("content after the root element");
  }
  return root;
}

/** The element's text with surrounding whitespace removed and inner runs collapsed. */
export const textOf = (element: TwimlElement): string => element.text.replace(/\s+/g, " ").trim();

/** All text inside the element, nested elements' included, in order (`<Say>` with SSML). */
export function deepTextOf(element: TwimlElement): string {
  const collect = (node: string | TwimlElement): string => (typeof node === "string" ? node : node.nodes.map(collect).join(""));
  return collect(element).replace(/\s+/g, " ").trim();
}

/** XML-escapes text for attribute values and element content. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&apos;");
}
