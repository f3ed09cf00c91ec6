-- wrk script for the GET workloads of scripts/bench: the request is wrk's
-- own (URL and -H headers); done() prints summary.lua's figures.
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local print_summary = dofile(here .. "summary.lua")

function done(summary, latency, requests)
  print_summary(summary, latency, 0)
end
