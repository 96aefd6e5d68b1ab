-- wrk script: walk a prepared request list, each entry used once across all threads and
-- connections, and report exact figures as one JSON line.
--
--   wrk -t T -c C -d D -s bench/wrk/walk.lua URL -- LIST OFFSET T
--
-- LIST has one request per line: METHOD <tab> PATH <tab> TOKEN <tab> BODY (BODY may be empty; a
-- body is sent as application/json). Thread t sends entries OFFSET + t, OFFSET + t + T, ... so no
-- two requests share an entry. Past the end the walk starts again from the top and counts
-- `wrapped`: harmless for a stateless server, a failed run for a stateful one (a second pay of an
-- invoice is a 400). done() prints "WRK_JSON {...}" with the request and status counts, the
-- latency percentiles in microseconds, and `next_offset`, where a following run must start.

local threads = {}
local next_tid = 0

function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
  table.insert(threads, thread)
end

-- Per-thread globals (done() reads them with thread:get, from the main Lua state).
offset, nthreads, issued, wrapped, statuses = 0, 1, 0, 0, {}
local list = {}

function init(args)
  offset = tonumber(args[2]) or 0
  nthreads = tonumber(args[3]) or 1
  for line in io.lines(args[1]) do
    if line ~= "" then list[#list + 1] = line end
  end
  if #list == 0 then error("empty request list: " .. tostring(args[1])) end
end

function request()
  local i = offset + tid + nthreads * issued
  issued = issued + 1
  if i >= #list then
    wrapped = wrapped + 1
    i = i % #list
  end
  local method, path, token, body = list[i + 1]:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
  local headers = { ["Authorization"] = "Bearer " .. token }
  if body == "" then
    body = nil
  else
    headers["Content-Type"] = "application/json"
  end
  return wrk.format(method, path, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local most, total_issued, total_wrapped, merged = 0, 0, 0, {}
  local start, stride = threads[1]:get("offset"), threads[1]:get("nthreads")
  for _, thread in ipairs(threads) do
    local n = thread:get("issued") or 0
    if n > most then most = n end
    total_issued = total_issued + n
    total_wrapped = total_wrapped + (thread:get("wrapped") or 0)
    for status, count in pairs(thread:get("statuses") or {}) do
      merged[status] = (merged[status] or 0) + count
    end
  end
  local counts = {}
  for status, count in pairs(merged) do
    counts[#counts + 1] = string.format('"%d": %d', status, count)
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
    '"latency_us": {"min": %d, "mean": %.1f, "max": %d, "stdev": %.1f, ' ..
    '"p50": %d, "p90": %d, "p99": %d, "p999": %d}, ' ..
    '"issued": %d, "wrapped": %d, "next_offset": %d, "threads": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.max, latency.stdev,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9),
    total_issued, total_wrapped, start + stride * most, #threads, table.concat(counts, ", ")))
end
