// isoproxy glue, part 13: URLPattern (https://urlpattern.spec.whatwg.org/).
// Rust (the `urlpattern` crate) parses the pattern into per-component
// regular expressions and canonicalizes what is matched; they are compiled
// and run here, as ECMAScript regular expressions.
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const { RegExp, String, TypeError, RegExpPrototypeExec } = internal.primordials;

  const COMPONENTS = ["protocol", "username", "password", "hostname", "port", "pathname", "search", "hash"];
  const INIT_MEMBERS = [...COMPONENTS, "baseURL"];

  // A URLPatternInput for the ops: a string, or the nine init members in
  // order (https://urlpattern.spec.whatwg.org/#dictdef-urlpatterninit).
  function toInput(input) {
    if (input === undefined || input === null) input = {};
    if (typeof input !== "object" && typeof input !== "function") return internal.primordials.StringPrototypeToWellFormed(String(input));
    const out = [];
    for (let i = 0; i < INIT_MEMBERS.length; i++) {
      const v = input[INIT_MEMBERS[i]];
      out[i] = v === undefined ? undefined : internal.primordials.StringPrototypeToWellFormed(String(v));
    }
    return out;
  }

  // https://urlpattern.spec.whatwg.org/#urlpattern
  class URLPattern {
    #parts;
    #hasRegExpGroups;
    constructor(input = undefined, baseURL = undefined, options = undefined) {
      // new URLPattern(input, options)
      if (baseURL !== undefined && baseURL !== null && typeof baseURL === "object") {
        options = baseURL;
        baseURL = undefined;
      }
      const ignoreCase = !!(options !== undefined && options !== null && options.ignoreCase);
      const parsed = ops.urlpattern_parse(toInput(input), baseURL === undefined ? undefined : String(baseURL), ignoreCase);
      this.#hasRegExpGroups = parsed[0];
      const parts = [];
      for (let i = 0; i < COMPONENTS.length; i++) {
        const source = parsed[2 + 3 * i];
        let regexp;
        try {
          regexp = new RegExp(source, ignoreCase ? "vi" : "v");
        } catch (e) {
          throw new TypeError(`Invalid URLPattern: the ${COMPONENTS[i]} pattern's regular expression is invalid: ${e.message}`);
        }
        parts[i] = { pattern: parsed[1 + 3 * i], regexp, names: parsed[3 + 3 * i] };
      }
      this.#parts = parts;
    }
    // https://urlpattern.spec.whatwg.org/#dom-urlpattern-test
    test(input = undefined, baseURL = undefined) {
      return this.#match(input, baseURL) !== null;
    }
    // https://urlpattern.spec.whatwg.org/#dom-urlpattern-exec
    exec(input = undefined, baseURL = undefined) {
      return this.#match(input, baseURL);
    }
    // https://urlpattern.spec.whatwg.org/#url-pattern-match
    #match(input, baseURL) {
      const values = ops.urlpattern_match_input(toInput(input), baseURL === undefined ? undefined : String(baseURL));
      if (values === null) return null;
      const results = [];
      for (let i = 0; i < COMPONENTS.length; i++) {
        const found = RegExpPrototypeExec(this.#parts[i].regexp, values[i]);
        if (found === null) return null;
        results[i] = found;
      }
      const inputs = [input === undefined ? {} : input];
      if (baseURL !== undefined) inputs[1] = String(baseURL);
      const out = { inputs };
      for (let i = 0; i < COMPONENTS.length; i++) {
        const groups = {};
        const names = this.#parts[i].names;
        for (let j = 0; j < names.length; j++) groups[names[j]] = results[i][j + 1];
        out[COMPONENTS[i]] = { input: values[i], groups };
      }
      return out;
    }
    get protocol() { return this.#parts[0].pattern; }
    get username() { return this.#parts[1].pattern; }
    get password() { return this.#parts[2].pattern; }
    get hostname() { return this.#parts[3].pattern; }
    get port() { return this.#parts[4].pattern; }
    get pathname() { return this.#parts[5].pattern; }
    get search() { return this.#parts[6].pattern; }
    get hash() { return this.#parts[7].pattern; }
    get hasRegExpGroups() { return this.#hasRegExpGroups; }
  }
  internal.brand(URLPattern, "URLPattern");
  internal.defineGlobals({ URLPattern });
})();
