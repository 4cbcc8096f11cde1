-- wrk script for scale.py. Argument after `--`: "/w/0:N" spreads requests
-- over the paths /w/0 .. /w/N-1 (each thread starts at a random Worker and
-- walks through all of them); anything else is sent as a plain path.
-- Prints `WRKJSON {...}` at the end, like report.lua.
local reqs = {}
local idx = 0

function init(args)
  local spec = args[1] or "/"
  local n = tonumber(spec:match(":(%d+)$"))
  if n then
    for i = 0, n - 1 do reqs[#reqs + 1] = wrk.format("GET", "/w/" .. i) end
  else
    reqs[1] = wrk.format("GET", spec)
  end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16) % 100000)
  idx = math.random(#reqs) - 1
end

function request()
  idx = idx % #reqs + 1
  return reqs[idx]
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
