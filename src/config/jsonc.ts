import { createScanner, printParseErrorCode, visit } from "jsonc-parser";

/**
 * JSON with comments (JSONC), as `nd-presence init` writes it, read by Microsoft's `jsonc-parser`
 * (VS Code's settings reader): comments, and trailing commas so that uncommenting an example entry
 * cannot break a file. Not `JSON.parse`: its messages differ between Node and Deno, newer V8
 * quotes the text around the error (which may be a token), and a config author needs a line and a
 * column. The messages are ours (`messageAt`): the library names the token it wanted, ours say what
 * to do.
 */

/** A syntax error, 1-based line and column, and a message that quotes nothing from the text. */
export class JsoncError extends Error {
  constructor(readonly line: number, readonly column: number, message: string) {
    super(message);
    this.name = "JsoncError";
  }
}

/** What the parser waits for next in one object, list, or the file itself (`container` null). */
interface Frame {
  container: Record<string, unknown> | unknown[] | null;
  expect: "value" | "key" | "colon" | "after";
  key?: string;
  keys?: Set<string>;
}

/** The first problem, with the frame it happened in: what was expected there decides the message. */
interface Failure {
  offset: number;
  message?: string;
  frame: Frame;
  /** The object or list the library had just closed, for its "} or ] expected at the end". */
  closed: Frame | undefined;
  code: string;
  /** Where the last number read ends: "2000ms" is one bad number, not a number and a word. */
  numberEnd: number;
}

/**
 * Parses JSONC into plain values. Throws `JsoncError` on a syntax error or a key given twice.
 *
 * @example
 * parseJsonc('{ /* users *\/ "users": [], }'); // { users: [] }
 */
export function parseJsonc(input: string): unknown {
  const text = input.replace(/^\uFEFF/, "");
  const root: Frame = { container: null, expect: "value" };
  const stack: Frame[] = [root];
  let value: unknown;
  let numberEnd = -1;
  let closed: Frame | undefined;
  let failure: Failure | undefined;
  const top = () => stack[stack.length - 1]!;
  const fail = (code: string, offset: number, message?: string) => {
    failure ??= { code, offset, message, frame: { ...top() }, closed, numberEnd };
  };
  const attach = (item: unknown) => {
    const frame = top();
    if (Array.isArray(frame.container)) frame.container.push(item);
    // defineProperty: a key named __proto__ is data here, not the object's prototype (the
    // library's own `parse` assigns it, which is why the values are built here).
    else if (frame.container) Object.defineProperty(frame.container, frame.key!, { value: item, enumerable: true, writable: true, configurable: true });
    else value = item;
    frame.expect = "after";
  };
  visit(text, {
    onObjectBegin: () => {
      const object = {};
      attach(object);
      stack.push({ container: object, expect: "key", keys: new Set() });
    },
    onArrayBegin: () => {
      const list: unknown[] = [];
      attach(list);
      stack.push({ container: list, expect: "value" });
    },
    onObjectEnd: () => void (closed = stack.pop()),
    onArrayEnd: () => void (closed = stack.pop()),
    onObjectProperty: (key, offset) => {
      const frame = top();
      // JSON.parse keeps the last of two equal keys; a config author almost never means that.
      if (frame.keys!.has(key)) fail("DuplicateKey", offset, `the key "${key}" appears twice in this object; keep one`);
      frame.keys!.add(key);
      frame.key = key;
      frame.expect = "colon";
    },
    onSeparator: (separator) => {
      const frame = top();
      frame.expect = separator === ":" || Array.isArray(frame.container) ? "value" : "key";
    },
    onLiteralValue: (literal, offset, length) => {
      attach(literal);
      if (typeof literal === "number") numberEnd = offset + length;
    },
    onError: (code, offset) => fail(printParseErrorCode(code), offset),
  }, { allowTrailingComma: true, disallowComments: false });
  // An unclosed /* hides the rest of the file, so it is named first, whatever else is wrong.
  const unclosed = unclosedComment(text);
  if (unclosed !== undefined) throw errorAt(text, unclosed, "this /* comment is never closed; add */");
  if (failure) {
    const [offset, message] = failure.message === undefined ? messageAt(text, failure) : [failure.offset, failure.message];
    throw errorAt(text, offset, message);
  }
  return value;
}

