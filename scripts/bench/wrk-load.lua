-- wrk's side of scripts/bench/load-client.ts: GET /demonstrations, one request path per line of $WRK_PATHS (already
-- URL-encoded), cycled in order. With $WRK_AMOUNT > 0 it stops after that many responses: it prints "amount reached"
-- (load-client.ts then sends SIGINT, since wrk's main thread would otherwise sleep out the -d duration) and times the
-- run to that response itself. Run with one thread (-t1), so the order and the count are exact. done() prints one
-- JSON line: counts, the run's µs, latency percentiles (µs), errors.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } wrk_timespec;
  int clock_gettime(int clock, wrk_timespec *t);
]]
local clock = ffi.new("wrk_timespec")
local function now_us()
  ffi.C.clock_gettime(1, clock) -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1e6 + tonumber(clock.tv_nsec) / 1e3
end

local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local amount = tonumber(os.getenv("WRK_AMOUNT") or "0")
local sent, answered, started = 0, 0, nil
-- Read from the main Lua state by done(): the thread's globals.
elapsed_us = 0

request = function()
  if started == nil then started = now_us() end
  sent = sent + 1
  return wrk.format("GET", paths[(sent - 1) % #paths + 1])
end

response = function(status, headers, body)
  answered = answered + 1
  if amount > 0 and answered == amount then
    elapsed_us = now_us() - started
    io.write("amount reached\n")
    io.flush()
    wrk.thread:stop()
  end
end

local threads = {}
setup = function(thread) threads[#threads + 1] = thread end

done = function(summary, latency, requests)
  local e = summary.errors
  local elapsed = threads[1]:get("elapsed_us")
  if elapsed == nil or elapsed == 0 then elapsed = summary.duration end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}\n',
    summary.requests, elapsed, latency:percentile(50), latency:percentile(99),
    e.connect, e.read, e.write, e.status, e.timeout))
end
