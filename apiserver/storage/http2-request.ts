// A client HTTP/2 stream without Node 20's per-request deprecation wrappers.
//
// ClientHttp2Session.request() binds its connect callback with AsyncResource.prototype.bind, which since
// Node 20 gives every bound function an `asyncResource` accessor wrapped twice in util.deprecate (DEP0172).
// Nothing reads that accessor, yet building it costs more than the rest of request(): a loopback call (client
// and server in one process) took 165–194 µs of CPU with it and 111–125 µs without, and the API server makes
// one such call to etcd for every request it serves (its CPU per create at c=64 went from 1,208–1,235 to
// 1,085–1,130 µs, whole process, alternating runs).
//
// For the one synchronous call, bind is the same binding without the accessor: the callback still runs in
// the async context of the request (AsyncLocalStorage, async_hooks), which is what the binding is for. The
// original is put back before anything else can run, also when request() throws.
import { AsyncResource } from 'node:async_hooks';
import type http2 from 'node:http2';

/** AsyncResource.prototype.bind without the `asyncResource` and `length` properties of its result. */
export function plainBind(this: AsyncResource, fn: (...args: unknown[]) => unknown, thisArg?: unknown) {
  const resource = this;
  if (thisArg !== undefined) return (...args: unknown[]) => resource.runInAsyncScope(fn, thisArg, ...args);
  return function (this: unknown, ...args: unknown[]) {
    return resource.runInAsyncScope(fn, this, ...args);
  };
}

/** session.request(headers), with AsyncResource.bind's deprecated accessor left out for that call. */
export function requestStream(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders): http2.ClientHttp2Stream {
  // Whatever bind is now (Node's, or an instrumentation's wrapper of it) is what is put back.
  const current = AsyncResource.prototype.bind;
  AsyncResource.prototype.bind = plainBind as typeof current;
  try {
    return session.request(headers);
  } finally {
    AsyncResource.prototype.bind = current;
  }
}
