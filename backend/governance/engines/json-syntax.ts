/**
 * A small JSON/JSONC checker that reports where a document stops being valid. JSON.parse only
 * says "at position N" in some Node versions and never allows the comments and trailing commas
 * that tsconfig.json and friends use, so we walk the grammar ourselves.
 */
export interface JsonError {
  offset: number;
  message: string;
}

class JsonSyntaxError extends Error {
  constructor(
    readonly offset: number,
    message: string,
  ) {
    super(message);
  }
}

export function checkJson(text: string, options: { comments: boolean }): JsonError | undefined {
  let i = 0;

  const fail = (message: string, at = i): never => {
    throw new JsonSyntaxError(at, message);
  };

  const skip = (): void => {
    for (;;) {
      const ch = text[i];
      if (ch === ' ' || ch === '\t' || ch === '\n' || ch === '\r' || ch === '\uFEFF') {
        i++;
      } else if (options.comments && ch === '/' && text[i + 1] === '/') {
        while (i < text.length && text[i] !== '\n') i++;
      } else if (options.comments && ch === '/' && text[i + 1] === '*') {
        const end = text.indexOf('*/', i + 2);
        if (end === -1) fail('unterminated comment');
        i = end + 2;
      } else {
        return;
      }
    }
  };

  const describe = (at: number): string => (at >= text.length ? 'end of input' : `\`${text[at]}\``);

  const value = (): void => {
    skip();
    const ch = text[i];
    if (ch === '{') object();
    else if (ch === '[') array();
    else if (ch === '"') string();
    else if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) number();
    else {
      const word = ['true', 'false', 'null'].find((w) => text.startsWith(w, i));
      if (!word) fail(`unexpected ${describe(i)}, expected a value`);
      i += word?.length ?? 0;
    }
  };

  const object = (): void => {
    i++;
    skip();
    if (text[i] === '}') {
      i++;
      return;
    }
    for (;;) {
      skip();
      if (text[i] !== '"') fail(`unexpected ${describe(i)}, expected a property name in double quotes`);
      string();
      skip();
      if (text[i] !== ':') fail(`unexpected ${describe(i)}, expected \`:\``);
      i++;
      value();
      skip();
      if (text[i] === ',') {
        i++;
        skip();
        if (text[i] === '}') {
          if (!options.comments) fail('trailing comma');
          i++;
          return;
        }
        continue;
      }
      if (text[i] === '}') {
        i++;
        return;
      }
      fail(`unexpected ${describe(i)}, expected \`,\` or \`}\``);
    }
  };

  const array = (): void => {
    i++;
    skip();
    if (text[i] === ']') {
      i++;
      return;
    }
    for (;;) {
      value();
      skip();
      if (text[i] === ',') {
        i++;
        skip();
        if (text[i] === ']') {
          if (!options.comments) fail('trailing comma');
          i++;
          return;
        }
        continue;
      }
      if (text[i] === ']') {
        i++;
        return;
      }
      fail(`unexpected ${describe(i)}, expected \`,\` or \`]\``);
    }
  };

  const string = (): void => {
    const start = i;
    i++;
    for (;;) {
      const ch = text[i];
      if (ch === undefined || ch === '\n') fail('unterminated string', start);
      if (ch === '"') {
        i++;
        return;
      }
      if (ch === '\\') {
        const next = text[i + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) fail('invalid \\u escape');
          i += 6;
        } else if (next !== undefined && '"\\/bfnrt'.includes(next)) {
          i += 2;
        } else {
          fail('invalid escape');
        }
        continue;
      }
      if (ch !== undefined && ch < ' ') fail('control character in string');
      i++;
    }
  };

  const number = (): void => {
    const match = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!match) fail('invalid number');
    i += match?.[0].length ?? 0;
  };

  try {
    skip();
    if (i >= text.length) return { offset: i, message: 'empty document' };
    value();
    skip();
    if (i < text.length) fail(`unexpected ${describe(i)} after the end of the document`);
    return undefined;
  } catch (err) {
    if (err instanceof JsonSyntaxError) return { offset: err.offset, message: err.message };
    // Recursion depth: a document nested thousands of levels deep is not one we can vouch for.
    if (err instanceof RangeError) return { offset: i, message: 'nesting too deep to check' };
    throw err;
  }
}
