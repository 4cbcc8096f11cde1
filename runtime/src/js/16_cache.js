// isoproxy glue, part 16: the Workers Cache API, `caches.default` and
// `caches.open(name)` with match, put and delete, backed by the proxy's
// HTTP cache store. Semantics follow the hosted platform's
// (https://developers.cloudflare.com/workers/runtime-apis/cache/): GET
// only, put refuses 206 and `Vary: *` (as workerd does; a 304 is silently
// not stored), the stored lifetime comes
// from the response's Cache-Control/Expires, and a hit carries
// `cf-cache-status: HIT`.
"use strict";
(function () {
  const internal = globalThis.__internal;
  const ops = internal.ops;
  const { TypeError, Promise, String, Symbol, ObjectCreate, ObjectDefineProperty, StringPrototypeIndexOf } = internal.primordials;
  const { Request, Response } = globalThis;
  const glue = internal.cacheGlue;
  const MISS = "isoproxy:cache-miss";
  const kName = Symbol("cacheName");

  // Run op `id`; a miss resolves to `undefined`, a failure rejects.
  function settle(id) {
    return new Promise((resolve, reject) => {
      internal.onOp(id, (ok, value) => {
        if (ok) resolve(value);
        else if (value === MISS) resolve(undefined);
        else reject(new TypeError(`${value}`));
      });
    });
  }

  function toRequest(input) {
    return input instanceof Request ? input : new Request(input);
  }

  // https://developers.cloudflare.com/workers/runtime-apis/cache/#methods
  class Cache {
    constructor() { throw new TypeError("Illegal constructor"); }

    async match(request, options = undefined) {
      const req = toRequest(request);
      if (req.method !== "GET" && !options?.ignoreMethod) return undefined;
      const answer = await settle(ops.cache_match(this[kName], req.url));
      if (answer === undefined) return undefined;
      return glue.responseFromNative(answer[0], answer[1], answer[2], req.url, undefined);
    }

    async put(request, response) {
      const req = toRequest(request);
      if (req.method !== "GET") throw new TypeError("Cannot cache response to non-GET request.");
      if (!(response instanceof Response)) throw new TypeError("Cache.put: the second argument must be a Response.");
      if (response.status === 206) throw new TypeError("Cannot cache response to a range request (206 Partial Content).");
      const vary = response.headers.get("vary");
      if (vary !== null && StringPrototypeIndexOf(vary, "*") !== -1) throw new TypeError("Cannot cache response with 'Vary: *' header.");
      if (response.bodyUsed) throw new TypeError("Cache.put: the response body is already used.");
      const body = response[glue.kBody].isNull ? null : glue.bodyForRust(response[glue.kBody]);
      await settle(ops.cache_put(this[kName], req.url, response.status, glue.headersFlat(response[glue.kHeaders]), body));
      return undefined;
    }

    async delete(request, options = undefined) {
      const req = toRequest(request);
      if (req.method !== "GET" && !options?.ignoreMethod) return false;
      return await settle(ops.cache_delete(this[kName], req.url));
    }
  }
  internal.brand(Cache, "Cache");

  function newCache(name) {
    const c = ObjectCreate(Cache.prototype);
    ObjectDefineProperty(c, kName, { value: name });
    return c;
  }

  const defaultCache = newCache("");

  class CacheStorage {
    constructor() { throw new TypeError("Illegal constructor"); }
    get default() { return defaultCache; }
    // Named caches never share entries with the default one (whose name
    // is the empty string), not even `caches.open("")`.
    async open(name) { return newCache("/" + String(name)); }
  }
  internal.brand(CacheStorage, "CacheStorage");

  internal.defineGlobals({ Cache, CacheStorage, caches: ObjectCreate(CacheStorage.prototype) });
})();
