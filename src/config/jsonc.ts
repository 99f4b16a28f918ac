/**
 * JSON with comments (JSONC), as `nd-presence init` writes it. Hand-written rather than
 * `JSON.parse` for two reasons: its error messages differ between Node and Deno (and newer V8
 * quotes the text around the error, which may be a token), and a config author needs a line and a
 * column. Trailing commas are accepted, so that uncommenting an example entry cannot break a file.
 */

/** A syntax error, 1-based line and column, and a message that quotes nothing from the text. */
export class JsoncError extends Error {
  constructor(readonly line: number, readonly column: number, message: string) {
    super(message);
    this.name = "JsoncError";
  }
}

/**
 * The text with every `//` and `/* *\/` comment outside strings replaced by spaces. Newlines are
 * kept, so line and column numbers still point into the original text.
 *
 * @example
 * stripComments('{"a": 1 // one\n}'); // '{"a": 1       \n}'
 */
export function stripComments(text: string): string {
  let out = "";
  let i = 0;
  const blank = (s: string) => s.replace(/[^\r\n]/g, " ");
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const end = stringEnd(text, i);
      out += text.slice(i, end);
      i = end;
    } else if (c === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      const stop = end < 0 ? text.length : end;
      out += blank(text.slice(i, stop));
      i = stop;
    } else if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) throw errorAt(text, i, "this /* comment is never closed; add */");
      out += blank(text.slice(i, end + 2));
      i = end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Where the string starting at `start` ends (after its closing quote, or at the line's end). */
function stringEnd(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"' && text[i] !== "\n") i += text[i] === "\\" ? 2 : 1;
  return Math.min(i + 1, text.length);
}

/**
 * Parses JSONC into plain values. Throws `JsoncError` on a syntax error or a key given twice.
 *
 * @example
 * parseJsonc('{ /* users *\/ "users": [], }'); // { users: [] }
 */
export function parseJsonc(text: string): unknown {
  const source = stripComments(text.replace(/^\uFEFF/, ""));
  const parser = new Parser(source);
  parser.skipSpace();
  if (parser.done()) throw errorAt(source, 0, "the file is empty; it must hold a JSON object");
  const value = parser.value();
  parser.skipSpace();
  if (!parser.done()) parser.fail("unexpected text after the end of the config; remove it");
  return value;
}

class Parser {
  #i = 0;
  constructor(private readonly text: string) {}

  done(): boolean {
    return this.#i >= this.text.length;
  }

  skipSpace(): void {
    while (/[ \t\r\n]/.test(this.text[this.#i] ?? "")) this.#i++;
  }

  fail(message: string, at = this.#i): never {
    throw errorAt(this.text, at, message);
  }

  value(): unknown {
    this.skipSpace();
    const c = this.text[this.#i];
    if (c === undefined) this.fail("the file ends too early; a } or ] may be missing");
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return this.string();
    if (c === "-" || (c >= "0" && c <= "9")) return this.number();
    for (const [word, value] of [["true", true], ["false", false], ["null", null]] as const) {
      if (this.text.startsWith(word, this.#i)) {
        this.#i += word.length;
        return value;
      }
    }
    if (c === "'") this.fail("strings need double quotes, not single quotes");
    if (c === "}" || c === "]" || c === ",") this.fail(`expected a value before this ${c}`);
    this.fail("expected a value: a string in double quotes, a number, true, false, null, { or [");
  }

  object(): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    this.#i++;
    for (;;) {
      this.skipSpace();
      if (this.text[this.#i] === "}") break;
      if (this.text[this.#i] === "'") this.fail("keys need double quotes, not single quotes");
      if (this.text[this.#i] !== '"') this.fail(this.done() ? "the file ends inside an object; add }" : "expected a key in double quotes, or }");
      const keyAt = this.#i;
      const key = this.string();
      // JSON.parse keeps the last of two equal keys; a config author almost never means that.
      if (Object.hasOwn(result, key)) this.fail(`the key "${key}" appears twice in this object; keep one`, keyAt);
      this.skipSpace();
      if (this.text[this.#i] !== ":") this.fail(`expected : after the key "${key}"`);
      this.#i++;
      // defineProperty: a key named __proto__ is data here, not the object's prototype.
      Object.defineProperty(result, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.skipSpace();
      if (this.text[this.#i] === ",") this.#i++;
      else if (this.text[this.#i] !== "}") this.fail(this.done() ? "the file ends inside an object; add }" : "expected , or } after a value; is a comma missing?");
    }
    this.#i++;
    return result;
  }

  array(): unknown[] {
    const result: unknown[] = [];
    this.#i++;
    for (;;) {
      this.skipSpace();
      if (this.text[this.#i] === "]") break;
      result.push(this.value());
      this.skipSpace();
      if (this.text[this.#i] === ",") this.#i++;
      else if (this.text[this.#i] !== "]") this.fail(this.done() ? "the file ends inside a list; add ]" : "expected , or ] after a value; is a comma missing?");
    }
    this.#i++;
    return result;
  }

  string(): string {
    const start = this.#i;
    let out = "";
    this.#i++;
    for (;;) {
      const c = this.text[this.#i];
      if (c === undefined || c === "\n") this.fail("this string is never closed; add a \" at its end", start);
      if (c === '"') break;
      if (c < " ") this.fail("a string cannot hold a control character; write \\t or \\n instead");
      if (c !== "\\") {
        out += c;
        this.#i++;
        continue;
      }
      const escape = this.text[this.#i + 1];
      const simple: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };
      if (escape !== undefined && escape in simple) {
        out += simple[escape];
        this.#i += 2;
      } else if (escape === "u" && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.#i + 2, this.#i + 6))) {
        out += String.fromCharCode(parseInt(this.text.slice(this.#i + 2, this.#i + 6), 16));
        this.#i += 6;
      } else {
        this.fail("invalid escape in a string; a backslash is written \\\\");
      }
    }
    this.#i++;
    return out;
  }

  number(): number {
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.#i));
    if (!match) this.fail("invalid number; write digits, e.g. 2000");
    this.#i += match[0].length;
    if (/[0-9A-Za-z_.]/.test(this.text[this.#i] ?? "")) this.fail("invalid number; write digits, e.g. 2000, or quote a string");
    return Number(match[0]);
  }
}

function errorAt(text: string, offset: number, message: string): JsoncError {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return new JsoncError(line, column, message);
}
