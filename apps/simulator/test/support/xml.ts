// A strict reader of the XML subset an SVG file uses (declaration, comments, elements, attributes,
// text, the five predefined entities and numeric references). It throws on anything that is not
// well-formed, which is what the chart test checks.

export interface XmlElement {
  readonly name: string;
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: XmlElement[];
  text: string;
}

const NAME = /^[A-Za-z_:][-A-Za-z0-9_:.]*/;

function checkText(text: string, where: number): string {
  if (text.includes('<')) throw new Error(`"<" in character data at ${where}`);
  return text.replace(/&([^;]*);?/g, (match, entity: string) => {
    if (!match.endsWith(';')) throw new Error(`unterminated entity at ${where}`);
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (entity in named) return named[entity]!;
    if (/^#\d+$/.test(entity)) return String.fromCodePoint(Number(entity.slice(1)));
    if (/^#x[0-9a-fA-F]+$/.test(entity)) return String.fromCodePoint(parseInt(entity.slice(2), 16));
    throw new Error(`unknown entity &${entity}; at ${where}`);
  });
}

export function parseXml(source: string): XmlElement {
  let position = 0;
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  if (source.startsWith('<?xml')) {
    const end = source.indexOf('?>');
    if (end === -1) throw new Error('unterminated XML declaration');
    position = end + 2;
  }
  while (position < source.length) {
    const next = source.indexOf('<', position);
    const text = source.slice(position, next === -1 ? source.length : next);
    const decoded = checkText(text, position);
    if (stack.length > 0) stack[stack.length - 1]!.text += decoded;
    else if (text.trim() !== '') throw new Error(`text outside the root element at ${position}`);
    if (next === -1) break;
    position = next;
    if (source.startsWith('<!--', position)) {
      const end = source.indexOf('-->', position + 4);
      if (end === -1) throw new Error(`unterminated comment at ${position}`);
      position = end + 3;
      continue;
    }
    if (source.startsWith('</', position)) {
      const match = NAME.exec(source.slice(position + 2));
      if (match === null) throw new Error(`bad closing tag at ${position}`);
      const close = source.indexOf('>', position);
      if (close === -1 || source.slice(position + 2 + match[0].length, close).trim() !== '') throw new Error(`bad closing tag at ${position}`);
      const open = stack.pop();
      if (open === undefined || open.name !== match[0]) throw new Error(`</${match[0]}> at ${position} closes <${open?.name ?? 'nothing'}>`);
      position = close + 1;
      continue;
    }
    const match = NAME.exec(source.slice(position + 1));
    if (match === null) throw new Error(`bad tag at ${position}`);
    position += 1 + match[0].length;
    const attributes: Record<string, string> = Object.create(null) as Record<string, string>;
    for (;;) {
      const rest = source.slice(position);
      const attribute = /^\s+([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*("([^"<]*)"|'([^'<]*)')/.exec(rest);
      if (attribute !== null) {
        if (attribute[1]! in attributes) throw new Error(`attribute ${attribute[1]} repeated at ${position}`);
        attributes[attribute[1]!] = checkText(attribute[3] ?? attribute[4] ?? '', position);
        position += attribute[0].length;
        continue;
      }
      const end = /^\s*(\/?)>/.exec(rest);
      if (end === null) throw new Error(`bad attribute or tag end at ${position}`);
      position += end[0].length;
      const element: XmlElement = { name: match[0], attributes, children: [], text: '' };
      if (stack.length > 0) stack[stack.length - 1]!.children.push(element);
      else if (root === undefined) root = element;
      else throw new Error(`second root element at ${position}`);
      if (end[1] !== '/') stack.push(element);
      break;
    }
  }
  if (stack.length > 0) throw new Error(`<${stack[stack.length - 1]!.name}> is never closed`);
  if (root === undefined) throw new Error('no root element');
  return root;
}

/** Every element under `element` (itself included) with this name. */
export function findAll(element: XmlElement, name: string): XmlElement[] {
  const found = element.name === name ? [element] : [];
  for (const child of element.children) found.push(...findAll(child, name));
  return found;
}
