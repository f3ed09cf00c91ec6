-- The figures a wrk script of scripts/bench prints when the run is done,
-- one "NAME value" line each: ACK (answers that are not errors), NON_OK,
-- ERRORS (socket errors), DURATION_US, the latency percentiles P50_US,
-- P75_US, P90_US, P99_US and P999_US, and EXHAUSTED (threads that used up
-- their file of requests).  Loaded with dofile(); returns the printer.
return function(summary, latency, exhausted)
  local e = summary.errors
  io.write(string.format(
    "ACK %d\nNON_OK %d\nERRORS %d\nDURATION_US %d\nP50_US %d\nP75_US %d\n" ..
    "P90_US %d\nP99_US %d\nP999_US %d\nEXHAUSTED %d\n",
    summary.requests - e.status, e.status, e.connect + e.read + e.write + e.timeout,
    summary.duration, latency:percentile(50), latency:percentile(75),
    latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    exhausted))
end