/**
 * Where and what to say for a syntax error: from what the parser expected and the text there, as
 * a reader would fix it ("is a comma missing?"). The library reports an error inside a string or
 * a number at the token's start; these point at the character that is wrong.
 */
function messageAt(text: string, failure: Failure): [number, string] {
  const { offset, frame, closed, code, numberEnd } = failure;
  const c = text[offset];
  const inList = Array.isArray(frame.container);
  // The loop over an object's or list's entries ended at the end of the file.
  if (code === "CloseBraceExpected") return [offset, "the file ends inside an object; add }"];
  if (code === "CloseBracketExpected") {
    return [offset, closed?.expect === "value" ? "the file ends too early; a } or ] may be missing" : "the file ends inside a list; add ]"];
  }
  const after = (at: number): [number, string] => {
    if (frame.container === null) return [at, "unexpected text after the end of the config; remove it"];
    if (text[at] === undefined) return [at, inList ? "the file ends inside a list; add ]" : "the file ends inside an object; add }"];
    return [at, `expected , or ${inList ? "]" : "}"} after a value; is a comma missing?`];
  };
  switch (frame.expect) {
    case "colon":
      return [offset, `expected : after the key "${frame.key}"`];
    case "after":
      // "2000ms", "01": a number runs straight into more letters or digits.
      if (offset === numberEnd && /[0-9A-Za-z_.]/.test(c ?? "")) return [offset, "invalid number; write digits, e.g. 2000, or quote a string"];
      return after(offset);
    case "key":
      if (c === '"') return stringProblem(text, offset);
      if (c === "'") return [offset, "keys need double quotes, not single quotes"];
      return [offset, c === undefined ? "the file ends inside an object; add }" : "expected a key in double quotes, or }"];
    case "value": {
      if (c === undefined) {
        return frame.container === null ? [0, "the file is empty; it must hold a JSON object"] : [offset, "the file ends too early; a } or ] may be missing"];
      }
      if (c === '"') return stringProblem(text, offset);
      if (c === "-" || (c >= "0" && c <= "9")) {
        const valid = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(offset));
        return valid
          ? [offset + valid[0].length, "invalid number; write digits, e.g. 2000, or quote a string"]
          : [offset, "invalid number; write digits, e.g. 2000"];
      }
      // "truex": the library reads one unknown word; the word is a value, the x is what follows it.
      const word = /^(true|false|null)/.exec(text.slice(offset));
      if (word) return after(offset + word[0].length);
      if (c === "'") return [offset, "strings need double quotes, not single quotes"];
      if (c === "}" || c === "]" || c === ",") return [offset, `expected a value before this ${c}`];
      return [offset, "expected a value: a string in double quotes, a number, true, false, null, { or ["];
    }
  }
}

/** Where a block comment that is never closed starts, if there is one. */
function unclosedComment(text: string): number | undefined {
  const scanner = createScanner(text);
  while (scanner.getPosition() < text.length) {
    scanner.scan();
    // The only token with an error that starts with /* is a comment without its */.
    if (scanner.getTokenError() && text.startsWith("/*", scanner.getTokenOffset())) return scanner.getTokenOffset();
  }
  return undefined;
}

/** The first thing wrong in the string starting at `start`: its end, an escape, or a control character. */
function stringProblem(text: string, start: number): [number, string] {
  // Control characters are exactly what this looks for: JSON forbids them unescaped in strings.
  // deno-lint-ignore no-control-regex
  const valid = /^"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*/.exec(text.slice(start))![0].length;
  const at = start + valid;
  const c = text[at];
  if (c === undefined || c === "\n") return [start, 'this string is never closed; add a " at its end'];
  if (c === "\\") return [at, "invalid escape in a string; a backslash is written \\\\"];
  return [at, "a string cannot hold a control character; write \\t or \\n instead"];
}

function errorAt(text: string, offset: number, message: string): JsoncError {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return new JsoncError(line, column, message);
}
