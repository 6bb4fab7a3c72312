/**
 * Where things are in a spec's text, and what YAML and JSON say about it in words people can act
 * on: offsets to lines and columns, the yaml library's error messages shortened, the opener of an
 * unclosed `[` or `{`, JSON.parse's complaint, and the node at a field path. Pure; used by parse.ts.
 */
import { CST, isMap, isPair, isScalar, isSeq, type Node, Parser } from 'yaml';

/**
 * The 1-based line and column of an offset into `text`. Not the yaml library's LineCounter: it
 * learns line starts from the tokens it lexes, so inside a token that spans lines (a file that is
 * not YAML) it put errors on earlier lines, at columns past the line's end.
 */
export function positions(text: string): (offset: number) => { line: number; column: number } {
  const starts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  };
}

/** Longest excerpt of the source a YAML syntax error quotes (its line and column point at the rest). */
const MAX_QUOTED = 40;

/**
 * One yaml library error message as Pontoon prints it: its first line, without the library's own
 * position (the caller prints the position), and any quoted token cut to the first line of its text
 * and MAX_QUOTED characters (`…` marks a cut), e.g. `Unexpected scalar token in YAML stream: "npm test"`.
 */
export function yamlMessage(message: string): string {
  // The yaml library appends a source excerpt after the first line; the position is ours to print.
  // The first line may quote a token of any length as a JSON string (a whole Markdown paragraph
  // when the file is not YAML): its first line, cut to MAX_QUOTED characters.
  return message
    .split('\n')[0]!
    .replace(/ at line \d+, column \d+:?$/, '')
    .replace(/: ("(?:[^"\\]|\\.)*")$/, (whole, quoted: string) => {
      let token: string;
      try {
        token = JSON.parse(quoted) as string;
      } catch {
        return whole;
      }
      const first = token.split(/\r?\n/)[0]!;
      const cut = first.length > MAX_QUOTED ? first.slice(0, MAX_QUOTED) : first;
      return `: ${JSON.stringify(cut === token ? cut : `${cut}…`)}`;
    });
}

/** The last flow collection (`[` or `{`) opened before `offset` and never closed, from the CST. */
export function unclosedFlowBefore(
  text: string,
  offset: number,
): { offset: number; open: string } | undefined {
  let found: { offset: number; open: string } | undefined;
  for (const token of new Parser().parse(text)) {
    if (token.type !== 'document') continue;
    CST.visit(token, (item) => {
      for (const node of [item.key, item.value]) {
        if (node?.type !== 'flow-collection' || node.start.offset >= offset) continue;
        const close = node.start.source === '[' ? ']' : '}';
        if (node.end.some((e) => e.source === close)) continue;
        if (!found || node.start.offset > found.offset)
          found = { offset: node.start.offset, open: node.start.source };
      }
    });
  }
  return found;
}

/**
 * JSON.parse's complaint about `text` and the offset it names (Node ≥ 20 says "at position N", newer
 * ones add "(line L column C)", dropped here: the caller locates the offset), or undefined when
 * `text` is valid JSON.
 */
export function jsonSyntaxProblem(text: string): { message: string; offset: number } | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (err) {
    const message = (err as Error).message;
    const named = /at position (\d+)/.exec(message)?.[1];
    const offset = named !== undefined ? Number(named) : /end of JSON input/.test(message) ? text.length : 0;
    return {
      message: message.replace(/ in JSON at position \d+.*$/, '').replace(/ \(line \d+ column \d+\)$/, ''),
      offset,
    };
  }
}

/** Finds the YAML node at a path; for a missing field, the nearest existing parent. */
export function findNode(
  root: Node | null,
  path: readonly (string | number)[],
  pointAtKey = false,
): { node: Node | null; keyNode?: Node } {
  let node: Node | null = root;
  let keyNode: Node | undefined;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (isMap(node)) {
      const pair = node.items.find(
        (it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg),
      );
      if (!pair) return { node };
      if (pointAtKey && i === path.length - 1) keyNode = pair.key as Node;
      node = (pair.value as Node | null) ?? (pair.key as Node);
    } else if (isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg] as Node | undefined;
      if (!item) return { node };
      node = item;
    } else {
      return { node };
    }
  }
  return { node, keyNode };
}
