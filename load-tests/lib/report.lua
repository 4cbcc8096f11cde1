-- wrk script for the benchmark. Arguments after `--`:
--   1: request target (a path, or an absolute URI for forward proxies)
--   2: Host header value (empty: wrk's default, the URL's host:port)
--   3: one more header, "Name: value" (empty: none)
-- At the end it prints one line `WRKJSON {...}` that the harness parses.
function init(args)
  if args[1] and args[1] ~= "" then wrk.path = args[1] end
  if args[2] and args[2] ~= "" then wrk.headers["Host"] = args[2] end
  if args[3] and args[3] ~= "" then
    local name, value = args[3]:match("^([^:]+):%s*(.*)$")
    if name then wrk.headers[name] = value end
  end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read,
    e.write, e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
