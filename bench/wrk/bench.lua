-- wrk script for the benchmark: requests cycle through a file of paths (one per line),
-- optionally POSTing a JSON body whose "__N__" is replaced by a unique number per request;
-- done() writes the summary and latency percentiles as JSON to $BENCH_OUT.
--
--   BENCH_PATHS=paths.txt BENCH_OUT=out.json [BENCH_BODY=body.json BENCH_TOKEN=...] \
--     wrk -t1 -c4 -d10s -s bench/wrk/bench.lua http://127.0.0.1:8101

local paths = {}
local counter = 0
local body = nil
local prefix = os.getenv("BENCH_RUN") or "0"
local thread_no = 0

function setup(thread)
  thread_no = thread_no + 1
  thread:set("tid", thread_no)
end

function init(args)
  for line in io.lines(os.getenv("BENCH_PATHS")) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  local body_file = os.getenv("BENCH_BODY")
  if body_file and #body_file > 0 then
    local f = io.open(body_file, "r")
    body = f:read("*a")
    f:close()
    wrk.method = "POST"
    wrk.headers["Content-Type"] = "application/json"
  end
  local token = os.getenv("BENCH_TOKEN")
  if token and #token > 0 then
    wrk.headers["Authorization"] = "Token " .. token
  end
  counter = 0
end

function request()
  counter = counter + 1
  local path = paths[(counter - 1) % #paths + 1]
  if body then
    local unique = prefix .. "-" .. tostring(tid) .. "-" .. tostring(counter)
    return wrk.format(nil, path, nil, (body:gsub("__N__", unique)))
  end
  return wrk.format(nil, path)
end

function done(summary, latency, requests)
  local out = io.open(os.getenv("BENCH_OUT"), "w")
  local e = summary.errors
  out:write(string.format(
    '{"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "mean": %.1f, "p50": %d, "p90": %d, "p99": %d, "max": %d}}',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max))
  out:close()
end
